"""Properties of licences and signed documents: a licence signed reads back; any envelope, and
any body the right key signed, gives only the crypto layer's errors (canonical JSON is checked
before the signature, so a float or 2^53 is a SignatureError); canonical JSON and the policy
raise only ValueError."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import example, given
from hypothesis import strategies as st
from property_strategies import json_values, with_field

from tollgate.crypto import CryptoError, SignatureError, canonical
from tollgate.crypto.documents import sign_document, verify_document
from tollgate.wire.licence import LicensedFile, Policy, licence_body, parse_licence

KEY = Ed25519PrivateKey.from_private_bytes(bytes(32))
PUBLIC = KEY.public_key()
NOW = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)

policies = st.builds(
    Policy,
    not_after=st.none() | st.datetimes(timezones=st.just(dt.UTC)),
    hours=st.none() | st.tuples(st.integers(0, 23), st.integers(0, 23)),
    os_release=st.none() | st.text(min_size=1, max_size=20),
    uses=st.none() | st.integers(1, 2**53 - 1),
    per_use=st.none() | st.tuples(st.integers(1, 10_000), st.sampled_from(["USD", "JPY"])),
    offline_uses=st.none() | st.integers(1, 100),
)
files = st.builds(
    LicensedFile,
    path=st.text(min_size=1, max_size=30),
    stream_id=st.text(min_size=1, max_size=30),
    digest=st.text("0123456789abcdef", min_size=64, max_size=64),
    size=st.integers(0, 2**40),
    commitment=st.binary(min_size=32, max_size=32),
    wrapped_key=st.binary(min_size=40, max_size=40),
)


PERPETUAL = Policy()


def body(policy: Policy = PERPETUAL, licensed: list[LicensedFile] | None = None) -> dict[str, Any]:
    return licence_body(
        licence_id="li_1",
        store_id="st_abc",
        customer_id="cu_def",
        product="MT",
        addon="dic2",
        function="dictionary",
        revision=1,
        version="1.0.0",
        order_id="or_1",
        policy=policy,
        issued_at=NOW,
        counter=7,
        files=licensed or [],
    )


def parse(envelope: Any) -> None:
    with contextlib.suppress(CryptoError):
        parse_licence(envelope, PUBLIC, store_id="st_abc", customer_id="cu_def")


@given(policies, st.lists(files, max_size=3))
def test_a_signed_licence_reads_back(policy: Policy, licensed: list[LicensedFile]) -> None:
    licence = parse_licence(
        sign_document(body(policy, licensed), KEY), PUBLIC, store_id="st_abc", customer_id="cu_def"
    )
    assert licence.policy == policy
    assert licence.files == licensed
    assert licence.renew_by - licence.issued_at == dt.timedelta(days=14)


@given(json_values)
@example({"signed": {"a": 1.5}, "signatures": []})
@example({"signed": {"a": 2**53}, "signatures": []})
@example({"signed": {}, "signatures": 5})
def test_any_envelope_gives_only_crypto_errors(envelope: Any) -> None:
    parse(envelope)


@given(with_field(body()))
def test_any_signed_body_gives_only_crypto_errors(signed: dict[str, Any]) -> None:
    """The right key signed it, so the body's own checks run: only IntegrityError."""
    try:
        envelope = sign_document(signed, KEY)
    except ValueError:  # not canonical JSON: it cannot be signed at all
        envelope = {"signed": signed, "signatures": [{"keyid": "x", "sig": "AA=="}]}
    parse(envelope)


@given(with_field(body()["policy"]))
def test_any_policy_gives_only_value_error(raw: dict[str, Any]) -> None:
    with contextlib.suppress(ValueError):
        Policy.from_json(raw)


@given(json_values)
def test_canonical_json_raises_only_value_error(value: Any) -> None:
    with contextlib.suppress(ValueError):
        canonical.dumps(value)


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("value", [1.5, 2**53, -(2**53), float("nan"), nested(40)])
def test_a_body_canonical_json_refuses_is_a_signature_error(value: Any) -> None:
    with pytest.raises(SignatureError, match="not canonical JSON"):
        verify_document({"signed": body() | {"extra": value}, "signatures": []}, PUBLIC)


def test_nesting_beyond_the_bound_is_value_error_not_recursion() -> None:
    with pytest.raises(ValueError, match="nested deeper"):
        canonical.dumps(nested(50_000))


@pytest.mark.parametrize(
    "policy",
    [
        {"hours": "12"},
        {"hours": [1]},
        {"hours": [True, 3]},
        {"per_use": [1, "USD"]},
        {"per_use": {"amount": "1", "currency": "USD"}},
        {"uses": 1.0},
        {"uses": "3"},
        {"os_release": 22},
        {"not_after": 5},
        {"not_after": "2026-01-01T00:00:00"},
    ],
)
def test_a_policy_is_read_strictly(policy: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Policy.from_json(policy)
