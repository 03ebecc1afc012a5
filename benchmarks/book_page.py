"""Reading one page of a bought 50 MiB book ÷ reading the same page of the plain file
(goal ≤ 2), and peak memory while paging through it (goal: independent of the book's size).

The book is a real content add-on: published (encrypted in 64 KiB chunks), bought over
loopback and opened with ``Product.open_content``. The plain file holds the same bytes and is
read with an open file object (seek + read). Both are read page by page (4 KiB pages) from
start to end, as a reader pages, and at random pages, as a search result jumps; each figure is
the median of several passes, alternating. Memory is Python's peak allocation (tracemalloc)
while paging through the whole book, for a 50 MiB and a 5 MiB book.
"""

from __future__ import annotations

import base64
import os
import random
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from common import bench_customer, buy_addon, product_with

from tollgate.runtime import Product
from tollgate.runtime.content import PAGE_SIZE
from tollgate.runtime.home import ClientHome
from tollgate.store.context import open_store
from tollgate.store.folder import StoreFolder
from tollgate.store.server import serve_in_thread

SIZES = {"big": 50 * 1024 * 1024, "small": 5 * 1024 * 1024}
PASSES, RANDOM_PAGES = 5, 2000


def book_text(size: int) -> bytes:
    return base64.encodebytes(os.urandom(size * 3 // 4 + 3))[:size]


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def peak_while_paging(home: Path, name: str) -> int:
    tracemalloc.start()
    with Product.open(name, home=home).open_content("book") as book:
        for n in range(book.pages()):
            book.page(n)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    os.environ.setdefault("TOLLGATE_MACHINE_ID", "benchmark-machine-0001")
    os.environ["TOLLGATE_BACKGROUND"] = "0"
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        books = {label: book_text(size) for label, size in SIZES.items()}
        plain_path = base / "plain-book.txt"
        plain_path.write_bytes(books["big"])
        ctx = open_store(StoreFolder.create(base / "store", name="bench"))
        names = {label: f"Reader-{label}" for label in SIZES}
        for label, name in names.items():
            ctx.publish(product_with(base / label, name, "book", {"book.txt": books[label]}))
        server = serve_in_thread(ctx)
        home = ClientHome(base / "customer")
        try:
            account, keys = bench_customer(server.url, home)
            for name in names.values():
                buy_addon(server.url, home, account, keys, name)
        finally:
            server.stop()
            ctx.close()

        product_big = Product.open(names["big"], home=home.root)
        product_big.has("book")  # the one-time unseal of K
        opening = timed(lambda: product_big.open_content("book").close())
        book = product_big.open_content("book")
        plain = plain_path.open("rb")
        pages = book.pages()
        assert book.page(pages // 2) == books["big"][pages // 2 * PAGE_SIZE :][:PAGE_SIZE]

        def plain_page(n: int) -> bytes:
            plain.seek(n * PAGE_SIZE)
            return plain.read(PAGE_SIZE)

        def every_page(read: Callable[[int], bytes]) -> Callable[[], None]:
            return lambda: [read(n) for n in range(pages)] and None

        jumps = random.Random(1).choices(range(pages), k=RANDOM_PAGES)

        def random_pages(read: Callable[[int], bytes]) -> Callable[[], None]:
            return lambda: [read(n) for n in jumps] and None

        results: dict[str, tuple[float, float]] = {}
        for label, pattern, count in (
            ("page after page", every_page, pages),
            ("random pages", random_pages, RANDOM_PAGES),
        ):
            ours, theirs = [], []
            for _ in range(PASSES):
                theirs.append(timed(pattern(plain_page)) / count)
                ours.append(timed(pattern(book.page)) / count)
            results[label] = (statistics.median(ours), statistics.median(theirs))
        book.close()
        plain.close()
        peaks = {label: peak_while_paging(home.root, name) for label, name in names.items()}

    print(f"book: {SIZES['big'] >> 20} MiB, {pages} pages of {PAGE_SIZE} bytes, 64 KiB chunks")
    print(f"opening the bought book (licence, key, header): {opening * 1e3:.2f} ms")
    for label, (ours, theirs) in results.items():
        print(
            f"{label}: {ours * 1e6:.1f} µs per page bought, {theirs * 1e6:.1f} µs plain; "
            f"ratio {ours / theirs:.2f} (goal <= 2)"
        )
    for label, peak in peaks.items():
        print(f"peak Python memory paging through the {SIZES[label] >> 20} MiB book: {peak:,} B")


if __name__ == "__main__":
    main()
