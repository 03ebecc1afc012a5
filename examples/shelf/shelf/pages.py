"""A book's pages, each read on its own: only a page's bytes (and a little lookahead) are read,
so with an encrypted book only the one or two 64 KiB chunks under the page are decrypted.

A page is the lines that *start* within its span of ``PAGE_BYTES`` bytes (or, in text without
line breaks nearby, the words), so no page splits a line, a word or a UTF-8 character, and
each line is on exactly one page.
"""

from __future__ import annotations

from typing import Protocol

PAGE_BYTES = 1500
LOOKAHEAD = 200  # a line or word longer than this is split at a word or character
SPACE = b" \t\r\n"


class Readable(Protocol):
    """What a page needs: tollgate.runtime's ``Content`` (or anything with a size and reads)."""

    size: int

    def read(self, offset: int, length: int) -> bytes: ...


def page_count(book: Readable) -> int:
    spans = max(1, -(-book.size // PAGE_BYTES))
    # The last span is empty when the word that crosses into it runs to the end of the book.
    if spans > 1 and _boundary(book, (spans - 1) * PAGE_BYTES) >= book.size:
        return spans - 1
    return spans


def page_text(book: Readable, number: int) -> str:
    """Page ``number``, counted from 0."""
    if not 0 <= number < page_count(book):
        raise IndexError(f"page {number + 1} is past the end ({page_count(book)} pages)")
    start = number * PAGE_BYTES
    begin = _boundary(book, start)
    end = _boundary(book, start + PAGE_BYTES)
    return book.read(begin, end - begin).decode("utf-8")


def _boundary(book: Readable, at: int) -> int:
    """Where the first line (else word) starting at or after ``at`` begins, within the
    lookahead; else the first character boundary from ``at``. The book's start and end count
    as boundaries. A pure function of ``at``: the end of page n is the start of page n + 1."""
    if at <= 0 or at >= book.size:
        return max(0, min(at, book.size))
    data = book.read(at - 1, LOOKAHEAD + 1)  # the byte before says whether one starts at `at`
    line = data.find(b"\n")
    if 0 <= line < len(data) - 1:
        return at + line
    for i in range(1, len(data)):
        if data[i - 1] in SPACE and data[i] not in SPACE:
            return at - 1 + i
    if at - 1 + len(data) >= book.size:
        return book.size  # the rest of the book is the end of one word
    i = 1
    while i < len(data) and data[i] & 0xC0 == 0x80:  # a UTF-8 continuation byte
        i += 1
    return at - 1 + i
