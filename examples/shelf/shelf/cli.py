"""Shelf's command line, run by ``tollgate run Shelf -- list`` or ``-- read BOOK [--page N]``.

The books are the product's add-ons, as the store's signed release lists them; a book bought
here is opened with ``Product.open_content`` and decrypted one page at a time. A book with a
``<book>-trial`` add-on (free) can be read up to the end of its first chapter without buying.
"""

from __future__ import annotations

import argparse
import sys

from shelf.pages import page_count, page_text
from tollgate.runtime import AddOnNotLicensed, LicenceNotValid, Product
from tollgate.runtime.content import Content

TRIAL = "-trial"


class ShelfError(Exception):
    """A message for the reader, and the exit status that goes with it."""

    def __init__(self, message: str, status: int = 3) -> None:
        super().__init__(message)
        self.status = status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="Shelf", description="Read books page by page.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the books on sale, and which are yours")
    read = commands.add_parser("read", help="show one page of a book")
    read.add_argument("book")
    read.add_argument("--page", type=int, default=1, help="the page, from 1 (default 1)")
    return parser


def _books(product: Product) -> list[str]:
    return [o.addon for o in product.offers() if not o.addon.endswith(TRIAL)]


def _open(product: Product, book: str) -> tuple[Content, bool]:
    """The whole book if it may be read now, else its trial: (content, is the trial)."""
    offers = {o.addon: o for o in product.offers()}
    if book not in offers or book.endswith(TRIAL):
        raise ShelfError(f"There is no book called {book!r}: `Shelf list` shows the books", 2)
    try:
        return product.open_content(book), False
    except AddOnNotLicensed:
        pass
    except LicenceNotValid as exc:
        raise ShelfError(f"{book} cannot be opened now: {exc}") from exc
    if book + TRIAL not in offers:
        raise ShelfError(
            f"{book} is not bought: run `tollgate buy Shelf {book}` ({offers[book].terms})"
        )
    return product.open_content(book + TRIAL), True


def _title(product: Product, book: str) -> str:
    """The book's first line, from the book or its trial when either can be read."""
    offered = {o.addon for o in product.offers()}
    for name in (book, book + TRIAL):
        if name not in offered:
            continue
        try:
            content = product.open_content(name)
        except (AddOnNotLicensed, LicenceNotValid):
            continue
        with content:
            return content.read(0, 200).decode("utf-8", "replace").splitlines()[0]
    return book


def list_books(product: Product) -> None:
    books = _books(product)
    print(f"Shelf: {len(books)} book(s)")
    offers = {o.addon: o for o in product.offers()}
    for book in books:
        if product.has(book):
            status = "yours"
        else:
            trial = " (first chapter free)" if book + TRIAL in offers else ""
            status = f"{offers[book].terms}{trial}"
        print(f"  {book:<12} {_title(product, book):<42} {status}")


def read_page(product: Product, book: str, page: int) -> None:
    content, trial = _open(product, book)
    with content:
        pages = page_count(content)
        buy = f"`tollgate buy Shelf {book}`"
        if not 1 <= page <= pages:
            if trial and page > pages:
                raise ShelfError(f"The free trial ends on page {pages}: buy the book with {buy}")
            raise ShelfError(f"{book} has pages 1 to {pages}", 2)
        print(page_text(content, page - 1).rstrip())
        note = " of the free first chapter" if trial else ""
        print(f"\n— page {page} of {pages}{note} —")
        if trial and page == pages:
            print(f"The trial ends here. Read on with {buy}.")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    product = Product.open("Shelf")
    try:
        if args.command == "list":
            list_books(product)
        else:
            read_page(product, args.book, args.page)
    except ShelfError as exc:
        print(exc, file=sys.stderr)
        return exc.status
    return 0
