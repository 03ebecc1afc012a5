"""Rebuilding an encrypted add-on file from the one held and an encrypted patch, in memory: the
result is the published ciphertext byte for byte, or nothing."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, fields, replace
from typing import Any

import pytest

from tollgate.client.addon_update import rebuild_encrypted
from tollgate.client.errors import IntegrityFailure
from tollgate.crypto import CryptoError, stream
from tollgate.protocol import zstd
from tollgate.wire.licence import LicensedFile
from tollgate.wire.targets import patch_stream_id

OLD_ID = "store/MT/1.0.0/dic2/addons/mt_dic2/dictionary.tsv"
NEW_ID = "store/MT/1.1.0/dic2/addons/mt_dic2/dictionary.tsv"


def published(key: bytes, file_id: str, plain: bytes) -> tuple[bytes, LicensedFile]:
    ciphertext = stream.encrypt(key, file_id, plain, chunk_size=4096)
    header = stream.parse_header(ciphertext)
    digest = hashlib.sha256(ciphertext).hexdigest()
    return ciphertext, LicensedFile(
        "dictionary.tsv", file_id, digest, len(ciphertext), header.commitment, b""
    )


@dataclass(frozen=True)
class Inputs:
    """What ``rebuild_encrypted`` takes, and the ciphertext the store published."""

    old_ciphertext: bytes
    old_key: bytes
    old: LicensedFile
    patch_ciphertext: bytes
    new_key: bytes
    new: LicensedFile
    stream_header: bytes
    size: int
    expected: bytes

    def rebuild(self, **changed: Any) -> bytes:
        args = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "expected"}
        return rebuild_encrypted(**(args | changed))


@pytest.fixture
def inputs() -> Inputs:
    old_plain = os.urandom(20_000) + b"word\tkotoba\n" * 2000
    new_plain = old_plain[:30_000] + b"update\tappudeeto\n" + old_plain[30_000:]
    old_key, new_key = os.urandom(32), os.urandom(32)
    old_ct, old = published(old_key, OLD_ID, old_plain)
    new_ct, new = published(new_key, NEW_ID, new_plain)
    delta = zstd.make_patch(old_plain, new_plain)
    patch = stream.encrypt(new_key, patch_stream_id(NEW_ID, old.digest), delta)
    return Inputs(
        old_ct,
        old_key,
        old,
        patch,
        new_key,
        new,
        stream.parse_header(new_ct).raw,
        len(new_plain),
        new_ct,
    )


def test_rebuilds_exactly_the_published_ciphertext(inputs: Inputs) -> None:
    assert inputs.rebuild() == inputs.expected
    assert len(inputs.patch_ciphertext) < len(inputs.expected) / 10


def test_a_header_with_another_salt_is_refused(inputs: Inputs) -> None:
    other = stream.build_header(inputs.new_key, NEW_ID, chunk_size=4096)[0]
    with pytest.raises(IntegrityFailure, match="stream header"):
        inputs.rebuild(stream_header=other.raw)


def test_a_header_that_is_not_a_stream_header_is_refused(inputs: Inputs) -> None:
    with pytest.raises(CryptoError):
        inputs.rebuild(stream_header=b"not a header")


def test_wrong_keys_and_altered_inputs_fail(inputs: Inputs) -> None:
    with pytest.raises(CryptoError):
        inputs.rebuild(old_key=os.urandom(32))
    with pytest.raises(CryptoError):
        inputs.rebuild(new_key=os.urandom(32))
    patch = bytearray(inputs.patch_ciphertext)
    patch[-1] ^= 1
    with pytest.raises(CryptoError):
        inputs.rebuild(patch_ciphertext=bytes(patch))


def test_a_patch_for_another_base_is_refused(inputs: Inputs) -> None:
    """The patch stream's file id names the ciphertext it patches."""
    with pytest.raises(CryptoError):
        inputs.rebuild(old=replace(inputs.old, digest="0" * 64))


def test_another_size_is_refused(inputs: Inputs) -> None:
    with pytest.raises(zstd.ZstdFailure):
        inputs.rebuild(size=inputs.size + 1)
