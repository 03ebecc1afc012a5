"""dic2: MT's large dictionary, a paid add-on that tollgate.runtime opens in memory.

About a thousand headwords with their part of speech; the inflected forms (plurals, verb
endings, comparatives, irregular forms) are derived when the add-on is imported, so that
"reading", "went" and "mice" find "read", "go" and "mouse".
"""

from __future__ import annotations

import pkgutil
from collections.abc import Callable, Mapping

from mt_dic2.inflection import base_forms, inflected_forms

_DATA = pkgutil.get_data(__name__, "dictionary.tsv")
if _DATA is None:  # pragma: no cover - the file ships inside the add-on
    raise ImportError("mt_dic2: dictionary.tsv is missing from the add-on")


def _entries(text: str) -> tuple[int, dict[str, str]]:
    """(headword count, every form → Japanese); a form keeps its first meaning. A line
    without a part of speech is taken as is, without inflected forms."""
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    entries: dict[str, str] = {}
    for english, japanese, *part in rows:
        for form in inflected_forms(english, part[0] if part else "x"):
            entries.setdefault(form, japanese)
    return len(rows), entries


HEADWORDS, ENTRIES = _entries(_DATA.decode("utf-8"))


def lookup(word: str) -> str | None:
    """The Japanese for an English word or any of its inflected forms, if known."""
    return ENTRIES.get(word)


def lookup_with(basic: Mapping[str, str]) -> Callable[[str], str | None]:
    """A lookup that also finds inflected forms of the core's basic words ("cats")."""

    def find(word: str) -> str | None:
        found = ENTRIES.get(word)
        if found is not None:
            return found
        return next((basic[b] for b in base_forms(word) if b in basic), None)

    return find


def size() -> int:
    """How many forms the dictionary knows."""
    return len(ENTRIES)
