"""Properties of the small parsers: TUF target names, environments, the meter, the account
file and bounded JSON; and every name pattern matched whole (``$`` also matches before a
trailing newline, so each is ``\\A…\\Z`` and used with fullmatch)."""

from __future__ import annotations

import base64
import contextlib
import json
import re
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from property_strategies import deep, dumps, json_values, with_field

from tollgate.client.account import Account
from tollgate.client.errors import IntegrityFailure
from tollgate.crypto import IntegrityError, bounded_json
from tollgate.protocol.environment import FIELD_RE, TAG_RE, BadEnvironment, Environment
from tollgate.runtime.meter import Meter, open_meter, seal_meter
from tollgate.store.blobs import DIGEST_RE, BlobStore
from tollgate.store.tuf_routes import DOCUMENT_NAME, METADATA_NAME
from tollgate.wire.handoff import STORE_ID_RE
from tollgate.wire.targets import NAME_RE, file_target, parse_file_target, patch_target

names = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,20}\Z")
versions = st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3}){0,2}\Z")
paths = st.lists(
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=10).filter(
        lambda s: s not in (".", "..") and "/" not in s
    ),
    min_size=1,
    max_size=3,
).map("/".join)


@given(names, versions, st.none() | names, paths)
def test_a_file_target_reads_back(product: str, version: str, addon: str | None, path: str) -> None:
    named = parse_file_target(file_target(product, version, addon, path))
    assert (named.product, named.version, named.addon, named.path) == (
        product,
        version,
        addon,
        path,
    )


@given(names, versions, paths)
def test_a_patch_target_reads_back(product: str, version: str, path: str) -> None:
    named = parse_file_target(patch_target(product, version, "a" * 64, path))
    assert (named.patch_base, named.path) == ("a" * 64, path)


@given(st.text(max_size=200))
@example("MT/1.0/core/%FF")
@example("MT/1.0/core/..%2F..%2Fetc%2Fpasswd")
@example("MT/1.0/core/a%00b")
@example("MT\n/1.0/core/a")
def test_any_target_name_gives_only_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_file_target(text)


@pytest.mark.parametrize(
    "target",
    [
        "MT/1.0/core/..%2Fx",
        "MT/1.0/core/%2Fetc%2Fpasswd",
        "MT/1.0/core/a%2F%2Fb",
        "MT/1.0/core/a%0Ab",
        "MT/1.0/core/%FF",
        "MT\n/1.0/core/a",
        "MT/1.0\n/core/a",
        "MT/1.0/addon.dic2%0A/a",
        "MT/1.0/addon.dic2\n/a",
    ],
)
def test_odd_target_names_are_refused(target: str) -> None:
    with pytest.raises(ValueError):
        parse_file_target(target)


@pytest.mark.parametrize(
    ("pattern", "good"),
    [
        (NAME_RE, "dic2"),
        (STORE_ID_RE, "st_abc"),
        (TAG_RE, "cp311"),
        (FIELD_RE, "x86_64"),
        (DIGEST_RE, "a" * 64),
        (METADATA_NAME, "2.root.json"),
        (DOCUMENT_NAME, "a" * 64 + ".catalog.json"),
    ],
)
def test_every_name_pattern_is_matched_whole(pattern: re.Pattern[str], good: str) -> None:
    assert pattern.fullmatch(good) and pattern.match(good)
    for bad in (good + "\n", good + "\x00", "\n" + good, good + "\r\n"):
        assert pattern.match(bad) is None and pattern.fullmatch(bad) is None


def test_a_blob_digest_with_a_newline_is_refused(tmp_path: Any) -> None:
    with pytest.raises(ValueError):
        BlobStore(tmp_path).path("a" * 64 + "\n")


QUERY = Environment("linux", "6.1", "x86_64", "3.11.7", "cpython", frozenset({"cp311"})).query()


@given(st.lists(st.tuples(st.sampled_from(["os", "tag", "machine", "x"]), st.text(max_size=20))))
@example([("os", "linux\n")])
@example([("tag", "cp311\n")])
def test_any_query_gives_only_bad_environment(extra: list[tuple[str, str]]) -> None:
    with contextlib.suppress(BadEnvironment):
        Environment.from_query(QUERY + extra)


@pytest.mark.parametrize("pair", [("tag", "cp311\n"), ("python", "3.11.7\n")])
def test_an_environment_value_with_a_trailing_newline_is_refused(pair: tuple[str, str]) -> None:
    query = [p for p in QUERY if p[0] != pair[0]] + [pair]
    with pytest.raises(BadEnvironment):
        Environment.from_query(query)


@given(st.text(max_size=600))
def test_any_user_agent_gives_an_environment(agent: str) -> None:
    assert Environment.from_user_agent(agent).os in (
        "windows",
        "darwin",
        "android",
        "linux",
        "unknown",
    )


METER_KEY = bytes(32)


@given(st.dictionaries(st.text(max_size=8), st.integers(0, 2**40), max_size=3), st.integers(0, 99))
def test_a_sealed_meter_opens(uses: dict[str, int], generation: int) -> None:
    meter = Meter(None, generation, uses, dict(uses), {})
    assert (
        open_meter(METER_KEY, "st_a", "cu_b", seal_meter(METER_KEY, "st_a", "cu_b", meter)) == meter
    )


SEALED = json.loads(seal_meter(METER_KEY, "st_a", "cu_b", Meter()))


@given(json_values | with_field(SEALED))
@example({"format": 1, "nonce": "", "sealed": ""})
def test_any_meter_text_gives_only_integrity_error(value: Any) -> None:
    with contextlib.suppress(IntegrityError):
        open_meter(METER_KEY, "st_a", "cu_b", json.dumps(value))


def test_a_deeply_nested_meter_is_an_integrity_error() -> None:
    with pytest.raises(IntegrityError):
        open_meter(METER_KEY, "st_a", "cu_b", deep(100_000).decode())


ACCOUNT = {
    "store_id": "st_abc",
    "store_name": "Demo",
    "url": "http://127.0.0.1:8000",
    "customer_id": "cu_def",
    "root_fingerprint": "ab" * 32,
    "licence_key": base64.b64encode(bytes(32)).decode(),
}


def test_an_account_reads_back() -> None:
    assert Account.from_json(ACCOUNT).to_json() == ACCOUNT


@given(json_values | with_field(ACCOUNT))
@example(ACCOUNT | {"store_id": "st_abc\x00"})
def test_any_account_file_gives_only_integrity_failure(value: Any) -> None:
    with contextlib.suppress(IntegrityFailure):
        Account.from_json(value)


@given(st.binary(max_size=200))
@example(deep(100_000))
@example(b'{"a": 1, "a": 2}')
@example(b"NaN")
@example(b"1" * 5000)
def test_bounded_json_raises_only_bad_json(data: bytes) -> None:
    with contextlib.suppress(bounded_json.BadJSON):
        bounded_json.loads(data, max_size=1000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (deep(33), "nested deeper than 32"),
        (deep(100_000), "larger than"),
        (b"[" * 3000 + b"]" * 3000, "nested deeper than 32"),
        (b'{"a": 1, "a": 2}', "gives the key 'a' twice"),
        (b"[Infinity]", "Infinity"),
        (b"\xff", "not UTF-8"),
        (b"1" * 5000, "not JSON"),
    ],
)
def test_bounded_json_names_the_limit(data: bytes, message: str) -> None:
    with pytest.raises(bounded_json.BadJSON, match=message):
        bounded_json.loads(data, max_size=10_000)


def test_bounded_json_reads_what_json_reads() -> None:
    value = {"a": [1, {"b": None}], "c": "ü"}
    assert bounded_json.loads(dumps(value), max_size=100) == value
