"""A store folder's SQLite database lives in the folder and is named relative to it: a copied
folder uses its own copy, a moved one still finds it, and a database that is not where the
configuration says is a clear error, never a new empty store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tollgate.cli.main import app
from tollgate.cli.plugins import add_plugins
from tollgate.store.context import open_store
from tollgate.store.folder import StoreFolder, StoreFolderError


def test_a_copied_folder_uses_its_own_database(tmp_path: Path) -> None:
    original = StoreFolder.create(tmp_path / "a", name="A")
    assert 'database_url = "sqlite:///store.db"' in original.config_path.read_text()
    open_store(original).close()
    shutil.copytree(original.path, tmp_path / "b")
    copy = StoreFolder(tmp_path / "b")
    assert copy.config.database_url == f"sqlite:///{copy.path / 'store.db'}"
    assert original.config.database_url == f"sqlite:///{original.path / 'store.db'}"
    moved = tmp_path / "c"
    original.path.rename(moved)
    assert StoreFolder(moved).config.database_url == f"sqlite:///{moved / 'store.db'}"


def test_a_database_that_is_not_there_is_said_plainly(tmp_path: Path) -> None:
    folder = StoreFolder.create(tmp_path / "a", name="A")
    config = folder.config_path.read_text()
    folder.config_path.write_text(
        config.replace("sqlite:///store.db", f"sqlite:///{tmp_path / 'elsewhere' / 'store.db'}")
    )
    with pytest.raises(StoreFolderError, match=r"is not there\. If the folder was moved"):
        _ = StoreFolder(folder.path).config
    add_plugins(app)
    said = CliRunner().invoke(app, ["store", "customers", str(folder.path)])
    assert said.exit_code == 2 and "is not there" in said.output
    assert not (tmp_path / "elsewhere").exists()  # nothing was made in its place
