"""What a storefront button asks the download program to do, and the ``tollgate://`` link that
carries it (DESIGN.md section 5; docs/protocol.md, "Hand-off").

A click on "Get" or "Buy" gives the browser either an install-list file (wire/install_list.py,
whose ``action`` and ``addon`` fields say what was clicked) or a link of this form:

    tollgate://install?store=st_0123456789abcdef&product=MT
    tollgate://buy?store=st_0123456789abcdef&product=MT&addon=dic2

A link or file is a *request*, never an authority: it names no URL to contact (the client talks
only to the store it registered with, through the root it pinned), no price and no file. What
will be installed and what it costs come from the store's TUF metadata, and the customer
confirms before anything is bought. So parsing is strict: one scheme, two actions, three known
parameters each given once, names that are plain target segments (matched whole: no trailing
newline, no control character); anything else is refused. `parse_link` raises only
`BadHandOff`, whatever the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit

from tollgate.wire.targets import NAME_RE

SCHEME = "tollgate"
ACTIONS = ("install", "buy")
STORE_ID_RE = re.compile(r"\Ast_[A-Za-z0-9]{1,64}\Z")  # \A…\Z: whole with match or fullmatch
MAX_LINK = 512


class BadHandOff(ValueError):
    """A link or install-list request that the download program will not act on."""


@dataclass(frozen=True)
class HandOff:
    """Install a product's core (``install``) or buy one of its add-ons (``buy``), which
    installs the core first when it is missing."""

    action: str
    store_id: str
    product: str
    addon: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.action, str) or self.action not in ACTIONS:
            raise BadHandOff(f"the action must be install or buy, not {str(self.action)[:20]!r}")
        if not isinstance(self.store_id, str) or not STORE_ID_RE.fullmatch(self.store_id):
            raise BadHandOff("the store id is not a store id")
        if not isinstance(self.product, str) or not NAME_RE.fullmatch(self.product):
            raise BadHandOff("the product name is not a product name")
        if (self.action == "buy") != (self.addon is not None):
            raise BadHandOff("buy names an add-on; install names none")
        if self.addon is not None and not (
            isinstance(self.addon, str) and NAME_RE.fullmatch(self.addon)
        ):
            raise BadHandOff("the add-on name is not an add-on name")

    def link(self) -> str:
        query = f"store={quote(self.store_id)}&product={quote(self.product)}"
        if self.addon is not None:
            query += f"&addon={quote(self.addon)}"
        return f"{SCHEME}://{self.action}?{query}"


def parse_link(url: str) -> HandOff:
    """Read a ``tollgate://`` link, refusing anything but the two forms above."""
    if len(url) > MAX_LINK:
        raise BadHandOff(f"the link is longer than {MAX_LINK} characters")
    if not url.isascii() or any(c.isspace() or ord(c) < 32 for c in url):
        raise BadHandOff("the link holds characters a link may not")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "tollgate://[": urllib reads a bracket as an IPv6 address
        raise BadHandOff(f"the link cannot be read as a URL: {exc}") from exc
    if parts.scheme != SCHEME:
        raise BadHandOff(f"not a {SCHEME}:// link")
    if parts.path not in ("", "/") or parts.fragment or "@" in parts.netloc:
        raise BadHandOff("the link has parts a tollgate link does not have")
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise BadHandOff("the link's query cannot be read") from exc
    params: dict[str, str] = {}
    for key, value in pairs:
        if key not in ("store", "product", "addon"):
            raise BadHandOff(f"the link has an unknown parameter {key[:20]!r}")
        if key in params:
            raise BadHandOff(f"the link gives {key} twice")
        params[key] = value
    if "store" not in params or "product" not in params:
        raise BadHandOff("the link must name the store and the product")
    return HandOff(parts.netloc, params["store"], params["product"], params.get("addon"))
