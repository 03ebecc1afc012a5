"""The three distributions, each installed alone from its wheel in a fresh virtual environment,
with no package index (every wheel from ``make dist``'s wheelhouse): the runtime's environment
holds exactly ``cryptography`` and what it needs and opens a bought add-on; the download
program's holds nothing of the server and registers, buys and runs against a store started
from the store wheel's own environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_purchase import purchase

from conftest import MACHINE_A, MT, Customer, LiveStore
from store_process import _wait_up, free_port
from wheels import PACKAGES, WHEELHOUSE, build_wheel

SERVER_ONLY = {"fastapi", "starlette", "sqlalchemy", "alembic", "uvicorn", "psycopg", "jinja2"}
RUNTIME_CLOSURE = {"tollgate-runtime", "cryptography", "cffi", "pycparser"}


@dataclass(frozen=True)
class Environment:
    root: Path

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    def distributions(self) -> set[str]:
        """The distributions installed here (canonical names)."""
        probe = (
            "import json; from importlib import metadata; "
            "print(json.dumps(sorted({d.metadata['Name'].lower().replace('_', '-') "
            "for d in metadata.distributions()})))"
        )
        done = subprocess.run([self.python, "-I", "-c", probe], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return set(json.loads(done.stdout))

    def tollgate(
        self, home: Path, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.root / "bin" / "tollgate"), *args],
            env=dict(
                os.environ,
                TOLLGATE_HOME=str(home),
                TOLLGATE_MACHINE_ID=MACHINE_A,
                COLUMNS="300",
            ),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if check:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three wheels of this checkout, in one folder."""
    where = tmp_path_factory.mktemp("wheels")
    for package in ("runtime", "client", "store"):
        build_wheel(PACKAGES / package, where)
    return where


def fresh(where: Path, built: Path, wheel_glob: str) -> Environment:
    """A virtual environment with nothing in it (not even pip), then the one wheel installed
    by the development environment's pip, from ``built`` and the wheelhouse alone."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    env = Environment(where)
    assert env.distributions() == set()
    (wheel,) = built.glob(wheel_glob)
    pip = [sys.executable, "-m", "pip", "--python", env.python, "install", "--isolated", "-q"]
    sources = ["--no-index", "--find-links", str(built), "--find-links", str(WHEELHOUSE)]
    done = subprocess.run(
        [*pip, *sources, "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return env


@pytest.fixture(scope="module")
def runtime_env(tmp_path_factory: pytest.TempPathFactory, built: Path) -> Environment:
    return fresh(tmp_path_factory.mktemp("envs") / "runtime", built, "tollgate_runtime-*.whl")


@pytest.fixture(scope="module")
def client_env(tmp_path_factory: pytest.TempPathFactory, built: Path) -> Environment:
    return fresh(tmp_path_factory.mktemp("envs") / "client", built, "tollgate-*.whl")


@pytest.fixture(scope="module")
def store_env(tmp_path_factory: pytest.TempPathFactory, built: Path) -> Environment:
    return fresh(tmp_path_factory.mktemp("envs") / "store", built, "tollgate_store-*.whl")


OPEN_ADDON = """
import sys
from tollgate.runtime import Product

mt = Product.open("MT", home=sys.argv[1])
assert mt.has("dic2")
print(mt.import_module("dic2").lookup("river"))
"""


def test_the_runtime_alone_is_cryptography_and_opens_a_bought_addon(
    runtime_env: Environment, store: LiveStore, customer: Customer
) -> None:
    assert runtime_env.distributions() == RUNTIME_CLOSURE
    purchase(store, customer)
    done = subprocess.run(
        [runtime_env.python, "-I", "-c", textwrap.dedent(OPEN_ADDON), str(customer.home.root)],
        env=dict(os.environ, TOLLGATE_MACHINE_ID=MACHINE_A),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "川"


VENDOR_PROJECT = """
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "mtview"
version = "1.0.0"
dependencies = ["tollgate-runtime==0.1.0"]

[project.scripts]
mtview = "mtview:main"
"""
VENDOR_MODULE = """
import sys
from tollgate.runtime import Product, TollgateRuntimeError


def main():
    try:
        mt = Product.open("MT")
    except TollgateRuntimeError as exc:
        return f"mtview: {exc}"
    if not mt.has("dic2"):
        return "mtview: dic2 is not bought"
    print(mt.import_module("dic2").lookup(sys.argv[1]))
"""


def test_a_vendors_own_application_runs_on_the_runtime_alone(
    runtime_env: Environment, store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    """docs/runtime.md section 10: an application of the vendor's, a wheel depending on
    tollgate-runtime only, with a console script, in the runtime's environment."""
    source = tmp_path / "mtview"
    source.mkdir()
    (source / "pyproject.toml").write_text(VENDOR_PROJECT)
    (source / "mtview.py").write_text(VENDOR_MODULE)
    wheel = build_wheel(source, tmp_path / "wheels")
    pip = [sys.executable, "-m", "pip", "--python", runtime_env.python, "install", "--isolated"]
    done = subprocess.run(
        [*pip, "-q", "--no-index", "--no-deps", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert runtime_env.distributions() == RUNTIME_CLOSURE | {"mtview"}
    script = str(runtime_env.root / "bin" / "mtview")

    def run(home: Path) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, TOLLGATE_HOME=str(home), TOLLGATE_MACHINE_ID=MACHINE_A)
        return subprocess.run([script, "river"], env=env, capture_output=True, text=True)

    nothing = run(tmp_path / "no-home")
    assert nothing.returncode == 1 and "MT is not installed" in nothing.stderr
    assert "Traceback" not in nothing.stderr
    purchase(store, customer)
    bought = run(customer.home.root)
    assert bought.returncode == 0, bought.stderr
    assert bought.stdout.strip() == "川"


@pytest.fixture
def wheel_store(store_env: Environment, tmp_path: Path) -> Iterator[str]:
    """A store made, stocked and served by the store wheel's environment."""
    folder = tmp_path / "store"
    store_env.tollgate(tmp_path, "store", "init", str(folder), "--name", "Wheel Store")
    store_env.tollgate(tmp_path, "store", "publish", str(folder), str(MT))
    port = free_port()
    serve = [str(store_env.root / "bin" / "tollgate"), "store", "serve", str(folder)]
    proc = subprocess.Popen(
        [*serve, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_the_download_program_alone_has_no_server_and_buys_from_a_wheel_store(
    client_env: Environment, store_env: Environment, wheel_store: str, tmp_path: Path
) -> None:
    installed = client_env.distributions()
    assert {"tollgate", "tollgate-runtime", "httpx", "tuf", "zstandard"} <= installed
    assert not installed & (SERVER_ONLY | {"tollgate-store"})
    assert {"tollgate-store", "fastapi", "sqlalchemy"} <= store_env.distributions()

    home = tmp_path / "home"
    vendor = client_env.tollgate(home, "store", "init", str(tmp_path / "x"), check=False)
    assert vendor.returncode == 2
    assert "pip install tollgate-store" in " ".join(vendor.stderr.split())
    assert "Traceback" not in vendor.stderr

    card = ["--card", "4242424242424242", "--expiry", "12/34", "--cvc", "123"]
    person = ["--name", "Taro", "--email", "taro@example.jp", "--country", "JP"]
    client_env.tollgate(home, "register", wheel_store, *person, *card, "--no-handler")
    client_env.tollgate(home, "install", "MT")
    bought = json.loads(client_env.tollgate(home, "buy", "MT", "dic2", "--yes", "--json").stdout)
    assert bought["bought"]["amount"] == 300 and bought["charged_now"] == 300
    ran = client_env.tollgate(home, "run", "MT", "--", "old", "river")
    assert "古い 川" in ran.stdout
