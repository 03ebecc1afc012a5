"""Hypothesis strategies the property tests share: any JSON value, and a valid serialisation
with bytes flipped, inserted or deleted (what a damaged file or a hostile peer sends)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# Scalars a parser may meet in JSON: floats and integers beyond 2^53 included.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=25,
)


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    """``valid`` with one to four bytes flipped, inserted or deleted."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[at : at + draw(st.integers(1, 8))]
    return bytes(data)


@st.composite
def with_field(draw: st.DrawFn, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (a JSON object) with one top-level field replaced by any JSON value, or
    removed."""
    out = dict(doc)
    key = draw(st.sampled_from(sorted(out)))
    if draw(st.booleans()):
        del out[key]
    else:
        out[key] = draw(json_values)
    return out


def deep(depth: int, opener: str = "[", closer: str = "]") -> bytes:
    """JSON (or TOML array) text nested ``depth`` levels."""
    return (opener * depth + closer * depth).encode()


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()
