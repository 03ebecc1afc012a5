"""Word-by-word translation with a basic list and, when licensed, the dic2 dictionary."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BASIC = Path(__file__).resolve().parent.parent / "data" / "basic.tsv"
WORD = re.compile(r"[A-Za-z']+")


def load_basic() -> dict[str, str]:
    pairs = (
        line.split("\t")
        for line in BASIC.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    return {en: ja for en, ja in pairs}


@dataclass
class Result:
    text: str
    missing: list[str]


def translate(
    text: str, basic: dict[str, str], extra: Callable[[str], str | None] | None = None
) -> Result:
    out: list[str] = []
    missing: list[str] = []
    for word in WORD.findall(text.lower()):
        ja = basic.get(word) or (extra(word) if extra else None)
        if ja is None:
            missing.append(word)
            out.append(f"[{word}]")
        else:
            out.append(ja)
    return Result(" ".join(out), missing)
