"""The rest of a customer's life with a product: uninstalling it (what was bought stays bought)
and reading back what was paid, when, for what. Through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli import REG, tg
from test_money_moves import charges

from conftest import LiveStore, sqlite_only

# What this module tries is the command line's, not the database's: SQLite only.
database_url = pytest.fixture(sqlite_only, name="database_url")


def test_uninstall_keeps_what_was_bought_and_install_brings_it_back(
    store: LiveStore, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    assert tg(home, "register", store.url, *REG, "--card", "4242424242424242").returncode == 0
    assert tg(home, "buy", "MT", "dic2", "--yes").returncode == 0
    [installed] = json.loads(tg(home, "list", "--json").stdout)
    folder = Path(installed["path"])
    assert folder.is_dir()

    gone = tg(home, "uninstall", "MT")
    assert gone.returncode == 0, gone.stderr
    assert "Uninstalled MT 1.0.0" in gone.stdout and "Still yours: dic2" in gone.stdout
    assert not folder.exists() and json.loads(tg(home, "list", "--json").stdout) == []
    run = tg(home, "run", "MT", "--", "river")
    assert run.returncode == 2 and "not installed" in run.stderr
    twice = tg(home, "uninstall", "MT", "--json")
    assert twice.returncode == 2 and json.loads(twice.stdout)["error"]["exit"] == 2
    typo = tg(home, "uninstall", "Mt")
    assert typo.returncode == 2

    back = tg(home, "install", "MT")
    assert back.returncode == 0, back.stderr
    run = tg(home, "run", "MT", "--", "the", "old", "river")
    assert run.returncode == 0 and "古い 川" in run.stdout  # dic2 again, not bought again
    assert len(charges(store)) == 1
    owned = tg(home, "buy", "MT", "dic2")
    assert "already yours: nothing charged" in owned.stdout


def test_history_names_each_purchase_its_order_and_amount(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    empty = tg(home, "history")
    assert empty.returncode == 0 and "Nothing yet" in empty.stdout
    assert tg(home, "register", store.url, *REG, "--card", "4242424242424242").returncode == 0
    bought = json.loads(tg(home, "buy", "MT", "dic2", "--yes", "--json").stdout)["bought"]
    history = json.loads(tg(home, "history", "--json").stdout)
    buy = next(h for h in history if h["action"] == "buy")
    assert (buy["order_id"], buy["amount"], buy["currency"]) == (bought["order_id"], 300, "JPY")
    install = next(h for h in history if h["action"] == "install")
    assert install["amount"] is None and install["order_id"] is None
    shown = tg(home, "history").stdout
    line = next(line for line in shown.splitlines() if " buy " in line)
    assert bought["order_id"] in line and line.rstrip().endswith("300 JPY")
