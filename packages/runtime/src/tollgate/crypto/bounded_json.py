"""JSON read from a file or a peer with explicit limits: size, nesting depth, and nothing a
Tollgate document never holds.

``json.loads`` alone accepts any size, recurses once per nesting level (a few thousand ``[``
raise ``RecursionError``, not ``ValueError``), reads ``NaN`` and ``Infinity``, and keeps the
last of two equal keys. Every parser of untrusted JSON goes through `loads`, which raises only
`BadJSON` (a ``ValueError``), with a message that says which limit was hit; callers turn it
into their own documented error. Standard library only (the runtime embeds it).
"""

from __future__ import annotations

import json
from typing import Any

# Deeper than any Tollgate document (a licence is 4 levels, an install list 6): far below the
# interpreter's recursion limit, so neither json nor canonical JSON can run out of stack.
MAX_DEPTH = 32


class BadJSON(ValueError):
    """Bytes that are not JSON within the limits asked for."""


def loads(data: bytes | str, *, max_size: int, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``data`` (UTF-8 when bytes): at most ``max_size`` bytes (characters,
    for text), nested at most ``max_depth`` levels, with no ``NaN``/``Infinity`` and no key
    given twice in an object."""
    if len(data) > max_size:
        raise BadJSON(f"it is larger than {max_size:,} bytes")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadJSON(f"it is not UTF-8 text (byte {exc.start})") from exc
    else:
        text = data
    try:
        value = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_no_duplicates)
    except RecursionError as exc:
        raise BadJSON(f"it is nested deeper than {max_depth} levels") from exc
    except BadJSON:
        raise
    except ValueError as exc:  # JSONDecodeError, and integers of more than 4300 digits
        raise BadJSON(f"it is not JSON: {exc}") from exc
    check_depth(value, max_depth)
    return value


def check_depth(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a value whose lists and objects nest deeper than ``max_depth`` (iteratively: a
    value built in memory may be deeper than any recursion could walk)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > max_depth:
            raise BadJSON(f"it is nested deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children)


def _no_constant(name: str) -> Any:
    raise BadJSON(f"it holds {name}, which JSON does not have")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise BadJSON(f"it gives the key {key[:40]!r} twice")
        doc[key] = value
    return doc
