"""Canonical JSON (RFC 8785, JCS) for what Tollgate signs and compares, with the standard
library only: core software verifies licences with nothing but ``cryptography`` installed.

Tollgate documents hold no floating-point numbers, so this is JCS without its number
formatting: integers are written in decimal and must be I-JSON safe (|n| ≤ 2^53 − 1); floats are
refused. Strings are written as ECMAScript's ``JSON.stringify`` writes them (which is what
``json.dumps`` with ``ensure_ascii=False`` does: short escapes for ``\\b \\t \\n \\f \\r``,
``\\u00xx`` for other control characters, everything else as UTF-8); a lone surrogate is
refused. Object keys are sorted by their UTF-16 code units. ``tests/unit/test_canonical.py``
checks it against the ``rfc8785`` package. Lists and objects nest at most ``MAX_DEPTH`` levels
(crypto/bounded_json.py): deeper is refused with ``ValueError``, never ``RecursionError``.
"""

from __future__ import annotations

from json.encoder import encode_basestring  # what json.dumps(s, ensure_ascii=False) calls
from typing import Any

from tollgate.crypto.bounded_json import MAX_DEPTH

MAX_SAFE_INTEGER = 2**53 - 1


def dumps(value: Any) -> bytes:
    """The canonical UTF-8 bytes of ``value``; ValueError for what JCS (or Tollgate) refuses."""
    out: list[str] = []
    _write(value, out, 0)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("a string holds a lone surrogate") from exc


def _utf16(key: str) -> bytes:
    """A key's UTF-16 code units, big-endian: sorting these bytes sorts the code units."""
    return key.encode("utf-16-be", "surrogatepass")


def _write(value: Any, out: list[str], depth: int) -> None:
    if isinstance(value, list | tuple | dict) and depth >= MAX_DEPTH:
        raise ValueError(f"lists and objects are nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        out.append({None: "null", True: "true", False: "false"}[value])
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} is outside the I-JSON range")
        out.append(str(int(value)))
    elif isinstance(value, str):
        out.append(encode_basestring(value))
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, depth + 1)
        out.append("]")
    elif isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ValueError("object keys must be strings")
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16)):
            if i:
                out.append(",")
            out.append(encode_basestring(key))
            out.append(":")
            _write(value[key], out, depth + 1)
        out.append("}")
    elif isinstance(value, float):
        raise ValueError("Tollgate documents hold no floating-point numbers")
    else:
        raise ValueError(f"{type(value).__name__} is not JSON")
