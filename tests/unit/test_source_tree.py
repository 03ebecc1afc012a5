"""Reading a folder to publish: no link followed on the way, not even one swapped in after the
walk looked (store/publish_guard.py stages copies through `tollgate.files.open_below`)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tollgate.files import UnsafeTree, open_below, plain_files
from tollgate.store.publish_guard import PublishGuard, PublishRefused


def tree(where: Path) -> Path:
    (where / "free" / "x").mkdir(parents=True)
    (where / "free" / "x" / "data.bin").write_bytes(b"fine")
    return where


def test_a_folder_swapped_for_a_link_after_the_walk_is_not_followed(tmp_path: Path) -> None:
    root = tree(tmp_path / "product")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "data.bin").write_bytes(b"the store's master key")
    assert plain_files(root) == ["free/x/data.bin"]  # what the walk saw ...
    os.rename(root / "free" / "x", tmp_path / "moved")  # ... then the swap
    (root / "free" / "x").symlink_to(secret, target_is_directory=True)
    with pytest.raises(UnsafeTree, match="without following a link"):
        open_below(root, "free/x/data.bin")
    guard = PublishGuard(tmp_path / "store", {})
    with pytest.raises(PublishRefused, match="follows no link"):
        guard.stage(root, ["free/x/data.bin"], tmp_path / "staged")


def test_a_file_swapped_for_a_link_and_hard_links_are_refused(tmp_path: Path) -> None:
    root = tree(tmp_path / "product")
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"x")
    (root / "free" / "x" / "data.bin").unlink()
    (root / "free" / "x" / "data.bin").symlink_to(outside)
    with pytest.raises(UnsafeTree):
        open_below(root, "free/x/data.bin")
    (root / "free" / "x" / "data.bin").unlink()
    os.link(outside, root / "free" / "x" / "data.bin")
    with pytest.raises(UnsafeTree, match="2 names"):
        open_below(root, "free/x/data.bin")
    for bad in ("../outside.bin", "/etc/passwd", "free//x", "free/./x/data.bin", ""):
        with pytest.raises(UnsafeTree):
            open_below(root, bad)


def test_staged_copies_are_what_gets_checked(tmp_path: Path) -> None:
    root = tree(tmp_path / "product")
    key = b"k" * 32
    (root / "free" / "x" / "copy.bin").write_bytes(key)
    guard = PublishGuard(tmp_path / "store", {hashlib.sha256(key).hexdigest(): "keys/master.key"})
    guard.stage(root, ["free/x/data.bin"], tmp_path / "one")
    assert (tmp_path / "one" / "free" / "x" / "data.bin").read_bytes() == b"fine"
    with pytest.raises(PublishRefused, match=r"keys/master\.key"):
        guard.stage(root, ["free/x/copy.bin"], tmp_path / "two")
