"""The registration bootstrap: the page, the installer it serves, and what the installer does
with a damaged copy of itself or a Python that lacks what the program needs."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from test_cli import tg

import tollgate
from conftest import LiveStore
from programs import CARD, PERSON, bootstrap, installer_bytes, run_installer
from tollgate.client.desktop import handler_status
from tollgate.installer import install_requirements


def test_bootstrap_page_shows_the_root_fingerprint_and_the_installer(store: LiveStore) -> None:
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
        assert hashlib.sha256(pyz.read("client.zip")).hexdigest() == setup["client_sha256"]
        assert "tollgate/client/program.py" in pyz.namelist()
    assert (setup["store_url"], setup["store_id"]) == (store.url, store.ctx.store_id)
    assert setup["client_version"] == tollgate.__version__
    pins = setup["requirements"]
    # the whole closure, dependencies of dependencies too, each pinned by hash
    assert {"cryptography", "cffi", "httpx", "h11", "securesystemslib"} <= {
        pin.split("==")[0] for pin in pins
    }
    assert all(h.startswith("sha256:") and len(h) == 71 for hs in pins.values() for h in hs)
    assert all(pins.values())


def _wheel(where: Path, name: str, version: str) -> Path:
    """A pure-Python wheel made by hand: what the package index would serve."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for path, data in files.items()
    )
    files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    wheel = where / f"{name}-{version}-py3-none-any.whl"
    where.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


def test_install_deps_fetches_only_packages_with_the_named_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installer's pip step against an index on this disk (no network): the right hash
    installs, a wrong one or none installs nothing."""
    wheel = _wheel(tmp_path / "index", "tgfake", "1.0")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheel.parent))
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    good = "sha256:" + hashlib.sha256(wheel.read_bytes()).hexdigest()
    for hashes, status in (
        ({"tgfake==1.0": ["sha256:" + "0" * 64]}, 3),
        ({"tgfake==1.0": []}, 4),
    ):
        lib = tmp_path / f"prog-{status}" / "lib"
        with pytest.raises(SystemExit) as refused:
            install_requirements(sys.executable, lib, ["tgfake==1.0"], hashes)
        assert refused.value.code == status
        assert not (lib / "tgfake").exists()
    lib = tmp_path / "prog" / "lib"
    install_requirements(sys.executable, lib, ["tgfake==1.0"], {"tgfake==1.0": [good]})
    assert (lib / "tgfake" / "__init__.py").read_text() == "VALUE = 1\n"


def test_installer_installs_registers_and_sets_up_the_hand_off(
    store: LiveStore, tmp_path: Path
) -> None:
    newcomer = bootstrap(store, tmp_path)
    launch = newcomer.launch()
    assert (launch["active"], launch["version"], launch["previous"]) == (
        "download1",
        tollgate.__version__,
        None,
    )
    assert newcomer.slots() == ["download1"]
    assert newcomer.launcher.read_text().startswith(f"#!{sys.executable} -I\n")
    accounts = newcomer.run("catalog", "--json")
    assert accounts.returncode == 0, accounts.stderr
    assert "MT" in [p["name"] for p in json.loads(accounts.stdout)]
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


def test_damaged_installer_installs_nothing(store: LiveStore, tmp_path: Path) -> None:
    good = zipfile.ZipFile(io.BytesIO(installer_bytes(store)))
    for member, change in [
        ("root.json", lambda b: b.replace(b'"version":1', b'"version":2', 1)),
        ("client.zip", lambda b: b[:-1] + bytes([b[-1] ^ 1])),
        ("setup.json", lambda b: b"[]"),
    ]:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as bad:
            for name in good.namelist():
                body = good.read(name)
                bad.writestr(name, change(body) if name == member else body)
        pyz = tmp_path / f"bad-{member}.pyz"
        pyz.write_bytes(out.getvalue())
        program = tmp_path / f"program-{member}"
        done = run_installer(pyz, "--dir", str(program), *PERSON, *CARD)
        assert done.returncode == 4, (member, done.stdout, done.stderr)
        assert "damaged" in done.stderr or "not the one it names" in done.stderr
        assert not program.exists()


def test_installer_on_a_python_without_the_packages_says_what_is_missing(
    store: LiveStore, tmp_path: Path
) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    pyz = tmp_path / "tollgate-setup.pyz"
    pyz.write_bytes(installer_bytes(store))
    program = tmp_path / "program"
    done = run_installer(
        pyz, "--dir", str(program), *PERSON, *CARD, python=str(bare / "bin" / "python")
    )
    assert done.returncode == 3, done.stderr
    assert "cryptography==" in done.stderr and "--install-deps" in done.stderr
    assert not (program / "launcher.json").exists()


def test_a_copy_not_installed_in_slots_cannot_update_itself(tmp_path: Path) -> None:
    done = tg(tmp_path / "home", "self-update")
    assert done.returncode == 2
    assert "not installed by a store's installer" in done.stderr
