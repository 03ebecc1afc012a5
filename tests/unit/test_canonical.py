"""tollgate.crypto.canonical against RFC 8785's examples and the ``rfc8785`` package (the
reference used before the runtime had to do without it)."""

from __future__ import annotations

import json
import random

import pytest
import rfc8785

from tollgate.crypto.canonical import MAX_SAFE_INTEGER, dumps


def test_rfc8785_section_3_2_3_sorting_by_utf16_code_units() -> None:
    """The RFC's own sorting example: code point order would put U+1F600 after U+FB33."""
    doc = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(dumps(doc)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert dumps(doc) == rfc8785.dumps(doc)


def test_string_escapes_match_ecmascript() -> None:
    text = '\u0000\u0008\t\n\u000b\u000c\r\u001f "\\/\u007f\u2028\u2029é€😀'
    assert dumps(text) == rfc8785.dumps(text)
    # short escapes, \u00xx for other controls, "/" DEL U+2028 U+2029 and the rest as UTF-8
    assert dumps(text) == (
        b'"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f \\"\\\\/\x7f' + "\u2028\u2029é€😀".encode() + b'"'
    )


def _random_value(rng: random.Random, depth: int = 0) -> object:
    alphabet = 'aZ09 "\\\n\t\u0001\u00e9\u20ac\ufb33\U0001f600\u2028'
    kind = rng.randrange(7 if depth < 4 else 4)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    if kind in (2, 3):
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
    if kind == 4:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 6))): _random_value(
            rng, depth + 1
        )
        for _ in range(rng.randrange(6))
    }


@pytest.mark.parametrize("seed", range(200))
def test_random_documents_match_the_reference(seed: int) -> None:
    value = _random_value(random.Random(seed))
    assert dumps(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [1.5, {"a": 0.1}, MAX_SAFE_INTEGER + 1, -(MAX_SAFE_INTEGER + 1), "\ud800", {1: "x"}, b"x"],
    ids=["float", "nested-float", "too-big", "too-small", "lone-surrogate", "int-key", "bytes"],
)
def test_refused(value: object) -> None:
    with pytest.raises(ValueError):
        dumps(value)
