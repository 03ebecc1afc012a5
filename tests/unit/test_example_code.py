"""The example products' own logic, without a store: Shelf's pages (every byte on exactly one
page, no line, word or character split) and dic2's English inflection."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from conftest import MT, SHELF

sys.path[:0] = [str(SHELF), str(MT / "addons")]

from mt_dic2.inflection import base_forms, inflected_forms  # noqa: E402
from shelf.pages import LOOKAHEAD, PAGE_BYTES, page_count, page_text  # noqa: E402


class Text:
    """A book in memory, counting the bytes read (a page must not read the whole book)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.size, self.read_bytes = data, len(data), 0

    def read(self, offset: int, length: int) -> bytes:
        self.read_bytes += length
        return self.data[offset : offset + length]


BOOKS = {
    "the lighthouse": (SHELF / "books" / "lighthouse.txt").read_bytes(),
    "lines": b"a short line\n" * 1000,
    "one long paragraph": b"word " * 2000,
    "japanese, no spaces": "日本語の文章です。".encode() * 1000,
    "a last word across a page end": b"ab " * 500 + b"c" * 1600,
    "blank lines": b"\n" * 4000,
    "one byte past a page": b"x" * PAGE_BYTES + b"\n",
    "tiny": b"hi",
}


def pages(book: Text) -> Iterator[str]:
    return (page_text(book, n) for n in range(page_count(book)))


@pytest.mark.parametrize("data", BOOKS.values(), ids=BOOKS.keys())
def test_pages_hold_every_byte_once_and_split_no_character(data: bytes) -> None:
    book = Text(data)
    texts = list(pages(book))
    assert "".join(texts).encode() == data  # decoding each page alone never failed
    assert all(texts), "no page is empty"


def test_pages_end_at_line_breaks_and_read_only_their_own_bytes() -> None:
    book = Text(BOOKS["lines"])
    texts = list(pages(book))
    assert len(texts) > 5 and all(t.endswith("\n") and t.startswith("a short") for t in texts)
    one = Text(BOOKS["lines"])
    page_text(one, 3)
    assert one.read_bytes <= PAGE_BYTES + 3 * (LOOKAHEAD + 1)


def test_a_page_past_the_end_is_an_index_error() -> None:
    book = Text(BOOKS["tiny"])
    assert page_count(book) == 1
    with pytest.raises(IndexError, match="page 2 is past the end"):
        page_text(book, 1)


def test_the_trial_is_the_books_first_chapter() -> None:
    book = (SHELF / "books" / "lighthouse.txt").read_text(encoding="utf-8")
    trial = (SHELF / "trial" / "lighthouse.txt").read_text(encoding="utf-8")
    assert book.startswith(trial) and book[len(trial) :].startswith("Chapter 2:")
    assert "Chapter 1:" in trial


@pytest.mark.parametrize(
    ("word", "part", "forms"),
    [
        ("book", "n", {"book", "books"}),
        ("city", "n", {"city", "cities"}),
        ("box", "n", {"box", "boxes"}),
        ("child", "n", {"child", "children"}),
        ("stop", "v", {"stop", "stops", "stopping", "stopped"}),
        ("open", "v", {"open", "opens", "opening", "opened"}),
        ("carry", "v", {"carry", "carries", "carrying", "carried"}),
        ("agree", "v", {"agree", "agrees", "agreeing", "agreed"}),
        ("die", "v", {"die", "dies", "dying", "died"}),
        ("write", "v", {"write", "writes", "writing", "wrote", "written"}),
        ("big", "a", {"big", "bigger", "biggest"}),
        ("happy", "a", {"happy", "happier", "happiest"}),
        ("good", "a", {"good", "better", "best"}),
        ("beautiful", "a", {"beautiful"}),
        ("often", "x", {"often"}),
    ],
)
def test_inflected_forms(word: str, part: str, forms: set[str]) -> None:
    assert set(inflected_forms(word, part)) == forms
    for form in forms - {word}:
        assert word in base_forms(form), form
