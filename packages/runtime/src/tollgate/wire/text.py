"""Text from a store or a customer, made safe to show: what every printer and page applies.

Product summaries, release notes, add-on functions, error details and customers' names are
written by someone else. Shown to a person, none of it may move, colour or link the terminal,
or reorder what is read (bidirectional overrides, "Trojan Source"). Markup is the printer's
own business: the CLI prints with no markup at all (cli/output.py), the pages autoescape.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

# C0 and C1 controls but tab and newline; the bidirectional controls; zero-width space, line
# and paragraph separators and the byte-order mark (look-alike text). Zero-width (non-)joiners
# stay: scripts and emoji need them.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]"
)


# What no name, id or field given to a store may hold: C0 and C1 controls and DEL (NUL among
# them, which PostgreSQL cannot keep in text) and lone surrogates (which are not UTF-8 at all).
_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def unstorable(text: str) -> str | None:
    """``None`` when ``text`` holds nothing a name or field may not, else what it holds, in
    words: ``"U+0000, a control character"``."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    kind = "a lone surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
    return f"U+{ord(char):04X}, {kind}"


def clean(text: str) -> str:
    """``text`` without the characters that would move, colour or link the terminal."""
    return _CONTROLS.sub("", text)


def did_you_mean(wrong: str, names: Iterable[str]) -> str:
    """``"; did you mean 'MT'?"`` for the name closest to ``wrong`` (case aside), or ``""``."""
    by_folded = {n.casefold(): n for n in names}
    close = difflib.get_close_matches(wrong.casefold(), list(by_folded), n=1, cutoff=0.6)
    return f"; did you mean {clean(by_folded[close[0]])!r}?" if close else ""


def human_size(size: int) -> str:
    """A byte count as people read it, in powers of 1000 as pip and browsers show downloads:
    "512 bytes", "3.4 kB", "12.0 MB"."""
    if size < 1000:
        return f"{size:,} byte{'' if size == 1 else 's'}"
    units = ("kB", "MB", "GB", "TB")
    value, unit = size / 1000, 0
    while value >= 999.95 and unit < len(units) - 1:
        value, unit = value / 1000, unit + 1
    return f"{value:,.1f} {units[unit]}"
