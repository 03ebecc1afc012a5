"""A product's entry is called the way Python calls a console-script entry point: ``def main():``
reading ``sys.argv`` works, what it returns is the exit status (``sys.exit`` semantics), and
the older ``def main(argv)`` form still gets the arguments."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import REG, tg

from conftest import LiveStore, serving, write_tree

ENTRY = """
import sys


def main():
    print("argv", sys.argv)


def legacy(argv):
    print("given", argv)
    return 0


def fails():
    return "went wrong"


def exits():
    sys.exit(3)
"""


def product(where: Path, name: str, function: str) -> Path:
    manifest = f"""
[product]
name = "{name}"
version = "1.0.0"
summary = "Entry point {function}"

[core]
files = ["hello/*.py"]
entry = "hello.app:{function}"
"""
    return write_tree(
        where / name,
        {"tollgate.toml": manifest, "hello/__init__.py": "", "hello/app.py": ENTRY},
    )


@pytest.fixture
def entry_store(tmp_path: Path, database_url: str) -> Iterator[LiveStore]:
    products = [
        product(tmp_path / "src", name, function)
        for name, function in (
            ("Hello", "main"),
            ("Legacy", "legacy"),
            ("Fails", "fails"),
            ("Exits", "exits"),
        )
    ]
    with serving(tmp_path / "store", database_url, products) as live:
        yield live


def test_entries_are_called_like_console_scripts(entry_store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    registered = tg(home, "register", entry_store.url, *REG, "--card", "4242424242424242")
    assert registered.returncode == 0, registered.stderr
    for name in ("Hello", "Legacy", "Fails", "Exits"):
        assert tg(home, "install", name).returncode == 0

    hello = tg(home, "run", "Hello", "--", "a", "b")
    assert hello.returncode == 0, hello.stderr
    assert "argv ['Hello', 'a', 'b']" in hello.stdout
    legacy = tg(home, "run", "Legacy", "--", "a", "b")
    assert legacy.returncode == 0 and "given ['a', 'b']" in legacy.stdout
    fails = tg(home, "run", "Fails")
    assert fails.returncode == 1 and "went wrong" in fails.stderr
    exits = tg(home, "run", "Exits")
    assert exits.returncode == 3 and "Traceback" not in exits.stderr
