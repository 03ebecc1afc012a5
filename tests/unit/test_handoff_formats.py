"""The hand-off formats: tollgate:// links read strictly, and the desktop files written right."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tollgate.client.desktop import (
    DESKTOP_ID,
    DesktopFolders,
    desktop_entry,
    handler_status,
    install_handler,
    remove_handler,
)
from tollgate.wire.handoff import BadHandOff, HandOff, parse_link
from tollgate.wire.install_list import MEDIA_TYPE

STORE = "st_0123456789abcdef"


@pytest.mark.parametrize(
    "handoff",
    [
        HandOff("install", STORE, "MT"),
        HandOff("buy", STORE, "MT", "dic2"),
        HandOff("buy", STORE, "Shelf.Books-2", "lighthouse_1"),
    ],
)
def test_links_round_trip(handoff: HandOff) -> None:
    assert parse_link(handoff.link()) == handoff


@pytest.mark.parametrize(
    "link",
    [
        "https://store.example/products/MT",
        "tollgate://uninstall?store=st_0&product=MT",
        "tollgate://BUY?store=st_0&product=MT&addon=dic2",
        "tollgate://buy?store=st_0&product=MT",  # buy without an add-on
        "tollgate://install?store=st_0&product=MT&addon=dic2",
        "tollgate://install?product=MT",
        "tollgate://buy?store=st_0&product=MT&addon=dic2&store_url=http://evil.example",
        "tollgate://buy?store=st_0&store=st_1&product=MT&addon=dic2",
        "tollgate://buy?store=st_0&product=../../etc&addon=dic2",
        "tollgate://buy?store=st_0&product=MT&addon=dic2%0A--yes",
        "tollgate://buy?store=st_0&product=MT&addon=-rf",
        "tollgate://buy?store=http%3A%2F%2Fevil&product=MT&addon=dic2",
        "tollgate://user@buy?store=st_0&product=MT&addon=dic2",
        "tollgate://buy/path?store=st_0&product=MT&addon=dic2",
        "tollgate://buy?store=st_0&product=MT&addon=dic2#x",
        "tollgate://buy?store=st_0&product=MT&addon=dic2&",
        "tollgate://buy?store=st_0&product=MT&addon=dïc2",
        "tollgate://buy?store=st_0&product=MT&addon=dic2 --yes",
        "tollgate://buy?" + "a" * 600,
    ],
)
def test_hostile_links_are_refused(link: str) -> None:
    with pytest.raises(BadHandOff):
        parse_link(link)


def test_desktop_entry_quotes_its_command() -> None:
    entry = desktop_entry(["/opt/my apps/python", "-m", "tollgate", "--home", '/h/"q"$x%'])
    exec_line = next(line for line in entry.splitlines() if line.startswith("Exec="))
    assert exec_line == ('Exec="/opt/my apps/python" -m tollgate --home "/h/\\"q\\"\\$x%%" open %u')
    assert f"MimeType={MEDIA_TYPE};x-scheme-handler/tollgate;" in entry


def test_without_xdg_utils_the_defaults_are_written_beside_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))  # no xdg-mime, no update-*
    folders = DesktopFolders(tmp_path / "data", tmp_path / "config")
    folders.config.mkdir()
    folders.mimeapps.write_text(
        "[Default Applications]\ntext/html=firefox.desktop\n\n"
        "[Added Associations]\nimage/png=gimp.desktop;\n"
    )
    status = install_handler(["/usr/bin/tollgate"], folders)
    assert status.installed and status.default
    text = folders.mimeapps.read_text()
    assert "text/html=firefox.desktop" in text and "image/png=gimp.desktop;" in text
    assert f"x-scheme-handler/tollgate={DESKTOP_ID};" in text
    assert not list(folders.config.glob(".*"))  # no temporary file left behind

    gone = remove_handler(folders)
    assert not gone.installed and not gone.default
    text = folders.mimeapps.read_text()
    assert "tollgate" not in text and "text/html=firefox.desktop" in text
    assert handler_status(folders) == gone
    assert os.listdir(folders.data / "applications") == []
