"""Whether a verified licence allows its add-on now: pure checks on facts passed in.

Nothing here reads a clock, a file or the OS: :func:`check_licence` takes the time, the time
mark (the latest trusted time this machine has seen, runtime/timemark.py), the OS release and
the uses already made, so every rule is tested with any clock. The order of the checks puts the
one the customer can act on first: a wrong clock before an expired lease.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tollgate.runtime.errors import (
    ClockMovedBack,
    LeaseExpired,
    LicenceExpired,
    OSReleaseChanged,
    OutsideAllowedHours,
    UsesExhausted,
)
from tollgate.wire.licence import Licence

# Clocks are corrected by a few seconds to minutes (NTP); a clock behind the mark by more than
# this has been moved back.
CLOCK_TOLERANCE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Facts:
    now: dt.datetime  # aware; its time zone is the one "hours" are read in (local time)
    mark: dt.datetime | None  # the latest trusted time seen here
    os_release: str
    uses: int  # uses of this add-on already recorded


def _hour_allowed(hour: int, start: int, end: int) -> bool:
    return start <= hour < end if start < end else hour >= start or hour < end


def check_licence(licence: Licence, facts: Facts) -> None:
    """Raise the :class:`~tollgate.runtime.errors.LicenceNotValid` that applies, if any."""
    what = f"{licence.product} add-on {licence.addon}"
    policy, now = licence.policy, facts.now
    floor = max(t for t in (facts.mark, licence.issued_at) if t is not None)
    if now < floor - CLOCK_TOLERANCE:
        raise ClockMovedBack(
            f"{what}: this computer's clock ({now:%Y-%m-%d %H:%M}) is behind a time it has "
            f"already seen ({floor.astimezone(now.tzinfo):%Y-%m-%d %H:%M}). Set the clock right "
            "and start again"
        )
    if now > licence.renew_by:
        raise LeaseExpired(
            f"{what}: the licence needed renewing by {licence.renew_by:%Y-%m-%d}. Go online "
            "and run `tollgate sync` (or start the program while online)"
        )
    if policy.not_after is not None and now >= policy.not_after:
        raise LicenceExpired(
            f"{what}: the licence expired on {policy.not_after:%Y-%m-%d %H:%M} UTC"
        )
    if policy.os_release is not None and policy.os_release != facts.os_release:
        raise OSReleaseChanged(
            f"{what} was bought for {policy.os_release}; this machine runs {facts.os_release}. "
            f"A new OS release needs a new purchase: tollgate buy {licence.product} "
            f"{licence.addon}"
        )
    if policy.hours is not None and not _hour_allowed(now.hour, *policy.hours):
        start, end = policy.hours
        raise OutsideAllowedHours(
            f"{what} runs from {start:02d}:00 to {end:02d}:00 (local time); it is now {now:%H:%M}"
        )
    if policy.uses is not None and facts.uses >= policy.uses:
        raise UsesExhausted(f"{what}: all {policy.uses} uses the licence allows are used")
