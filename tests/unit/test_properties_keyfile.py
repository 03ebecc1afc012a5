"""Properties of the key file: what seal_key writes reads back and opens; any bytes, any JSON,
and any damaged key file give only IntegrityError, and Argon2 parameters are bounded. Argon2
runs here with the smallest parameters the bounds allow (8 KiB, one pass, one lane)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from property_strategies import deep, dumps, json_values, mutated, with_field

from tollgate.crypto import CryptoError, IntegrityError
from tollgate.crypto.keyfile import (
    ARGON2_MAX_MEMORY,
    Argon2Params,
    Binding,
    KeyFile,
    password_key,
    seal_key,
    unseal_key,
)

TINY = Argon2Params(salt=b"s" * 16, memory_cost=8, iterations=1, lanes=1)
KEY = bytes(range(32))
MACHINE = "0123456789abcdef0123456789abcdef"


PASSWORD = "pw"


def sealed(binding: Binding, password: str | None, argon2: Argon2Params = TINY) -> bytes:
    if not binding.needs_password and binding is not Binding.NONE:
        password = None
    kf = seal_key(
        KEY,
        store_id="st_abc",
        customer_id="cu_def",
        binding=binding,
        machine_id=MACHINE,
        password=password,
        argon2=argon2,
    )
    return kf.to_bytes()


VALID = sealed(Binding.MACHINE_PASSWORD, PASSWORD)
VALID_DOC: dict[str, Any] = json.loads(VALID)


def parse_only(data: bytes) -> KeyFile | None:
    try:
        return KeyFile.from_bytes(data)
    except IntegrityError:
        return None


@given(
    st.sampled_from(list(Binding)),
    st.text(min_size=1, max_size=20),
    st.integers(1, 2),
)
def test_a_sealed_key_file_reads_back_and_opens(
    binding: Binding, password: str, lanes: int
) -> None:
    argon2 = Argon2Params(salt=b"t" * 16, memory_cost=8 * lanes, iterations=1, lanes=lanes)
    data = sealed(binding, password, argon2)
    kf = KeyFile.from_bytes(data)
    assert kf.to_bytes() == data
    pw = password_key(kf.argon2, password) if binding.needs_password else None
    assert unseal_key(kf, machine_id=MACHINE, password_key=pw) == KEY


def test_the_default_parameters_written_are_within_the_bounds() -> None:
    argon2 = Argon2Params(salt=b"x" * 16)
    assert argon2.problem() is None
    assert Argon2Params.from_json(argon2.to_json()) == argon2


@given(st.binary(max_size=400))
@example(b"0")
@example(b"null")
@example(b'"tollgate-keyfile/1"')
@example(deep(100_000))
@example(deep(5_000, '{"a":', "}"))
@example(b"\xff")
def test_any_bytes_give_only_integrity_error(data: bytes) -> None:
    parse_only(data)


@given(json_values)
def test_any_json_gives_only_integrity_error(value: object) -> None:
    parse_only(dumps(value))


@given(with_field(VALID_DOC))
def test_a_key_file_with_any_field_changed_gives_only_integrity_error(doc: dict[str, Any]) -> None:
    kf = parse_only(dumps(doc))
    if kf is not None:  # still well formed: opening it fails only as the crypto layer says
        with contextlib.suppress(CryptoError):
            unseal_key(kf, machine_id=MACHINE, password_key=b"p" * 32)


@given(mutated(VALID))
def test_a_damaged_key_file_gives_only_crypto_errors(data: bytes) -> None:
    kf = parse_only(data)
    if kf is not None:
        with contextlib.suppress(CryptoError):
            unseal_key(kf, machine_id=MACHINE, password_key=b"p" * 32)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("nonce", "", "nonce must be 12 bytes, not 0"),
        ("salt", "", "salt must be 32 bytes, not 0"),
        ("ciphertext", "", "ciphertext must be 16 to 1024 bytes"),
        ("nonce", 12, "nonce must be base64 text"),
        ("nonce", "é" * 16, "nonce is not base64"),  # found by atheris: a plain ValueError
        ("store_id", "st_abc\n", "store_id must be 1 to 200 printable"),
        ("customer_id", None, "customer_id must be"),
        ("binding", "telepathy", "binding must be one of"),
        ("argon2", None, "needs argon2"),
        ("extra", 1, "unknown field 'extra'"),
    ],
)
def test_each_malformed_field_is_named(field: str, value: object, message: str) -> None:
    doc = VALID_DOC | {field: value}
    with pytest.raises(IntegrityError, match=message):
        KeyFile.from_bytes(dumps(doc))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"memory_cost": 16 * 1024 * 1024}, "memory_cost must be 8 to 262144"),  # 16 GiB
        ({"memory_cost": ARGON2_MAX_MEMORY + 1}, "memory_cost must be"),
        ({"memory_cost": 4}, "memory_cost must be 8"),
        ({"memory_cost": 8, "lanes": 2}, "memory_cost must be 16"),
        ({"iterations": 1_000_000}, "iterations must be 1 to 10"),
        ({"iterations": 0}, "iterations must be 1 to 10"),
        ({"lanes": 0}, "lanes must be 1 to 16"),
        ({"lanes": 1 << 24}, "lanes must be 1 to 16"),
        ({"iterations": 3.0}, "whole numbers"),
        ({"iterations": True}, "whole numbers"),
        ({"salt": ""}, "argon2 salt must be 8 to 64 bytes long, not 0"),
        ({"salt": "AAAA"}, "argon2 salt must be 8 to 64 bytes long, not 3"),
        ({"pepper": 1}, "argon2 must hold"),
    ],
)
def test_argon2_parameters_read_from_a_file_are_bounded(
    change: dict[str, Any], message: str
) -> None:
    doc = VALID_DOC | {"argon2": VALID_DOC["argon2"] | change}
    with pytest.raises(IntegrityError, match=message):
        KeyFile.from_bytes(dumps(doc))
