"""Properties of install lists: a list built reads back; any JSON value, or a valid list with a
field changed, gives only MalformedInstallList (store and wire side) and only IntegrityFailure
(client side, checked against signed targets, whatever their ``custom`` holds)."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from typing import Any, cast

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from property_strategies import json_values, with_field

from tollgate.client.errors import IntegrityFailure
from tollgate.client.install_list import verify_install_list
from tollgate.client.trust import StoreTrust
from tollgate.protocol.environment import Environment
from tollgate.wire import install_list
from tollgate.wire.handoff import HandOff
from tollgate.wire.install_list import Install, MalformedInstallList
from tollgate.wire.targets import file_target, release_target

STORE, PRODUCT, VERSION = "st_abc", "MT", "1.0.0"
DATA = b"print('hi')\n"
DIGEST = hashlib.sha256(DATA).hexdigest()
TARGET = file_target(PRODUCT, VERSION, None, "mt/cli.py")
ENTRY: dict[str, Any] = {
    "name": "mt/cli.py",
    "version": VERSION,
    "function": "core",
    "revision": 0,
    "encrypted": False,
    "compression": "none",
    "size": len(DATA),
    "environment": [],
    "parts": [{"length": len(DATA), "sha256": DIGEST}],
}
RELEASE: dict[str, Any] = {
    "kind": "release",
    "product": PRODUCT,
    "version": VERSION,
    "notes": "New",
    "entry": "mt.cli:main",
    "requires": [],
    "files": [{"target": TARGET, "environment": []}],
    "addons": [],
}
ENVIRONMENT = Environment("linux", "6", "x86_64", "3.11.7", "cpython", frozenset({"linux"}))


@dataclass
class Signed:
    """What a TUF target gives: path, length, hashes and an unchecked ``custom``."""

    path: str
    length: int
    hashes: dict[str, str]
    custom: Any


class FakeTrust:
    """The store's signed targets, as StoreTrust answers for them."""

    def __init__(self, release: Any = RELEASE, entry: Any = ENTRY) -> None:
        self.targets = {
            release_target(PRODUCT, VERSION): Signed("r", 1, {"sha256": "0" * 64}, release),
            TARGET: Signed(TARGET, len(DATA), {"sha256": DIGEST}, entry),
        }

    def target(self, path: str) -> Signed:
        if path not in self.targets:
            raise IntegrityFailure(f"the store's signed metadata does not list {path}")
        return self.targets[path]


def listed(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "store_id": STORE,
        "store_url": "http://127.0.0.1:8000",
        "product": PRODUCT,
        "version": VERSION,
        "release": release_target(PRODUCT, VERSION),
        "client_version": "0.1.0",
        "environment": ENVIRONMENT.to_json(),
        "notes": "New",
        "requires": [],
        "installs": [Install(TARGET, ENTRY)],
    }
    return install_list.build(**(fields | changes))


def verify(doc: Any, trust: FakeTrust | None = None) -> None:
    with contextlib.suppress(IntegrityFailure):
        verify_install_list(
            doc, cast(StoreTrust, trust or FakeTrust()), STORE, PRODUCT, ENVIRONMENT
        )


def test_the_fake_store_verifies_the_valid_list() -> None:
    verified = verify_install_list(
        listed(), cast(StoreTrust, FakeTrust()), STORE, PRODUCT, ENVIRONMENT
    )
    assert [f.name for f in verified.files] == ["mt/cli.py"]


names = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,10}\Z")
texts = st.text(min_size=1, max_size=30).filter(lambda t: t.isprintable())


@given(
    texts,
    st.lists(texts, max_size=3),
    st.none() | names.map(lambda a: HandOff("buy", STORE, PRODUCT, a)),
)
def test_a_list_built_reads_back(notes: str, requires: list[str], handoff: HandOff | None) -> None:
    doc = listed(notes=notes, requires=requires, handoff=handoff)
    parsed = install_list.parse(doc)
    assert parsed.notices == (notes,)
    assert parsed.requires == tuple(requires)
    assert parsed.installs == (Install(TARGET, ENTRY),)
    assert parsed.handoff == handoff


@given(json_values)
def test_any_json_gives_only_malformed_install_list(value: Any) -> None:
    with contextlib.suppress(MalformedInstallList):
        install_list.parse(value)


@given(with_field(listed()))
@example(listed() | {"format": True})
@example(listed() | {"store_id": "st_abc\n"})
@example(listed() | {"commands": [{"command": "notice", "text": "\x1b[2J"}]})
def test_a_list_with_any_field_changed_gives_only_its_errors(doc: dict[str, Any]) -> None:
    with contextlib.suppress(MalformedInstallList):
        install_list.parse(doc)
    verify(doc)


@given(st.data())
def test_any_command_changed_gives_only_integrity_failure(data: st.DataObject) -> None:
    doc = listed()
    commands = doc["commands"]
    at = data.draw(st.integers(0, len(commands) - 1))
    commands[at] = data.draw(with_field(commands[at]))
    verify(doc)


@given(with_field(RELEASE))
@example(RELEASE | {"requires": None})  # the escape: iterating None
@example(RELEASE | {"notes": ["x"]})
@example(RELEASE | {"files": None})
def test_any_signed_release_gives_only_integrity_failure(release: dict[str, Any]) -> None:
    verify(listed(), FakeTrust(release=release))


@given(json_values)
def test_any_signed_custom_gives_only_integrity_failure(custom: Any) -> None:
    verify(listed(), FakeTrust(release=custom))
    verify(listed(), FakeTrust(entry=custom))


def test_requires_null_in_the_signed_release_is_an_integrity_failure() -> None:
    with pytest.raises(IntegrityFailure, match="notes or requirements oddly"):
        verify_install_list(
            listed(),
            cast(StoreTrust, FakeTrust(release=RELEASE | {"requires": None})),
            STORE,
            PRODUCT,
            ENVIRONMENT,
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": True}, "format"),
        ({"product": "MT\x00"}, "U\\+0000"),
        ({"store_url": "x" * 20_000}, "1 to 16384"),
        ({"commands": [{"command": "require", "requirement": None}]}, "requirement"),
        ({"client": {"version": 3}}, "version"),
    ],
)
def test_fields_are_bounded_and_plain(change: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedInstallList, match=message):
        install_list.parse(listed() | change)
