"""Fixtures: a real store served on loopback, on SQLite and (when TOLLGATE_TEST_POSTGRES is
set) on a PostgreSQL database made for this run and dropped after it."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tollgate.client.account import Account
from tollgate.client.api import StoreAPI
from tollgate.client.install import install_product
from tollgate.client.registration import Registration, register
from tollgate.crypto.keyfile import Binding
from tollgate.runtime.home import ClientHome
from tollgate.store.context import StoreContext, open_store
from tollgate.store.folder import StoreFolder
from tollgate.store.server import RunningServer, serve_in_thread
from wheels import ClientDist, client_dist

# The property tests (tests/unit/test_properties_*.py): a bounded number of examples per test,
# so the suite stays fast; HYPOTHESIS_PROFILE=long (or any registered profile) to go further.
settings.register_profile(
    "suite",
    max_examples=150,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long", max_examples=5_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

ROOT = Path(__file__).resolve().parent.parent
MT = ROOT / "examples" / "mt"
SHELF = ROOT / "examples" / "shelf"
PG_ENV = "TOLLGATE_TEST_POSTGRES"
TOOLS_MANIFEST = """
[product]
name = "Tools"
version = "2.0.0"
summary = "Two add-ons at two prices"

[core]
files = ["tools/*.py"]
entry = "tools.main:main"

[[addon]]
name = "cheap"
revision = 1
price = 100
currency = "USD"
files = ["addons/cheap/**"]

[[addon]]
name = "pro"
revision = 1
price = 5000
currency = "USD"
files = ["addons/pro/**"]
"""


def make_tools_product(where: Path) -> Path:
    """A second product with a cheap and an expensive add-on (the 422 attack needs both)."""
    (where / "tools").mkdir(parents=True)
    (where / "tools" / "main.py").write_text("def main(argv):\n    return 0\n")
    for name in ("cheap", "pro"):
        pkg = where / "addons" / name / f"tools_{name}"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text(f"LEVEL = {name!r}\n")
        (pkg / "blob.bin").write_bytes(os.urandom(150_000))
    (where / "tollgate.toml").write_text(TOOLS_MANIFEST)
    return where


def release_of_mt(where: Path, version: str, *, notes: str = "", change: bool = True) -> Path:
    """A copy of examples/mt at ``version``; with ``change``, one core file differs."""
    shutil.copytree(MT, where, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = where / "tollgate.toml"
    text = manifest.read_text().replace('version = "1.0.0"', f'version = "{version}"')
    if notes:
        text = text.replace('notes = "First release', f'notes = "{notes}. First release')
    manifest.write_text(text)
    if change:
        with (where / "data" / "basic.tsv").open("a") as fh:
            fh.write(f"release\tリリース{version}\n")
    return where


def _postgres_database() -> Iterator[str]:
    import psycopg

    base = os.environ[PG_ENV]
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    name = "tollgate_test_" + secrets.token_hex(6)
    try:
        admin = psycopg.connect(plain, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"{PG_ENV} is set but PostgreSQL cannot be reached: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = base.rsplit("/", 1)[0] + "/" + name
    try:
        yield (
            url
            if url.startswith("postgresql+psycopg")
            else url.replace("postgresql://", "postgresql+psycopg://")
        )
    finally:
        with psycopg.connect(plain, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BACKENDS = ["sqlite"] + (["postgres"] if os.environ.get(PG_ENV) else [])


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from _postgres_database()


def sqlite_only(tmp_path: Path) -> str:
    """The store's database for a module that tests the command line or the pages, which no
    database changes: a module binds it as its ``database_url`` fixture, and runs once."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not os.environ.get(PG_ENV):
        pytest.skip(f"{PG_ENV} is not set: this scenario needs PostgreSQL")
    yield from _postgres_database()


@dataclass
class LiveStore:
    ctx: StoreContext
    server: RunningServer
    folder: StoreFolder

    @property
    def url(self) -> str:
        return self.server.url

    def api(self) -> StoreAPI:
        return StoreAPI(self.url)


def start_store(
    base: Path,
    database_url: str,
    products: list[Path],
    registrations_per_minute: int = 1000,
    part_size: int = 4 * 1024 * 1024,
    request_timeout: float = 10.0,
) -> LiveStore:
    folder = StoreFolder.create(
        base, name="Test Store", database_url=database_url, part_size=part_size
    )
    ctx = open_store(folder, registrations_per_minute=registrations_per_minute)
    for source in products:
        ctx.publish(source)
    return LiveStore(ctx, serve_in_thread(ctx, request_timeout=request_timeout), folder)


@contextmanager
def serving(
    base: Path, database_url: str, products: list[Path], **options: Any
) -> Iterator[LiveStore]:
    """A store with ``products`` published, served on loopback until the block ends."""
    live = start_store(base, database_url, products, **options)
    try:
        yield live
    finally:
        live.server.stop()
        live.ctx.close()


def write_tree(where: Path, files: dict[str, str]) -> Path:
    """A product's source folder: each relative path with its text."""
    for rel, text in files.items():
        (where / rel).parent.mkdir(parents=True, exist_ok=True)
        (where / rel).write_text(text)
    return where


@pytest.fixture
def store(tmp_path: Path, database_url: str) -> Iterator[LiveStore]:
    tools = make_tools_product(tmp_path / "tools-src")
    live = start_store(tmp_path / "store", database_url, [MT, tools])
    try:
        yield live
    finally:
        live.server.stop()
        live.ctx.close()


@pytest.fixture(scope="session")
def own_client(tmp_path_factory: pytest.TempPathFactory) -> ClientDist:
    """This checkout's download program and runtime as wheels, with every wheel they need (from
    ``make dist``'s wheelhouse): what a vendor gives ``tollgate store publish-client``."""
    return client_dist(tmp_path_factory.mktemp("client-dist"))


@pytest.fixture
def client_store(store: LiveStore, own_client: ClientDist) -> LiveStore:
    """The store, with this checkout's download program published (its installer works)."""
    store.ctx.publish_client(own_client.program, own_client.wheelhouse, own_client.requirements)
    return store


@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """No background syncs (a test that wants one turns it on) and a fixed OS release."""
    monkeypatch.setenv("TOLLGATE_BACKGROUND", "0")
    monkeypatch.setenv("TOLLGATE_OS_RELEASE", "testos 1")


@pytest.fixture(autouse=True)
def own_desktop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Desktop files (the hand-off registration writes) go to the test's own XDG folders, and
    no test has a screen to ask on."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return tmp_path


MACHINE_A = "machine-a-0000000000000000000001"
MACHINE_B = "machine-b-0000000000000000000002"


@pytest.fixture
def machine_a(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TOLLGATE_MACHINE_ID", MACHINE_A)
    return MACHINE_A


def card(number: str = "4242424242424242") -> Registration:
    return Registration("Hanako Yamada", "hanako@example.jp", "JP", number, 12, 2034, "123")


@dataclass
class Customer:
    home: ClientHome
    account: Account


def registered(
    store: LiveStore,
    home: Path,
    number: str = "4242424242424242",
    binding: Binding = Binding.MACHINE,
    password: str | None = None,
    products: tuple[str, ...] = ("MT", "Tools"),
) -> Customer:
    client_home = ClientHome(home)
    with store.api() as api:
        done = register(client_home, api, card(number), binding=binding, password=password)
        for name in products:
            install_product(client_home, api, done.account, name)
    return Customer(client_home, done.account)


@pytest.fixture
def customer(store: LiveStore, tmp_path: Path, machine_a: str) -> Customer:
    return registered(store, tmp_path / "home")


def copy_home(src: ClientHome, dest: Path) -> ClientHome:
    shutil.copytree(src.root, dest)
    return ClientHome(dest)
