"""The hand-off from a storefront button to `tollgate open`, through the real command line:
registration sets up the desktop handler; a downloaded install list or a tollgate:// link is
checked against TUF, shown with its price, confirmed, then installed or bought, charged once."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from test_cli import REG, tg

from conftest import LiveStore
from tollgate.client.desktop import DESKTOP_ID, DesktopFolders
from tollgate.store.db import SandboxCharge
from tollgate.wire.install_list import MEDIA_TYPE

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0"


def _register(store: LiveStore, home: Path) -> None:
    done = tg(home, "register", store.url, *REG, "--card", "4242424242424242", "--json")
    assert done.returncode == 0, done.stderr


def _button(store: LiveStore, where: Path, addon: str | None = None) -> Path:
    params = {} if addon is None else {"addon": addon}
    answer = httpx.get(store.url + "/products/MT/get", params=params, headers={"User-Agent": UA})
    assert answer.status_code == 200 and answer.headers["content-type"] == MEDIA_TYPE
    where.write_bytes(answer.content)
    return where


def _charges(store: LiveStore) -> int:
    with store.ctx.sessions() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(SandboxCharge)
                .where(SandboxCharge.status == "succeeded")
            )
            or 0
        )


def test_registration_sets_up_the_desktop_handler(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    _register(store, home)
    folders = DesktopFolders.current()
    entry = folders.desktop_file.read_text()
    assert "MimeType=application/vnd.tollgate.install-list+json;x-scheme-handler/tollgate;" in entry
    assert f"--home {home.resolve()} open %u" in entry
    assert 'glob pattern="*.tollgate"' in folders.mime_file.read_text()
    defaults = folders.mimeapps.read_text()  # by xdg-mime where installed, else by Tollgate
    assert f"x-scheme-handler/tollgate={DESKTOP_ID}" in defaults
    assert f"{MEDIA_TYPE}={DESKTOP_ID}" in defaults
    status = json.loads(tg(home, "handler", "status", "--json").stdout)
    assert status["installed"] and status["default"]
    removed = json.loads(tg(home, "handler", "remove", "--json").stdout)
    assert not removed["installed"] and not removed["default"]


def test_buy_button_file_installs_and_buys_once(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    _register(store, home)
    handed = _button(store, tmp_path / "MT-1.0.0-dic2.tollgate", "dic2")
    before = _charges(store)

    unconfirmed = tg(home, "open", str(handed))
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    assert "Buy MT dic2 from Test Store: 300 JPY" in unconfirmed.stdout
    assert json.loads(tg(home, "list", "--json").stdout) == []  # nothing done

    done = tg(home, "open", handed.as_uri(), "--yes", "--json")  # as the desktop passes it
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["bought"]["amount"] == 300 and report["terms"] == "300 JPY"
    assert report["installed"]["path"]
    listed = json.loads(tg(home, "list", "--json").stdout)
    assert listed[0]["name"] == "MT" and "dic2" in listed[0]["addons"]
    assert _charges(store) == before + 1

    again = tg(home, "open", str(handed), "--yes")
    assert again.returncode == 0, again.stderr
    assert "already yours" in again.stdout and "up to date" in again.stdout
    assert _charges(store) == before + 1


def test_get_link_installs_the_core(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    _register(store, home)
    link = f"tollgate://install?store={store.ctx.store_id}&product=MT"
    done = tg(home, "open", link, "--yes")
    assert done.returncode == 0, done.stderr
    assert "Installed MT 1.0.0" in done.stdout
    assert _charges(store) == 0


def _edit(doc: dict, how: str) -> dict:
    installs = [c for c in doc["commands"] if c["command"] == "install"]
    if how == "size":
        installs[0]["entry"]["size"] += 1
    elif how == "target":
        installs[0]["target"] = installs[0]["target"].replace(
            "MT/1.0.0/core/", "MT/1.0.0/addon.dic2/"
        )
    elif how == "version":
        doc["version"] = "9.9.9"
    elif how == "product":
        doc["product"] = "Tools"
    elif how == "notice":
        doc["commands"][0]["text"] = "Free upgrade! Click yes."
    elif how in ("drop core", "drop add-on"):  # one signed entry left out on the way
        kind = "core" if how == "drop core" else "add-on"
        gone = next(c for c in installs if c["entry"]["kind"] == kind)
        doc["commands"] = [c for c in doc["commands"] if c is not gone]
    return doc


@pytest.mark.parametrize(
    "how", ["size", "target", "version", "product", "notice", "drop core", "drop add-on"]
)
def test_an_altered_install_list_file_installs_nothing(
    store: LiveStore, tmp_path: Path, how: str
) -> None:
    home = tmp_path / "home"
    _register(store, home)
    handed = _button(store, tmp_path / "MT.tollgate", "dic2")
    handed.write_text(json.dumps(_edit(json.loads(handed.read_text()), how)))
    refused = tg(home, "open", str(handed), "--yes")
    assert refused.returncode == 4, refused.stderr
    assert "nothing was installed" in refused.stderr or "not" in refused.stderr
    assert json.loads(tg(home, "list", "--json").stdout) == []
    assert _charges(store) == 0


@pytest.mark.parametrize(
    "link",
    [
        "tollgate://buy?store=st_0&product=MT&addon=dic2&store_url=http://evil.example",
        "tollgate://buy?store=st_0&product=../../etc&addon=dic2",
    ],
)
def test_hostile_links_are_refused(tmp_path: Path, link: str) -> None:
    """Every refused form is in tests/unit/test_handoff_formats.py; here, the command's answer."""
    refused = tg(tmp_path / "home", "open", link, "--yes")
    assert refused.returncode == 2, refused.stderr
    assert "not one Tollgate acts on" in refused.stderr


def test_a_link_for_a_store_not_registered_with_says_so(store: LiveStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    _register(store, home)
    refused = tg(home, "open", "tollgate://install?store=st_ffffffffffffffff&product=MT", "--yes")
    assert refused.returncode == 2 and "not registered" in refused.stderr


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"[]", b'{"type": "install-list", "format": 2}', b"x" * (2 * 1024 * 1024)],
)
def test_a_file_that_is_not_an_install_list_is_refused(tmp_path: Path, content: bytes) -> None:
    handed = tmp_path / "bad.tollgate"
    handed.write_bytes(content)
    refused = tg(tmp_path / "home", "open", str(handed), "--yes")
    # Not one at all is a wrong file (2); one that parses but fails its check is tampered (4).
    assert refused.returncode == 2 and "is not a Tollgate install list" in refused.stderr
