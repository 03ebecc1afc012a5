"""The runtime's licence rules, checked against clocks passed in (runtime/policy.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from tollgate.runtime.errors import (
    ClockMovedBack,
    LeaseExpired,
    LicenceExpired,
    LicenceNotValid,
    OSReleaseChanged,
    OutsideAllowedHours,
    UsesExhausted,
)
from tollgate.runtime.policy import Facts, check_licence
from tollgate.wire.licence import LEASE, Licence, Policy

ISSUED = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
JST = dt.timezone(dt.timedelta(hours=9))


PERPETUAL = Policy()


def licence(policy: Policy = PERPETUAL, issued: dt.datetime = ISSUED) -> Licence:
    return Licence(
        licence_id="lic_1",
        store_id="st_1",
        customer_id="cu_1",
        product="MT",
        addon="dic2",
        version="1.0.0",
        order_id="ord_1",
        policy=policy,
        issued_at=issued,
        renew_by=issued + LEASE,
        counter=1,
        files=[],
    )


def facts(
    now: dt.datetime,
    *,
    mark: dt.datetime | None = None,
    os_release: str = "debian 12",
    uses: int = 0,
) -> Facts:
    return Facts(now=now, mark=mark, os_release=os_release, uses=uses)


ALLOWED = [
    ("perpetual, a day later", Policy(), facts(ISSUED + dt.timedelta(days=1))),
    (
        "the clock a minute behind the mark",
        Policy(),
        facts(ISSUED, mark=ISSUED + dt.timedelta(minutes=1)),
    ),
    (
        "until, the last minute",
        Policy(not_after=ISSUED + dt.timedelta(days=3)),
        facts(ISSUED + dt.timedelta(days=3, minutes=-1)),
    ),
    (
        "night hours, 23:00 local",
        Policy(hours=(20, 8)),
        facts(dt.datetime(2026, 11, 2, 23, 0, tzinfo=JST)),
    ),
    (
        "night hours, 07:59 local",
        Policy(hours=(20, 8)),
        facts(dt.datetime(2026, 11, 2, 7, 59, tzinfo=JST)),
    ),
    ("day hours, 09:00", Policy(hours=(9, 17)), facts(dt.datetime(2026, 11, 2, 9, 0, tzinfo=JST))),
    ("same OS release", Policy(os_release="debian 12"), facts(ISSUED)),
    ("four of five uses made", Policy(uses=5), facts(ISSUED, uses=4)),
]

REFUSED: list[tuple[str, Policy, Facts, type[LicenceNotValid], str]] = [
    (
        "clock moved back a day",
        Policy(),
        facts(ISSUED + dt.timedelta(days=2), mark=ISSUED + dt.timedelta(days=3)),
        ClockMovedBack,
        "behind a time it has already seen",
    ),
    (
        "clock before the store issued the licence",
        Policy(),
        facts(ISSUED - dt.timedelta(hours=1)),
        ClockMovedBack,
        "Set the clock right",
    ),
    (
        "past renew_by",
        Policy(),
        facts(ISSUED + LEASE + dt.timedelta(seconds=1)),
        LeaseExpired,
        "tollgate sync",
    ),
    (
        "expired",
        Policy(not_after=ISSUED + dt.timedelta(days=3)),
        facts(ISSUED + dt.timedelta(days=3)),
        LicenceExpired,
        "expired on 2026-11-04",
    ),
    (
        "day time for a night licence",
        Policy(hours=(20, 8)),
        facts(dt.datetime(2026, 11, 2, 12, 0, tzinfo=JST)),
        OutsideAllowedHours,
        "from 20:00 to 08:00",
    ),
    (
        "17:00 for 9-17",
        Policy(hours=(9, 17)),
        facts(dt.datetime(2026, 11, 2, 17, 0, tzinfo=JST)),
        OutsideAllowedHours,
        "it is now 17:00",
    ),
    (
        "new OS release",
        Policy(os_release="debian 12"),
        facts(ISSUED, os_release="debian 13"),
        OSReleaseChanged,
        "new OS release needs a new purchase",
    ),
    ("all uses made", Policy(uses=5), facts(ISSUED, uses=5), UsesExhausted, "all 5 uses"),
]


@pytest.mark.parametrize(("case", "policy", "given"), ALLOWED, ids=[c[0] for c in ALLOWED])
def test_allowed(case: str, policy: Policy, given: Facts) -> None:
    check_licence(licence(policy), given)


@pytest.mark.parametrize(
    ("case", "policy", "given", "error", "says"), REFUSED, ids=[c[0] for c in REFUSED]
)
def test_refused(
    case: str, policy: Policy, given: Facts, error: type[LicenceNotValid], says: str
) -> None:
    with pytest.raises(error, match=says) as info:
        check_licence(licence(policy), given)
    assert info.value.reason == error.reason


def test_a_wrong_clock_is_named_before_an_expired_lease() -> None:
    """Moving the clock back is the one fix that must not be hidden behind another message."""
    with pytest.raises(ClockMovedBack):
        check_licence(
            licence(),
            facts(
                ISSUED + LEASE + dt.timedelta(days=1), mark=ISSUED + LEASE + dt.timedelta(days=5)
            ),
        )


def test_policy_round_trips_and_refuses_what_it_does_not_know() -> None:
    policy = Policy(
        not_after=ISSUED, hours=(20, 8), os_release="debian 12", uses=3, per_use=(20, "JPY")
    )
    assert Policy.from_json(policy.to_json()) == policy
    assert Policy.from_json({"kind": "perpetual"}) == Policy()  # licences before policies
    with pytest.raises(ValueError, match="unknown policy fields"):
        Policy.from_json({**policy.to_json(), "seats": 3})
    with pytest.raises(ValueError, match=r"0\.\.23"):
        Policy.from_json({"hours": [20, 24]})
    with pytest.raises(ValueError, match="no time zone"):
        Policy.from_json({"not_after": "2026-11-01T00:00:00"})
