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


def _admin() -> Any:
    import psycopg

    plain = os.environ[PG_ENV].replace("postgresql+psycopg://", "postgresql://")
    try:
        return psycopg.connect(plain, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"{PG_ENV} is set but PostgreSQL cannot be reached: {exc}")


def _database_url(name: str) -> str:
    url = os.environ[PG_ENV].rsplit("/", 1)[0] + "/" + name
    return (
        url
        if url.startswith("postgresql+psycopg")
        else url.replace("postgresql://", "postgresql+psycopg://")
    )


def _create_database() -> str:
    name = "tollgate_test_" + secrets.token_hex(6)
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def _copy_database(template: str, name: str) -> None:
    """``name`` made anew as a copy of ``template`` (PostgreSQL's CREATE DATABASE TEMPLATE)."""
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def _drop_database(name: str) -> None:
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_database() -> Iterator[str]:
    name = _create_database()
    try:
        yield _database_url(name)
    finally:
        _drop_database(name)


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


@dataclass(frozen=True)
class StoreTemplate:
    """A store with MT and Tools published, made once per test process and copied for each
    test (folder, keys, blobs and database): publishing and migrating take two seconds, a copy
    a few milliseconds. ``database`` names the PostgreSQL template database, if any."""

    base: Path
    database: str | None

    @property
    def folder(self) -> Path:
        return self.base / "store"


def _make_template(base: Path, backend: str) -> StoreTemplate:
    tools = make_tools_product(base / "tools-src")
    database = None
    if backend == "sqlite":
        folder = StoreFolder.create(base / "store", name="Test Store")
    else:
        database = _create_database()
        folder = StoreFolder.create(
            base / "store", name="Test Store", database_url=_database_url(database)
        )
    ctx = open_store(folder)
    for source in (MT, tools):
        ctx.publish(source)
    ctx.close()  # a template database may have no connection open when it is copied
    return StoreTemplate(base, database)


@pytest.fixture(scope="session")
def store_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, StoreTemplate]]:
    made: dict[str, StoreTemplate] = {}
    yield made
    for template in made.values():
        if template.database is not None:
            _drop_database(template.database)


@pytest.fixture
def store(
    tmp_path: Path,
    database_url: str,
    store_templates: dict[str, StoreTemplate],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveStore]:
    """A store of its own with MT and Tools published (a copy of this process's template),
    served on loopback; Tools' sources in ``tmp_path / "tools-src"``."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgres"
    if backend not in store_templates:
        store_templates[backend] = _make_template(tmp_path_factory.mktemp("template"), backend)
    template = store_templates[backend]
    shutil.copytree(template.base / "tools-src", tmp_path / "tools-src")
    shutil.copytree(template.folder, tmp_path / "store")
    folder = StoreFolder(tmp_path / "store")
    if template.database is not None:
        name = database_url.rsplit("/", 1)[1]
        _copy_database(template.database, name)
        config = folder.config_path.read_text()
        folder.config_path.write_text(config.replace(template.database, name))
    ctx = open_store(folder, registrations_per_minute=1000)
    live = LiveStore(ctx, serve_in_thread(ctx, request_timeout=10.0), folder)
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
