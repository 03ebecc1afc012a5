"""`tollgate store publish --dry-run`: what would be published, from the same selection as
publish itself, and nothing stored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from conftest import MT
from tollgate.cli.main import app
from tollgate.cli.plugins import add_plugins
from tollgate.store.context import open_store
from tollgate.store.db import Release
from tollgate.store.folder import StoreFolder


def releases(folder: StoreFolder) -> int:
    ctx = open_store(folder)
    try:
        with ctx.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(Release)) or 0)
    finally:
        ctx.close()


def dry_run(folder: StoreFolder, source: Path) -> dict[str, object]:
    add_plugins(app)
    said = CliRunner().invoke(
        app, ["store", "publish", str(folder.path), str(source), "--dry-run", "--json"]
    )
    assert said.exit_code == 0, said.output
    result: dict[str, object] = json.loads(said.output)
    return result


def test_a_dry_run_says_what_would_change_and_stores_nothing(tmp_path: Path) -> None:
    folder = StoreFolder.create(tmp_path / "store", name="t")
    open_store(folder).close()
    blobs = sorted(folder.blobs_dir.rglob("*"))
    first = dry_run(folder, MT)
    assert first["previous"] is None and first["version"] == "1.0.0"
    assert {f["status"] for f in first["files"]} == {"new"}  # type: ignore[attr-defined]
    assert releases(folder) == 0 and sorted(folder.blobs_dir.rglob("*")) == blobs

    ctx = open_store(folder)
    ctx.publish(MT)
    ctx.close()
    newer = shutil.copytree(MT, tmp_path / "mt")
    toml = newer / "tollgate.toml"
    toml.write_text(toml.read_text().replace('version = "1.0.0"', 'version = "1.1.0"'))
    with (newer / "mt" / "cli.py").open("a") as fh:
        fh.write("# changed\n")
    second = dry_run(folder, newer)
    files = {f["path"]: f for f in second["files"]}  # type: ignore[attr-defined]
    assert second["previous"] == "1.0.0"
    assert files["mt/cli.py"]["status"] == "changed"
    assert files["mt/cli.py"]["patches_from"] == ["1.0.0"]
    assert files["addons/mt_dic2/dictionary.tsv"]["status"] == "unchanged"
    assert releases(folder) == 1
