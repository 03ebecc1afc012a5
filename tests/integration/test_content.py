"""Reading a bought add-on's file page by page: only the chunks a read spans are decrypted,
each authenticated; a damaged chunk fails only the reads that touch it."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_purchase import purchase

from conftest import Customer, LiveStore
from tollgate.runtime import AddOnIntegrityError, AddOnNotLicensed, Product
from tollgate.runtime.content import PAGE_SIZE

BLOB = "addons/pro/tools_pro/blob.bin"


def test_pages_of_a_bought_file_decrypt_alone(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    tools = Product.open("Tools", home=customer.home.root)
    with pytest.raises(AddOnNotLicensed, match="tollgate buy Tools pro"):
        tools.open_content("pro", BLOB)
    purchase(store, customer, "Tools", "pro")
    plain = (tmp_path / "tools-src" / BLOB).read_bytes()
    tools = Product.open("Tools", home=customer.home.root)
    with pytest.raises(FileNotFoundError, match="several files: name one"):
        tools.open_content("pro")
    with tools.open_content("pro", BLOB) as book:
        assert book.size == len(plain) and book.pages() == -(-len(plain) // PAGE_SIZE)
        assert book.page(3) == plain[3 * PAGE_SIZE : 4 * PAGE_SIZE]
        assert book.read(65_530, 20) == plain[65_530:65_550]  # across a chunk boundary
        assert book.page(book.pages() - 1) == plain[(book.pages() - 1) * PAGE_SIZE :]
        assert book.read(len(plain), 10) == b""
    # A flipped byte in the third chunk: the first pages still read, the third chunk fails.
    vault = next(
        f.path
        for f in customer.home.state.files(customer.account.store_id, "Tools")
        if f.name == BLOB
    )
    data = bytearray(vault.read_bytes())
    data[-1000] ^= 1
    vault.write_bytes(bytes(data))
    with Product.open("Tools", home=customer.home.root).open_content("pro", BLOB) as book:
        assert book.page(0) == plain[:PAGE_SIZE]
        with pytest.raises(AddOnIntegrityError, match="chunk 2 failed authentication"):
            book.read(len(plain) - 10, 10)
