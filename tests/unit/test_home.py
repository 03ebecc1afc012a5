"""Where the client keeps its files: the same rule for the download program and for core
software that embeds only tollgate.runtime."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tollgate.runtime.home import ClientHome, default_home

pytestmark = pytest.mark.skipif(
    sys.platform in ("win32", "darwin"), reason="the XDG rule is the Unix one"
)


def test_tollgate_home_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOLLGATE_HOME", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_home() == tmp_path / "mine"


def test_xdg_data_home_then_local_share(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TOLLGATE_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_home() == tmp_path / "xdg" / "tollgate"
    monkeypatch.setenv("XDG_DATA_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_home() == tmp_path / ".local" / "share" / "tollgate"


def test_home_given_as_text_or_path(tmp_path: Path) -> None:
    assert ClientHome(str(tmp_path)).root == ClientHome(tmp_path).root == tmp_path.resolve()
