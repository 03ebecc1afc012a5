"""dic2: MT's large dictionary (a paid add-on, loaded from memory by tollgate.runtime)."""

from __future__ import annotations

import pkgutil

_DATA = pkgutil.get_data(__name__, "dictionary.tsv")
assert _DATA is not None
ENTRIES: dict[str, str] = dict(
    line.split("\t", 1)
    for line in _DATA.decode("utf-8").splitlines()
    if line and not line.startswith("#")
)


def lookup(word: str) -> str | None:
    return ENTRIES.get(word)


def size() -> int:
    return len(ENTRIES)
