"""The one HTTP Range a released file is served with (RFC 9110 section 14), checked before the
file response sees it: Starlette's own answers to a bad Range are plain text, not problems.

The download program asks for one range, ``bytes=FIRST-LAST``, to resume; a suffix
(``bytes=-N``) and an open end (``bytes=FIRST-``) are served too. Several ranges at once are
refused: nothing of Tollgate asks for them, and each is a chance to make the store do more
work than the file is worth.
"""

from __future__ import annotations

import re

from tollgate.store.services.errors import StoreError

_RANGE = re.compile(r"bytes=([0-9]{1,19})?-([0-9]{1,19})?")
SHAPES = "bytes=FIRST-LAST, bytes=FIRST- or bytes=-SUFFIX, once"


def check_range(header: str | None, size: int) -> None:
    """Refuse a Range the store will not serve for a file of ``size`` bytes: malformed (400)
    or outside the file (416, with ``Content-Range: bytes */SIZE`` as RFC 9110 has it)."""
    if header is None:
        return
    found = _RANGE.fullmatch(header.strip())
    if found is None or found.groups() == (None, None):
        raise StoreError("malformed_request", f"a Range is one range of bytes: {SHAPES}")
    first, last = (None if g is None else int(g) for g in found.groups())
    if first is not None and last is not None and last < first:
        raise StoreError("malformed_request", f"the Range ends before it starts ({header})")
    if (first is not None and first >= size) or (first is None and last == 0):
        raise StoreError(
            "range_not_satisfiable",
            f"the file has {size} bytes: {header} asks for none of them",
            headers={"Content-Range": f"bytes */{size}"},
        )
