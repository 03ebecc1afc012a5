"""Word-by-word translation with the free basic word list and, when bought, dic2."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BASIC = Path(__file__).resolve().parent.parent / "data" / "basic.tsv"
WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")

Lookup = Callable[[str], str | None]


def load_basic() -> dict[str, str]:
    """The basic word list; an empty translation means "leave the word out" (articles)."""
    rows = (
        line.split("\t")
        for line in BASIC.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    return {english: japanese for english, japanese in rows}


@dataclass(frozen=True)
class Translation:
    source: str
    pairs: list[tuple[str, str | None]]  # each English word and its Japanese, None if unknown

    @property
    def text(self) -> str:
        return " ".join(ja if ja is not None else f"[{en}]" for en, ja in self.pairs if ja != "")

    @property
    def missing(self) -> list[str]:
        """The words nothing could translate, each once, in order."""
        return list(dict.fromkeys(en for en, ja in self.pairs if ja is None))


def translate(text: str, basic: dict[str, str], extra: Lookup | None = None) -> Translation:
    pairs: list[tuple[str, str | None]] = []
    for word in WORD.findall(text.lower()):
        found = basic.get(word)
        if found is None and extra is not None:
            found = extra(word)
        pairs.append((word, found))
    return Translation(text, pairs)
