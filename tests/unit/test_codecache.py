"""The sealed code cache: compiled code comes back only to the holder of the content key, for
the same file, on the same interpreter; anything else is a miss, never an error."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

import pytest

from tollgate.crypto.keys import seal_secret
from tollgate.runtime.codecache import MAGIC, PURPOSE, SealedCode, compile_module

SOURCE = b"def answer():\n    return 42\n"


@pytest.fixture
def sealed(tmp_path: Path) -> SealedCode:
    vault_file = tmp_path / ("ab" * 32)
    vault_file.write_bytes(b"ciphertext")
    return SealedCode.beside(vault_file, os.urandom(32), "ab" * 32)


def run(code: CodeType) -> int:
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - the code under test
    return int(namespace["answer"]())


def test_compiled_once_then_loaded_sealed(sealed: SealedCode) -> None:
    assert sealed.path.name == f"{'ab' * 32}.{MAGIC}.code"
    assert sealed.load() is None
    assert run(compile_module(SOURCE, "<tollgate>/m.py", sealed)) == 42
    assert b"answer" not in sealed.path.read_bytes()
    loaded = sealed.load()
    assert loaded is not None and run(loaded) == 42 and loaded.co_filename == "<tollgate>/m.py"


@pytest.mark.parametrize(
    "other",
    [
        lambda s: SealedCode(s.path, os.urandom(32), s.digest),  # another key
        lambda s: SealedCode(s.path, s.content_key, "cd" * 32),  # moved to another file
    ],
    ids=["wrong key", "another file's digest"],
)
def test_a_cache_opens_only_with_its_key_and_for_its_file(
    sealed: SealedCode, other: Callable[[SealedCode], SealedCode]
) -> None:
    compile_module(SOURCE, "m.py", sealed)
    assert other(sealed).load() is None


def test_damaged_or_foreign_content_is_a_miss_and_recompiled(sealed: SealedCode) -> None:
    compile_module(SOURCE, "m.py", sealed)
    data = bytearray(sealed.path.read_bytes())
    data[20] ^= 1
    sealed.path.write_bytes(bytes(data))
    assert sealed.load() is None
    assert run(compile_module(SOURCE, "m.py", sealed)) == 42
    assert sealed.load() is not None  # rewritten
    # Sealed with the right key but not a code object (or not marshal at all): still a miss.
    for payload in (b"\xe9\x07\x00\x00", b"not marshal"):
        sealed.path.write_bytes(seal_secret(sealed.content_key, PURPOSE, sealed.digest, payload))
        assert sealed.load() is None


def test_a_vault_that_cannot_be_written_only_means_compiling_each_time(
    sealed: SealedCode,
) -> None:
    nowhere = SealedCode(sealed.path.parent / "gone" / sealed.path.name, b"k" * 32, "ab" * 32)
    assert run(compile_module(SOURCE, "m.py", nowhere)) == 42
    assert not nowhere.path.parent.exists()


def test_without_a_cache_it_simply_compiles() -> None:
    assert run(compile_module(SOURCE, "m.py", None)) == 42
