"""print: MT's document printer, a per-use add-on. Renders a translation as a standalone HTML
page: the text on both sides and a word-by-word table, untranslated words marked."""

from __future__ import annotations

import datetime as dt
import pkgutil
from collections.abc import Sequence
from html import escape
from string import Template

_TEMPLATE = pkgutil.get_data(__name__, "page.html")
if _TEMPLATE is None:  # pragma: no cover - the file ships inside the add-on
    raise ImportError("mt_print: page.html is missing from the add-on")
PAGE = Template(_TEMPLATE.decode("utf-8"))


def render_html(source: str, pairs: Sequence[tuple[str, str | None]]) -> str:
    """The page for one translation; every piece of text is escaped."""
    rows = "\n".join(
        f'<tr><td>{escape(en)}</td><td class="{"" if ja is not None else "missing"}">'
        f"{escape(ja) if ja is not None else '(not translated)'}</td></tr>"
        for en, ja in pairs
        if ja != ""
    )
    japanese = " ".join(
        escape(ja) if ja is not None else f"[{escape(en)}]" for en, ja in pairs if ja != ""
    )
    missing = sum(ja is None for _, ja in pairs)
    return PAGE.substitute(
        source=escape(" ".join(source.split())),
        japanese=japanese,
        rows=rows,
        words=len(pairs),
        missing=missing,
        printed=dt.date.today().isoformat(),
    )
