"""Properties of the hand-off: a link made is read back the same; any text, and any valid link
damaged, gives only BadHandOff; any file handed to ``tollgate open`` gives only UsageError."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from property_strategies import deep, dumps, json_values, mutated

from tollgate.client.errors import UsageError
from tollgate.client.handoff import read_handed
from tollgate.wire.handoff import BadHandOff, HandOff, parse_link

names = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,20}\Z")
store_ids = st.from_regex(r"\Ast_[A-Za-z0-9]{1,64}\Z")


@st.composite
def handoffs(draw: st.DrawFn) -> HandOff:
    if draw(st.booleans()):
        return HandOff("install", draw(store_ids), draw(names))
    return HandOff("buy", draw(store_ids), draw(names), draw(names))


@given(handoffs())
def test_a_link_made_is_read_back_the_same(handoff: HandOff) -> None:
    assert parse_link(handoff.link()) == handoff


@given(st.text(max_size=600))
@example("tollgate://[")  # urllib's "Invalid IPv6 URL", a ValueError, escaped
@example("tollgate://install]?store=st_a&product=MT")
@example("tollgate://install?store=st_abc%0A&product=MT")
def test_any_text_gives_only_bad_handoff(text: str) -> None:
    with contextlib.suppress(BadHandOff):
        parse_link(text)


@given(handoffs().flatmap(lambda h: mutated(h.link().encode())))
def test_a_damaged_link_gives_only_bad_handoff(data: bytes) -> None:
    with contextlib.suppress(BadHandOff):
        parse_link(data.decode("latin-1"))


@pytest.mark.parametrize(
    "link",
    [
        "tollgate://install?store=st_abc%0A&product=MT",  # $ matched before the newline
        "tollgate://install?store=st_abc&product=MT%0A",
        "tollgate://buy?store=st_abc&product=MT&addon=dic2%0A",
        "tollgate://buy?store=st_abc&product=MT&addon=dic2%00",
    ],
)
def test_a_trailing_newline_or_nul_in_a_name_is_refused(link: str) -> None:
    with pytest.raises(BadHandOff):
        parse_link(link)


def test_the_ipv6_bracket_is_a_bad_handoff_naming_it() -> None:
    with pytest.raises(BadHandOff, match="cannot be read as a URL"):
        parse_link("tollgate://[")


@pytest.mark.parametrize(
    "fields",
    [
        ("install", "st_abc\n", "MT", None),
        ("install", "st_abc", "MT\n", None),
        ("buy", "st_abc", "MT", "dic2\n"),
        ("install", "st_abc", 5, None),
        (None, "st_abc", "MT", None),
    ],
)
def test_a_handoff_refuses_names_that_are_not_whole(fields: tuple[object, ...]) -> None:
    with pytest.raises(BadHandOff):
        HandOff(*fields)  # type: ignore[arg-type]


def _read_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "list.tollgate"
        path.write_bytes(data)
        with contextlib.suppress(UsageError):
            read_handed(str(path))


@given(st.binary(max_size=300))
@example(deep(100_000))  # RecursionError from json.loads
@example(b"\xff\xfe")
@example(b'{"type": "install-list", "type": "install-list"}')
def test_any_handed_file_gives_only_usage_error(data: bytes) -> None:
    _read_file(data)


@given(json_values)
def test_any_json_handed_gives_only_usage_error(value: object) -> None:
    _read_file(dumps(value))


@pytest.mark.parametrize("argument", ["file://[", "file:///tmp/x%00y", "tollgate://["])
def test_odd_arguments_to_open_are_usage_errors(argument: str) -> None:
    with pytest.raises(UsageError):
        read_handed(argument)
