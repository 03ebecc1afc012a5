"""The download program updates itself: a newer client named by an install list is fetched as
TUF targets (its wheel, and the wheels of what changed among its dependencies), installed in
the other slot with no package index, started once, switched to, and given the command, which
it finishes. A broken release, a tampered wheel, or a crash at any step leaves the old version
running; there are never more than two slots."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conftest import LiveStore
from programs import Installed, bootstrap, environment, next_version, publish_program, said
from tollgate.client import __version__ as OLD
from tollgate.store.db import ClientRelease
from tollgate.store.services.errors import StoreError
from wheels import ClientDist, program_wheel, pure_wheel, windows_only

NEW = next_version(OLD)


@pytest.fixture
def newcomer(client_store: LiveStore, tmp_path: Path) -> Installed:
    return bootstrap(client_store, tmp_path / "customer")


@pytest.fixture
def release(client_store: LiveStore, own_client: ClientDist, tmp_path: Path) -> Any:
    """Publish this checkout's download program as another version."""

    def publish(version: str, *, broken: bool = False) -> ClientRelease:
        wheel = program_wheel(tmp_path / version, version, broken=broken)
        return client_store.ctx.publish_client(
            wheel, own_client.wheelhouse, own_client.requirements
        )

    return publish


def test_install_list_naming_a_newer_client_updates_it_and_the_new_one_carries_on(
    store: LiveStore, newcomer: Installed, tmp_path: Path, release: Any
) -> None:
    release(NEW)
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
    release(newest)
    updated = newcomer.run("self-update", "--json")
    assert updated.returncode == 0, updated.stderr
    assert json.loads(updated.stdout)["updated"] == {
        "from": NEW,
        "to": newest,
        "slot": "download1",
        "fetched_wheels": 1,  # only the program's own wheel changed
    }
    assert newcomer.slots() == ["download1", "download2"]
    assert newcomer.running_version() == newest
    assert newcomer.launch()["previous"] == {"slot": "download2", "version": NEW}
    assert "up to date" in newcomer.run("self-update").stdout


def test_new_client_failing_its_start_check_leaves_the_old_one(
    store: LiveStore, newcomer: Installed, tmp_path: Path, release: Any
) -> None:
    release(NEW, broken=True)
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


def test_tampered_client_wheel_is_refused(
    store: LiveStore, newcomer: Installed, tmp_path: Path, release: Any
) -> None:
    row = release(NEW)
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
sys.path[0:0] = [os.path.join(program, "slots", launch["active"])]
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
    store: LiveStore, newcomer: Installed, tmp_path: Path, point: str, release: Any
) -> None:
    release(NEW)
    # a previous update made download2 hold a version, so the crash replaces a real slot
    first = newcomer.run("self-update")
    assert first.returncode == 0, first.stderr
    newest = next_version(OLD, 2)
    release(newest)
    before = newcomer.launch()

    crashed = subprocess.run(
        [sys.executable, "-IS", "-c", textwrap.dedent(CRASH), str(newcomer.program), point],
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


def test_store_publishes_only_newer_well_formed_clients(
    client_store: LiveStore, own_client: ClientDist, tmp_path: Path
) -> None:
    store = client_store
    with pytest.raises(StoreError) as older:
        publish_program(store, own_client)
    assert older.value.code == "not_an_upgrade"
    junk = tmp_path / f"tollgate-{NEW}-py3-none-any.whl"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(StoreError) as malformed:
        publish_program(store, own_client, junk)
    assert malformed.value.code == "malformed_request"
    with store.ctx.sessions() as s:
        assert [r.version for r in s.query(ClientRelease)] == [OLD]


def test_an_update_moves_dependencies_forward_and_fetches_only_what_changed(
    client_store: LiveStore, newcomer: Installed, own_client: ClientDist, tmp_path: Path
) -> None:
    """The new release needs a package the old one did not: it is installed in the new slot
    only, beside the program; every unchanged wheel is taken from the program folder."""
    house = tmp_path / "wheelhouse"
    shutil.copytree(own_client.wheelhouse, house)
    pure_wheel(house, "tgextra", "1.0", body=b"ANSWER = 42\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(own_client.requirements.read_text() + "tgextra==1.0\n")
    wheel = program_wheel(tmp_path, NEW, requires=("tgextra==1.0",))
    client_store.ctx.publish_client(wheel, house, requirements)
    done = newcomer.run("self-update", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["updated"]["fetched_wheels"] == 2  # the program, tgextra
    program = newcomer.program
    assert (program / "slots" / "download2" / "tgextra" / "__init__.py").is_file()
    assert not (program / "slots" / "download1" / "tgextra").exists()
    assert newcomer.running_version() == NEW
    kept = {p.name for p in (program / "wheels").glob("*.whl")}
    assert f"tollgate-{OLD}-py3-none-any.whl" not in kept and "tgextra-1.0-py3-none-any.whl" in kept


def test_vendor_publishes_a_client_from_the_command_line(
    client_store: LiveStore, newcomer: Installed, own_client: ClientDist, tmp_path: Path
) -> None:
    store = client_store

    def publish(wheel: Path, *more: str) -> subprocess.CompletedProcess[str]:
        command = ["store", "publish-client", str(store.folder.path), str(wheel), "--json"]
        command += ["--wheelhouse", str(own_client.wheelhouse), *more]
        return subprocess.run(
            [sys.executable, "-m", "tollgate", *command],
            capture_output=True,
            text=True,
            check=False,
        )

    wheel = program_wheel(tmp_path, NEW)
    done = publish(wheel, "--requirements", str(own_client.requirements))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["version"] == NEW and "cryptography" in " ".join(answer["requirements"])
    assert publish(wheel).returncode == 2  # not newer
    junk = tmp_path / "junk" / f"tollgate-{next_version(OLD, 5)}-py3-none-any.whl"
    junk.parent.mkdir()
    junk.write_bytes(b"not a zip")
    refused = publish(junk)  # with --json, the failure is a problem object on stdout
    assert refused.returncode == 2
    assert "nothing was published" in json.loads(refused.stdout)["error"]["detail"]
    missing = publish(tmp_path / "nowhere.whl")
    assert missing.returncode == 2
    assert "nothing was published" in json.loads(missing.stdout)["error"]["detail"]
    updated = newcomer.run("self-update", "--json")
    assert updated.returncode == 0, updated.stderr
    assert json.loads(updated.stdout)["updated"]["to"] == NEW


def test_two_updates_at_once_make_one_switch(
    store: LiveStore, newcomer: Installed, release: Any
) -> None:
    """Two commands finding the same newer release at once: one installs it, the other waits
    for it and finds it done; neither takes the other's staging folder for a leftover."""
    release(NEW)
    both = [
        subprocess.Popen(
            [str(newcomer.launcher), "self-update", "--json"],
            env=environment(newcomer.home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    answers = [p.communicate(timeout=300) for p in both]
    assert [p.returncode for p in both] == [0, 0], answers
    fetched = sorted(json.loads(out)["updated"]["fetched_wheels"] for out, _ in answers)
    assert fetched[0] == 0 and fetched[1] >= 1
    assert newcomer.running_version() == NEW
    assert newcomer.slots() == ["download1", "download2"]
    assert newcomer.launch()["previous"] == {"slot": "download1", "version": OLD}


def test_a_release_with_no_wheel_for_this_machine_is_not_taken(
    client_store: LiveStore, newcomer: Installed, own_client: ClientDist, tmp_path: Path
) -> None:
    windows = windows_only(own_client, tmp_path / "windows")
    wheel = program_wheel(tmp_path, NEW)
    client_store.ctx.publish_client(wheel, windows.wheelhouse, windows.requirements)
    before = newcomer.launch()
    done = newcomer.run("self-update")
    assert done.returncode == 2, done.stderr
    assert "no wheel of zstandard==" in said(done) and "for this machine" in said(done)
    assert newcomer.launch() == before and newcomer.slots() == ["download1"]
