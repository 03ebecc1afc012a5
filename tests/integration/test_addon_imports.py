"""Free add-ons and the import hook: a free add-on is installed openly with the core and opens
without a licence; `import <package>` of a paid add-on works once bought and otherwise raises
AddOnNotLicensed (an ImportError) naming what to buy."""

from __future__ import annotations

import importlib
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cli import tg
from test_purchase import purchase

from conftest import Customer, LiveStore, registered, serving, write_tree
from tollgate.runtime import AddOnNotLicensed, Product, codecache
from tollgate.runtime.loader import MemoryFinder
from tollgate.runtime.product import AddOnImporter
from tollgate.runtime.state import SCHEMA_VERSION, V1, ClientState

MANIFEST = """
[product]
name = "Plug"
version = "1.0.0"

[core]
files = ["plug/*.py"]
entry = "plug.main:main"

[[addon]]
name = "extra"
revision = 1
price = 0
currency = "JPY"
files = ["addons/extra/**"]

[[addon]]
name = "pro"
revision = 1
price = 500
currency = "JPY"
files = ["addons/pro/**"]
"""
MAIN = """
def main(argv):
    import plug_extra
    print("extra:", plug_extra.greeting())
    try:
        import plug_pro.engine
    except ImportError as exc:
        print("no pro:", exc)
    else:
        print("pro:", plug_pro.engine.power())
    return 0
"""


def plug_product(where: Path) -> Path:
    return write_tree(
        where,
        {
            "plug/main.py": MAIN,
            "addons/extra/plug_extra/__init__.py": "import pkgutil\n\ndef greeting():\n"
            "    return pkgutil.get_data(__name__, 'hello.txt').decode().strip()\n",
            "addons/extra/plug_extra/hello.txt": "hello from a free add-on\n",
            "addons/pro/plug_pro/__init__.py": "",
            "addons/pro/plug_pro/engine.py": "def power():\n    return 9000\n",
            "tollgate.toml": MANIFEST,
        },
    )


@pytest.fixture
def plug_store(tmp_path: Path, database_url: str) -> Iterator[LiveStore]:
    with serving(tmp_path / "store", database_url, [plug_product(tmp_path / "src")]) as live:
        yield live


@pytest.fixture
def user(plug_store: LiveStore, tmp_path: Path, machine_a: str) -> Iterator[Customer]:
    yield registered(plug_store, tmp_path / "home", products=("Plug",))
    for name in [m for m in sys.modules if m.startswith(("plug_extra", "plug_pro"))]:
        del sys.modules[name]
    sys.meta_path[:] = [
        f
        for f in sys.meta_path
        if not isinstance(f, AddOnImporter)
        and not (isinstance(f, MemoryFinder) and f.package.startswith("plug_"))
    ]


def test_a_free_addon_is_installed_openly_and_opens_without_a_licence(user: Customer) -> None:
    files = user.home.state.files(user.account.store_id, "Plug")
    extra = [f for f in files if f.addon == "extra"]
    assert {f.name for f in extra} == {
        "addons/extra/plug_extra/__init__.py",
        "addons/extra/plug_extra/hello.txt",
    }
    assert all(f.kind == "add-on" and f.licence_id is None and f.path.is_file() for f in extra)
    assert not any(f.addon == "pro" for f in files)  # paid: only once bought, in the vault
    plug = Product.open("Plug", home=user.home.root)
    assert plug.has("extra") and plug.check("extra") is None
    assert plug.import_module("extra").greeting() == "hello from a free add-on"
    with pytest.raises(ValueError, match="free"):
        plug.use("extra")


def test_import_of_a_paid_addon_names_what_to_buy_then_works_once_bought(
    plug_store: LiveStore, user: Customer
) -> None:
    Product.open("Plug", home=user.home.root).enable_imports()
    with pytest.raises(
        AddOnNotLicensed, match=r"Plug add-on 'pro' \(500 JPY\).*tollgate buy Plug pro"
    ):
        import plug_pro
    with pytest.raises(ImportError):  # the idiom for optional packages works unchanged
        import plug_pro.engine
    purchase(plug_store, user, "Plug", "pro")
    Product.open("Plug", home=user.home.root).enable_imports()
    import plug_pro.engine

    assert plug_pro.engine.power() == 9000
    assert plug_pro.engine.__spec__ is not None
    assert plug_pro.engine.__spec__.origin == "<tollgate>/Plug/pro/addons/pro/plug_pro/engine.py"
    import json  # other imports are not the hook's business

    assert json.dumps([1]) == "[1]"


def test_tollgate_run_lets_the_core_import_its_addons(
    plug_store: LiveStore, user: Customer
) -> None:
    before = tg(user.home.root, "run", "Plug")
    assert before.returncode == 0, before.stderr
    assert "extra: hello from a free add-on" in before.stdout
    assert "no pro: `import plug_pro` needs the Plug add-on 'pro' (500 JPY)" in before.stdout
    purchase(plug_store, user, "Plug", "pro")
    after = tg(user.home.root, "run", "Plug")
    assert "pro: 9000" in after.stdout, after.stderr


def test_a_state_from_the_previous_schema_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as conn:
        for statement in V1.split(";"):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO history (at, store_id, product, action, version, detail) "
            "VALUES ('2026-01-01', 'st', 'MT', 'install', '1.0.0', 'kept')"
        )
    state = ClientState(path)
    assert state.offers("st", "MT") == {} and state.uses() == []
    assert state.history()[0]["detail"] == "kept"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def _forget_plug_pro() -> None:
    for name in [m for m in sys.modules if m.startswith("plug_pro")]:
        del sys.modules[name]
    sys.meta_path[:] = [
        f for f in sys.meta_path if not (isinstance(f, MemoryFinder) and f.package == "plug_pro")
    ]


def test_compiled_code_is_kept_sealed_and_used_by_the_next_start(
    plug_store: LiveStore, user: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    purchase(plug_store, user, "Plug", "pro")
    compiled: list[str] = []

    def counting_compile(source: bytes, filename: str, *args: Any, **kwargs: Any) -> Any:
        compiled.append(filename.rsplit("/", 1)[-1])
        return compile(source, filename, *args, **kwargs)

    monkeypatch.setattr(codecache, "compile", counting_compile, raising=False)
    start = lambda: Product.open("Plug", home=user.home.root).import_module("pro")  # noqa: E731
    start()
    importlib.import_module("plug_pro.engine")
    assert sorted(compiled) == ["__init__.py", "engine.py"]
    caches = sorted(user.home.root.joinpath("vault").rglob("*.code"))
    assert len(caches) == 2
    assert all(b"power" not in p.read_bytes() for p in caches)  # sealed, not bytecode in clear

    _forget_plug_pro()
    compiled.clear()
    start()
    assert importlib.import_module("plug_pro.engine").power() == 9000
    assert compiled == []  # both modules came from the sealed cache

    # A damaged cache is not an error: the verified source is compiled again, and re-cached.
    damaged = {}
    for p in caches:
        data = p.read_bytes()
        damaged[p] = data[:-1] + bytes([data[-1] ^ 1])
        p.write_bytes(damaged[p])
    _forget_plug_pro()
    start()
    assert importlib.import_module("plug_pro.engine").power() == 9000
    assert sorted(compiled) == ["__init__.py", "engine.py"]
    assert all(p.read_bytes() != damaged[p] for p in caches)
    _forget_plug_pro()
