"""The registration bootstrap: the page, the installer it serves, and what the installer does:
every wheel of the download program fetched from the store and checked, installed with no
package index; a damaged copy, a tampered download, a Python without pip, or a machine the
vendor published no wheel for installs nothing and says why."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from test_cli import tg

from conftest import LiveStore
from programs import CARD, PERSON, bootstrap, environment, installer_bytes, run_installer
from tollgate.client import __version__
from tollgate.client.desktop import handler_status
from wheels import ClientDist, windows_only

# A machine whose package index (and any other address) cannot be reached: every setting pip
# or urllib would honour points at a closed port on loopback, except the store itself.
NO_INDEX = {
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple/",
    "PIP_EXTRA_INDEX_URL": "http://127.0.0.1:9/more/",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "no_proxy": "127.0.0.1,localhost",
}
SERVER_ONLY = ("fastapi", "sqlalchemy", "uvicorn", "psycopg", "alembic", "starlette", "jinja2")


def test_bootstrap_page_shows_the_root_fingerprint_and_the_installer(
    client_store: LiveStore,
) -> None:
    store = client_store
    page = httpx.get(store.url + "/bootstrap")
    assert page.status_code == 200
    assert "script-src" not in page.headers["content-security-policy"]  # no script at all
    root = httpx.get(store.url + "/v1/tuf/1.root.json").content
    assert hashlib.sha256(root).hexdigest() in page.text
    data = installer_bytes(store)
    assert hashlib.sha256(data).hexdigest() in page.text
    assert data == installer_bytes(store)  # built deterministically: the page's hash holds
    assert 'href="/bootstrap"' in httpx.get(store.url + "/").text  # "Register" on the storefront

    with zipfile.ZipFile(io.BytesIO(data)) as pyz:
        setup = json.loads(pyz.read("setup.json"))
        assert pyz.read("root.json") == root
        names = pyz.namelist()
    assert {"tollgate/client/program.py", "tollgate/files.py", "packaging/tags.py"} <= set(names)
    assert not [n for n in names if n.startswith(("tollgate/store", "tollgate/web"))]
    assert (setup["store_url"], setup["store_id"]) == (store.url, store.ctx.store_id)
    assert setup["client_version"] == __version__
    pins = setup["release"]["requirements"]
    # the whole closure, dependencies of dependencies too, none of the server
    assert {"cryptography", "cffi", "httpx", "h11", "securesystemslib", "tollgate-runtime"} <= {
        pin.split("==")[0] for pin in pins
    }
    assert not {pin.split("==")[0] for pin in pins} & set(SERVER_ONLY)
    # every wheel named is a TUF target of the client role, with its signed length and hash
    with store.ctx.sessions() as s:
        listing = store.ctx.repository.latest(s, "client")
    assert listing is not None
    signed = {
        path.rsplit("/", 1)[1]: {"sha256": t.hashes["sha256"], "length": t.length}
        for path, t in listing.signed.targets.items()
    }
    assert setup["files"] == signed


def test_a_store_with_no_download_program_says_so(store: LiveStore) -> None:
    page = httpx.get(store.url + "/bootstrap")
    assert page.status_code == 404
    assert "publish-client" in page.text
    assert httpx.get(store.url + "/bootstrap/tollgate-setup.pyz").status_code == 404


def test_installer_installs_from_the_store_alone_registers_and_sets_up_the_hand_off(
    client_store: LiveStore, tmp_path: Path
) -> None:
    newcomer = bootstrap(client_store, tmp_path, env=NO_INDEX)
    launch = newcomer.launch()
    assert (launch["active"], launch["version"], launch["previous"]) == (
        "download1",
        __version__,
        None,
    )
    assert newcomer.slots() == ["download1"]
    assert newcomer.launcher.read_text().startswith(f"#!{sys.executable} -IS\n")
    slot = newcomer.program / "slots" / "download1"
    installed = {p.name.split("-")[0].lower() for p in slot.glob("*.dist-info")}
    assert {"tollgate", "tollgate_runtime", "cryptography", "httpx", "tuf"} <= installed
    assert not installed & set(SERVER_ONLY)
    assert not (slot / "tollgate" / "store").exists()
    fetched = sorted(p.name for p in (newcomer.program / "wheels").glob("*.whl"))
    assert fetched and all(name.endswith(".whl") for name in fetched)
    accounts = newcomer.run("catalog", "--json")
    assert accounts.returncode == 0, accounts.stderr
    assert "MT" in [p["name"] for p in json.loads(accounts.stdout)["products"]]
    # the program remembers the client folder it was installed for (--home): no variable needed
    assert launch["home"] == str(newcomer.home.resolve())
    plain = subprocess.run(
        [str(newcomer.launcher), "catalog", "--json"],
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert plain.returncode == 0, plain.stderr
    vendor = newcomer.run("store", "init", str(tmp_path / "a-store"))
    assert vendor.returncode == 2 and "pip install tollgate-store" in " ".join(
        vendor.stderr.split()
    )
    # the desktop now starts the installed program through its launcher
    status = handler_status()
    assert status.installed and status.default
    assert str(newcomer.launcher) in status.command
    assert "-m tollgate" not in status.command

    again = run_installer(
        tmp_path / "tollgate-setup.pyz", "--dir", str(newcomer.program), "--no-register"
    )
    assert again.returncode == 0, again.stderr
    assert "already installed" in again.stdout
    assert newcomer.launch() == launch


@pytest.fixture(scope="module")
def plain_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Python with pip and nothing of Tollgate, as a customer's machine has (the tests' own
    has the development install in its site-packages)."""
    where = tmp_path_factory.mktemp("plain") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    return str(where / "bin" / "python")


def test_the_installed_program_sends_uses_in_the_background_from_its_slot(
    client_store: LiveStore, tmp_path: Path, plain_python: str
) -> None:
    """Core software started by the launcher (no site-packages) asks for a background sync:
    the child runs the same program out of its slot, and the use is charged."""
    newcomer = bootstrap(client_store, tmp_path, python=plain_python)
    assert newcomer.run("install", "MT").returncode == 0
    bought = newcomer.run("buy", "MT", "print", "--yes")
    assert bought.returncode == 0, bought.stderr
    page = tmp_path / "page.html"
    used = newcomer.run(
        "run", "MT", "--", "--print", str(page), "old", "river", TOLLGATE_BACKGROUND="1"
    )
    assert used.returncode == 0, used.stderr
    deadline = time.monotonic() + 60
    while True:
        report = json.loads(newcomer.run("usage", "--json").stdout)
        if report["queued"] == 0 and report["uses"]:
            break
        assert time.monotonic() < deadline, f"no background sync sent the use: {report}"
        time.sleep(0.5)
    assert {u["status"] for u in report["uses"]} == {"charged"}


def test_a_tollgate_package_on_the_python_path_is_not_what_the_installer_runs(
    client_store: LiveStore, tmp_path: Path
) -> None:
    """A ``tollgate`` package earlier on the path (``PYTHONPATH``, a user site, a stale
    install) would take the whole namespace: the installer runs isolated instead."""
    shadow = tmp_path / "shadow" / "tollgate"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise SystemExit("the shadow package ran")\n')
    newcomer = bootstrap(
        client_store, tmp_path / "customer", env={"PYTHONPATH": str(shadow.parent)}
    )
    assert newcomer.running_version() == __version__


def _rewritten(pyz: bytes, member: str, change: object) -> bytes:
    good = zipfile.ZipFile(io.BytesIO(pyz))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as bad:
        for name in good.namelist():
            body = good.read(name)
            bad.writestr(name, change(body) if name == member else body)  # type: ignore[operator]
    return out.getvalue()


def _lie_about_a_wheel(field: str, value: object) -> object:
    def change(setup: bytes) -> bytes:
        doc = json.loads(setup)
        name = next(n for n in doc["files"] if n.startswith("httpx-"))
        doc["files"][name][field] = value
        return json.dumps(doc).encode()

    return change


@pytest.mark.parametrize(
    ("member", "change", "why"),
    [
        ("root.json", lambda b: b.replace(b'"version":1', b'"version":2', 1), "not the one"),
        ("setup.json", lambda b: b"[]", "damaged"),
        ("setup.json", _lie_about_a_wheel("length", 1000), "not the file this installer names"),
        ("setup.json", _lie_about_a_wheel("sha256", "0" * 64), "no longer offers httpx"),
    ],
)
def test_damaged_installer_installs_nothing(
    client_store: LiveStore, tmp_path: Path, member: str, change: object, why: str
) -> None:
    pyz = tmp_path / "bad.pyz"
    pyz.write_bytes(_rewritten(installer_bytes(client_store), member, change))
    program = tmp_path / "program"
    done = run_installer(pyz, "--dir", str(program), *PERSON, *CARD)
    assert done.returncode == 4, (done.stdout, done.stderr)
    assert why in done.stderr
    assert not (program / "launcher.json").exists() and not (program / "slots").exists()


def test_a_wheel_tampered_on_the_store_installs_nothing(
    client_store: LiveStore, tmp_path: Path
) -> None:
    with client_store.ctx.sessions() as s:
        listing = client_store.ctx.repository.latest(s, "client")
    assert listing is not None
    target = next(t for p, t in listing.signed.targets.items() if "/cryptography-" in p)
    blob = client_store.ctx.repository.blobs.path(target.hashes["sha256"])
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 1
    blob.write_bytes(bytes(data))
    pyz = tmp_path / "tollgate-setup.pyz"
    pyz.write_bytes(installer_bytes(client_store))
    program = tmp_path / "program"
    done = run_installer(pyz, "--dir", str(program), *PERSON, *CARD)
    assert done.returncode == 4, done.stderr
    assert "cryptography-" in done.stderr and "nothing was installed" in done.stderr
    assert not (program / "launcher.json").exists()


def test_installer_on_a_python_without_pip_says_so(client_store: LiveStore, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    pyz = tmp_path / "tollgate-setup.pyz"
    pyz.write_bytes(installer_bytes(client_store))
    program = tmp_path / "program"
    done = run_installer(
        pyz, "--dir", str(program), *PERSON, *CARD, python=str(bare / "bin" / "python")
    )
    assert done.returncode == 2, done.stderr
    assert "has no pip" in done.stderr
    assert not (program / "launcher.json").exists()


def test_a_machine_the_vendor_published_no_wheel_for_is_told_what_is_missing(
    store: LiveStore, own_client: ClientDist, tmp_path: Path
) -> None:
    """zstandard published for Windows only: this Linux machine has no wheel to install."""
    windows = windows_only(own_client, tmp_path / "windows")
    store.ctx.publish_client(windows.program, windows.wheelhouse, windows.requirements)
    version = windows.requirements.read_text().split("zstandard==")[1].split()[0]
    pyz = tmp_path / "tollgate-setup.pyz"
    pyz.write_bytes(installer_bytes(store))
    program = tmp_path / "program"
    done = run_installer(pyz, "--dir", str(program), *PERSON, *CARD)
    assert done.returncode == 2, done.stderr
    said = " ".join(done.stderr.split())
    assert f"no wheel of zstandard=={version} for this machine" in said
    assert not (program / "launcher.json").exists()


def test_a_copy_not_installed_in_slots_cannot_update_itself(tmp_path: Path) -> None:
    done = tg(tmp_path / "home", "self-update")
    assert done.returncode == 2
    assert "not installed by a store's installer" in done.stderr
