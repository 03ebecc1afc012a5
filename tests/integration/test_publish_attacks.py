"""Publishing never makes the store's own files public (issue 15, finding 1).

The attacker's view: a product folder, or the wheels of a download program, that a vendor
publishes holds a link (to a key file, to the keys folder, dangling), a copy of a key, or the
store folder itself. Each is refused through the real `tollgate store publish` /
`publish-client` command with a message naming the culprit, and the store's TUF metadata and
blobs are exactly as before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from conftest import MT, LiveStore
from programs import next_version
from tollgate.client import __version__
from wheels import ClientDist, program_wheel


def store_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tollgate", "store", *map(str, args)],
        text=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        check=False,
        env=dict(os.environ, COLUMNS="400"),
    )


def published_state(store: LiveStore) -> tuple[bytes, list[str]]:
    """What customers can see (the signed timestamp) and what the store holds (its blobs)."""
    timestamp = httpx.get(f"{store.url}/v1/tuf/timestamp.json").content
    return timestamp, sorted(p.name for p in store.folder.blobs_dir.iterdir())


def mt_release(where: Path, version: str = "1.0.1") -> Path:
    shutil.copytree(MT, where, ignore=shutil.ignore_patterns("__pycache__"))
    manifest = where / "tollgate.toml"
    manifest.write_text(manifest.read_text().replace('version = "1.0.0"', f'version = "{version}"'))
    return where


def _keys(store: LiveStore) -> Path:
    return store.folder.keys_dir


def link_file_in_core(store: LiveStore, src: Path) -> str:
    (src / "data" / "basic.tsv").unlink()
    (src / "data" / "basic.tsv").symlink_to(_keys(store) / "master.key")
    return "basic.tsv"


def link_folder_in_addon(store: LiveStore, src: Path) -> str:
    (src / "addons" / "mt_dic2" / "keys").symlink_to(_keys(store) / "tuf")
    return "keys"


def link_to_a_folder_above(store: LiveStore, src: Path) -> str:
    (src / "mt" / "up").symlink_to("../..", target_is_directory=True)
    return "up"


def dangling_link_nobody_selects(store: LiveStore, src: Path) -> str:
    (src / "notes").mkdir()
    (src / "notes" / "later.txt").symlink_to(src / "does-not-exist")
    return "later.txt"


def manifest_is_a_link(store: LiveStore, src: Path) -> str:
    real = src.parent / "elsewhere.toml"
    (src / "tollgate.toml").rename(real)
    (src / "tollgate.toml").symlink_to(real)
    return "tollgate.toml"


def hard_link_to_the_database(store: LiveStore, src: Path) -> str:
    url = store.folder.config.database_url
    # on PostgreSQL there is no database file: a key file's second name, then
    database = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    database = database or _keys(store) / "master.key"
    os.link(database, src / "addons" / "mt_print" / "db.bin")
    return "2 names (hard links)"


def escapes_in_a_file_name(store: LiveStore, src: Path) -> str:
    (src / "mt" / "\x1b]8;;evil\x07x.py").write_text("X = 1\n")
    return "control characters"


def copy_of_a_key(store: LiveStore, src: Path) -> str:
    shutil.copyfile(_keys(store) / "licence.key", src / "data" / "basic.tsv")
    return "keys/licence.key"


def copy_of_a_tuf_key_in_an_addon(store: LiveStore, src: Path) -> str:
    tuf_key = sorted((_keys(store) / "tuf").glob("root-*.key"))[0]
    shutil.copyfile(tuf_key, src / "addons" / "mt_dic2" / "extra.bin")
    return f"keys/tuf/{tuf_key.name}"


@pytest.mark.parametrize(
    "plant",
    [
        link_file_in_core,
        link_folder_in_addon,
        link_to_a_folder_above,
        dangling_link_nobody_selects,
        manifest_is_a_link,
        hard_link_to_the_database,
        escapes_in_a_file_name,
        copy_of_a_key,
        copy_of_a_tuf_key_in_an_addon,
    ],
)
def test_publish_refuses_what_would_leak_a_store_file(
    store: LiveStore, tmp_path: Path, plant: Callable[[LiveStore, Path], str]
) -> None:
    src = mt_release(tmp_path / "mt-src")
    culprit = plant(store, src)
    before = published_state(store)
    done = store_cli("publish", store.folder.path, src)
    assert done.returncode == 2, done.stdout + done.stderr
    assert culprit in done.stderr and "nothing was published" in done.stderr
    assert published_state(store) == before
    # and once the culprit is gone, the same folder publishes
    fixed = mt_release(tmp_path / "mt-fixed")
    assert store_cli("publish", store.folder.path, fixed).returncode == 0


def test_publish_refuses_a_folder_holding_the_store_or_inside_it(
    store: LiveStore, tmp_path: Path
) -> None:
    before = published_state(store)
    outer = store.folder.path.parent  # the test folder: it holds the store folder
    (outer / "tollgate.toml").write_text((MT / "tollgate.toml").read_text())
    done = store_cli("publish", store.folder.path, outer)
    assert done.returncode == 2 and "contains the store folder" in done.stderr
    inside = store.folder.path / "product"
    shutil.copytree(MT, inside, ignore=shutil.ignore_patterns("__pycache__"))
    done = store_cli("publish", store.folder.path, inside)
    assert done.returncode == 2 and "inside the store folder" in done.stderr
    link = tmp_path / "innocent"
    link.symlink_to(store.folder.keys_dir)  # the folder named is itself a way in
    done = store_cli("publish", store.folder.path, link)
    assert done.returncode == 2 and "inside the store folder" in done.stderr
    assert published_state(store) == before


def _with_member(wheel: Path, into: Path, name: str, data: bytes) -> Path:
    """A copy of ``wheel`` in ``into`` with one more member."""
    into.mkdir(parents=True, exist_ok=True)
    copy = into / wheel.name
    if copy != wheel:
        shutil.copyfile(wheel, copy)
    with zipfile.ZipFile(copy, "a") as zf:
        zf.writestr(name, data)
    return copy


def test_publish_client_refuses_links_and_keys(
    store: LiveStore, own_client: ClientDist, tmp_path: Path
) -> None:
    version = next_version(__version__)
    program = program_wheel(tmp_path / "build", version)
    keys = store.folder.keys_dir
    before = published_state(store)

    def publish(wheel: Path, house: Path) -> subprocess.CompletedProcess[str]:
        return store_cli("publish-client", store.folder.path, wheel, "--wheelhouse", house)

    def house_with(name: str) -> Path:
        house = tmp_path / f"house-{name}"
        shutil.copytree(own_client.wheelhouse, house)
        return house

    link = tmp_path / f"tollgate-{version}-py3-none-any.whl"
    link.symlink_to(keys / "master.key")  # the program named is a way into the store
    done = publish(link, own_client.wheelhouse)
    assert done.returncode == 2 and "inside the store folder" in done.stderr

    house = house_with("file-link")
    (house / "zz-1.0-py3-none-any.whl").symlink_to(keys / "master.key")
    done = publish(program, house)
    assert done.returncode == 2 and "zz-1.0-py3-none-any.whl" in done.stderr
    assert "link" in done.stderr

    house = tmp_path / "house-link"
    house.symlink_to(keys, target_is_directory=True)  # the wheelhouse itself
    done = publish(program, house)
    assert done.returncode == 2 and "inside the store folder" in done.stderr

    house = house_with("stray")
    shutil.copyfile(keys / "sealing.key", house / "notes.txt")
    done = publish(program, house)
    assert done.returncode == 2 and "not a wheel" in done.stderr

    house = house_with("member")
    (httpx,) = house.glob("httpx-*.whl")
    stolen = (keys / "master.key").read_bytes()
    _with_member(httpx, house, "httpx/stolen.bin", stolen)  # changed in place
    done = publish(program, house)
    assert done.returncode == 2 and "keys/master.key" in done.stderr

    sealed = _with_member(
        program, tmp_path / "sealed", "tollgate/data.bin", (keys / "sealing.key").read_bytes()
    )
    done = publish(sealed, own_client.wheelhouse)
    assert done.returncode == 2 and "keys/sealing.key" in done.stderr
    assert published_state(store) == before

    done = publish(program, own_client.wheelhouse)
    assert done.returncode == 0, done.stderr
