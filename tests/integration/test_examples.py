"""The two example products, run as a customer runs them: `tollgate run` in a subprocess
against a store on loopback. MT: the free core names the words it cannot translate, dic2
(imported through the hook) fills them in, the per-use print add-on writes an HTML page and
each page is charged once. Shelf: books listed, a free first chapter, a bought book read page
by page from its encrypted file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from test_cli import tg

from conftest import MT, SHELF, LiveStore, registered, serving
from tollgate.store.db import SandboxCharge


@pytest.fixture
def examples_store(tmp_path: Path, database_url: str) -> Iterator[LiveStore]:
    with serving(tmp_path / "store", database_url, [MT, SHELF]) as live:
        yield live


@pytest.fixture
def home(examples_store: LiveStore, tmp_path: Path, machine_a: str) -> Path:
    registered(examples_store, tmp_path / "home", products=("MT", "Shelf"))
    return tmp_path / "home"


def ok(home: Path, *args: str) -> str:
    done = tg(home, *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def charges(store: LiveStore) -> list[tuple[int, str]]:
    with store.ctx.sessions() as s:
        rows = s.execute(
            select(SandboxCharge.amount, SandboxCharge.idempotency_key).where(
                SandboxCharge.status == "succeeded"
            )
        )
        return sorted((amount, key) for amount, key in rows)


SENTENCE = "The children went to the mountains and were reading books by the river"


def test_mt_core_names_missing_words_and_dic2_fills_them_in(home: Path) -> None:
    basic = ok(home, "run", "MT", "--", SENTENCE)
    assert "MT basic: `import mt_dic2` needs the MT add-on 'dic2' (300 JPY)" in basic
    assert "行った" in basic and "本" in basic  # "went" and "books" are in the basic list
    assert "5 word(s) not translated: children, mountains, reading, by, river" in basic

    ok(home, "buy", "MT", "dic2", "--yes")
    full = ok(home, "run", "MT", "--", SENTENCE)
    assert "MT with dic2 (" in full and "forms of 987 words)" in full
    for japanese in ("子供", "山", "読む", "川"):  # irregular plural, -s, -ing, headword
        assert japanese in full
    assert "not translated" not in full


def test_mt_print_is_charged_once_per_printed_page(
    examples_store: LiveStore, home: Path, tmp_path: Path
) -> None:
    page = tmp_path / "out" / "page.html"
    page.parent.mkdir()
    refused = tg(home, "run", "MT", "--", "--print", str(page), "<b>cat</b> & dog")
    assert refused.returncode == 3
    assert "needs the MT add-on 'print' (20 JPY per use): run `tollgate buy MT print`" in (
        refused.stderr
    )
    assert list(page.parent.iterdir()) == []

    ok(home, "buy", "MT", "print", "--yes")
    printed = ok(home, "run", "MT", "--", "--print", str(page), "<b>cat</b> & dog")
    assert f"Printed to {page}" in " ".join(printed.split())
    html = page.read_text(encoding="utf-8")
    assert "&lt;b&gt;cat&lt;/b&gt; &amp; dog" in html and "<b>cat" not in html
    assert '<td>cat</td><td class="">猫</td>' in html
    assert [p.name for p in page.parent.iterdir()] == ["page.html"]  # no temporary left

    uses = json.loads(ok(home, "usage", "--json"))
    assert (uses["queued"], len(uses["uses"])) == (1, 1)
    assert uses["uses"][0]["name"] == "print-html"
    ok(home, "sync")
    ok(home, "sync")  # sending again charges nothing more
    assert json.loads(ok(home, "usage", "--json"))["charged"] == {"JPY": 20}
    use_charges = [c for c in charges(examples_store) if c[1].startswith("use_")]
    assert [amount for amount, _ in use_charges] == [20]


def test_shelf_lists_books_offers_a_trial_chapter_and_reads_a_bought_book(
    examples_store: LiveStore, home: Path
) -> None:
    listing = " ".join(ok(home, "run", "Shelf", "--", "list").split())
    assert "Shelf: 2 book(s)" in listing
    assert "lighthouse The Keeper of Hoshizaki Light 800 JPY (first chapter free)" in listing
    assert "crane crane 500 JPY" in listing  # no trial: its title is unknown until bought

    first = ok(home, "run", "Shelf", "--", "read", "lighthouse")
    assert first.startswith("The Keeper of Hoshizaki Light\nA story in three chapters")
    assert "— page 1 of 2 of the free first chapter —" in first
    last = ok(home, "run", "Shelf", "--", "read", "lighthouse", "--page", "2")
    assert "rang against the rail like a bell." in last
    assert "The trial ends here. Read on with `tollgate buy Shelf lighthouse`" in last
    past = tg(home, "run", "Shelf", "--", "read", "lighthouse", "--page", "3")
    assert past.returncode == 3 and "The free trial ends on page 2" in past.stderr
    crane = tg(home, "run", "Shelf", "--", "read", "crane")
    assert crane.returncode == 3
    assert "crane is not bought: run `tollgate buy Shelf crane` (500 JPY)" in crane.stderr
    unknown = tg(home, "run", "Shelf", "--", "read", "atlas")
    assert unknown.returncode == 2 and "There is no book called 'atlas'" in unknown.stderr

    ok(home, "buy", "Shelf", "lighthouse", "--yes")
    assert "lighthouse The Keeper of Hoshizaki Light yours" in " ".join(
        ok(home, "run", "Shelf", "--", "list").split()
    )
    third = ok(home, "run", "Shelf", "--", "read", "lighthouse", "--page", "3")
    assert "— page 3 of 4 —" in third and "free" not in third.splitlines()[-1]
    assert (
        ok(home, "run", "Shelf", "--", "read", "lighthouse", "--page", "4")
        .rstrip()
        .endswith("wind the clockwork.\n\n— page 4 of 4 —")
    )
    vault = [p for p in (home / "vault").rglob("*") if p.is_file()]
    assert vault and all(b"clockwork" not in p.read_bytes() for p in vault)
