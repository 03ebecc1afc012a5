"""The download program updates itself: a newer client named by an install list is fetched as a
TUF target, staged in the other slot, started once, switched to, and given the command, which it
finishes. A broken release, a tampered archive, or a crash at any step leaves the old version
running; there are never more than two slots."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tollgate
from conftest import LiveStore
from programs import (
    Installed,
    bootstrap,
    client_package,
    client_release,
    environment,
    next_version,
    said,
)
from tollgate.store.db import ClientRelease
from tollgate.store.services.errors import StoreError

OLD = tollgate.__version__
NEW = next_version(OLD)


@pytest.fixture
def newcomer(store: LiveStore, tmp_path: Path) -> Installed:
    return bootstrap(store, tmp_path / "customer")


def test_install_list_naming_a_newer_client_updates_it_and_the_new_one_carries_on(
    store: LiveStore, newcomer: Installed, tmp_path: Path
) -> None:
    store.ctx.publish_client(client_release(tmp_path, NEW))
    done = newcomer.run("install", "MT", "--json")
    assert done.returncode == 0, done.stderr
    assert f"updated the download program {OLD} -> {NEW}" in said(done)
    assert json.loads(done.stdout)["available"] == "1.0.0"  # the command, finished by the new one
    assert (newcomer.home / "products").exists()
    launch = newcomer.launch()
    assert (launch["active"], launch["version"]) == ("download2", NEW)
    assert launch["previous"] == {"slot": "download1", "version": OLD}
    assert newcomer.running_version() == NEW
    # the next command runs the new version and has nothing more to update
    again = newcomer.run("update", "MT")
    assert again.returncode == 0, again.stderr
    assert "download program" not in again.stderr

    # one release later the other slot is reused: still two slots, the previous one kept
    newest = next_version(OLD, 2)
    store.ctx.publish_client(client_release(tmp_path, newest))
    updated = newcomer.run("self-update", "--json")
    assert updated.returncode == 0, updated.stderr
    assert json.loads(updated.stdout)["updated"] == {"from": NEW, "to": newest, "slot": "download1"}
    assert newcomer.slots() == ["download1", "download2"]
    assert newcomer.running_version() == newest
    assert newcomer.launch()["previous"] == {"slot": "download2", "version": NEW}
    assert "up to date" in newcomer.run("self-update").stdout


def test_new_client_failing_its_start_check_leaves_the_old_one(
    store: LiveStore, newcomer: Installed, tmp_path: Path
) -> None:
    store.ctx.publish_client(client_release(tmp_path, NEW, broken=True))
    before = newcomer.launch()
    done = newcomer.run("install", "MT")
    assert done.returncode == 0, done.stderr  # the old version carried the command out
    assert f"the download program stays at {OLD}" in said(done)
    assert "failed its start check" in said(done) and "this build is broken" in said(done)
    assert "Installed MT 1.0.0" in done.stdout
    assert newcomer.launch() == before
    assert newcomer.running_version() == OLD
    explicit = newcomer.run("self-update")
    assert explicit.returncode == 4
    assert "failed its start check" in said(explicit)
    assert newcomer.launch() == before


def test_tampered_client_archive_is_refused(
    store: LiveStore, newcomer: Installed, tmp_path: Path
) -> None:
    row = store.ctx.publish_client(client_release(tmp_path, NEW))
    blob = store.ctx.repository.blobs.path(row.digest)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 1
    blob.write_bytes(bytes(data))
    before = newcomer.launch()
    done = newcomer.run("self-update")
    assert done.returncode == 4, done.stderr
    assert "LengthOrHashMismatchError" in said(done) and "nothing was installed" in said(done)
    assert newcomer.launch() == before and newcomer.slots() == ["download1"]


# Runs ``self-update`` from the active slot with one step replaced by a hard exit: no clean-up,
# no finally blocks, as if the power went.
CRASH = """
import os, shutil, sys
program, point = sys.argv[1], sys.argv[2]
launch = __import__("json").load(open(os.path.join(program, "launcher.json")))
sys.path[0:0] = [os.path.join(program, "slots", launch["active"]), os.path.join(program, "lib")]
from tollgate.client import program as slots
if point == "replacing-slot":    # the other slot removed, the staged copy not yet renamed
    def crash(folder, target, incoming):
        shutil.rmtree(target)
        os._exit(9)
    slots.ProgramFolder.replace_slot = crash
else:                            # staged and checked, launcher.json not yet replaced
    slots.ProgramFolder.switch = lambda *a, **k: os._exit(9)
sys.argv = ["tollgate", "self-update"]
from tollgate.cli.main import entrypoint
entrypoint()
"""


@pytest.mark.parametrize("point", ["replacing-slot", "before-switch"])
def test_crash_during_the_slot_switch_leaves_the_old_version_and_the_next_run_finishes(
    store: LiveStore, newcomer: Installed, tmp_path: Path, point: str
) -> None:
    store.ctx.publish_client(client_release(tmp_path, NEW))
    # a previous update made download2 hold a version, so the crash replaces a real slot
    first = newcomer.run("self-update")
    assert first.returncode == 0, first.stderr
    newest = next_version(OLD, 2)
    store.ctx.publish_client(client_release(tmp_path, newest))
    before = newcomer.launch()

    crashed = subprocess.run(
        [sys.executable, "-I", "-c", textwrap.dedent(CRASH), str(newcomer.program), point],
        env=environment(newcomer.home),
        capture_output=True,
        text=True,
        check=False,
    )
    assert crashed.returncode == 9, crashed.stderr
    assert newcomer.launch() == before
    assert newcomer.running_version() == NEW  # the active slot was never touched

    done = newcomer.run("self-update", "--json")
    assert done.returncode == 0, done.stderr
    assert newcomer.running_version() == newest
    assert newcomer.slots() == ["download1", "download2"]  # no leftovers, two slots at most


def test_store_publishes_only_newer_well_formed_clients(store: LiveStore, tmp_path: Path) -> None:
    with pytest.raises(StoreError) as older:
        store.ctx.publish_client(client_release(tmp_path, OLD))
    assert older.value.code == "not_an_upgrade"
    with pytest.raises(StoreError) as malformed:
        store.ctx.publish_client(b"PK\x03\x04 not really a zip")
    assert malformed.value.code == "malformed_request"
    with store.ctx.sessions() as s:
        assert [r.version for r in s.query(ClientRelease)] == [OLD]


def test_vendor_publishes_a_client_from_the_command_line(
    store: LiveStore, newcomer: Installed, tmp_path: Path
) -> None:
    def publish(source: Path) -> subprocess.CompletedProcess[str]:
        command = ["store", "publish-client", str(store.folder.path), str(source), "--json"]
        return subprocess.run(
            [sys.executable, "-m", "tollgate", *command],
            capture_output=True,
            text=True,
            check=False,
        )

    done = publish(client_package(tmp_path, NEW))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["version"] == NEW
    assert publish(client_package(tmp_path / "again", NEW)).returncode == 2  # not newer
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    refused = publish(junk)
    assert refused.returncode == 2 and "nothing was published" in said(refused)
    updated = newcomer.run("self-update", "--json")
    assert updated.returncode == 0, updated.stderr
    assert json.loads(updated.stdout)["updated"]["to"] == NEW
