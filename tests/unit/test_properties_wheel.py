"""Properties of the client archive reader: a wheel written reads back; any bytes, and a valid
wheel damaged, give only BadClientRelease (members encrypted, compressed by another method,
corrupt, at impossible offsets, or naming a huge version included); a release's ``custom`` and
a requirements file likewise; and the installer's own archive only a clean exit 4."""

from __future__ import annotations

import contextlib
import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from property_strategies import json_values, mutated, with_field

from tollgate import installer
from tollgate.protocol.client_release import (
    BadClientRelease,
    parse_requirements,
    read_release,
    read_wheel,
)

NAME = "demo-1.0-py3-none-any.whl"
META_PATH = "demo-1.0.dist-info/METADATA"


def wheel(
    metadata: str | bytes = "Name: demo\nVersion: 1.0\nRequires-Dist: attrs>=1\n",
    method: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as zf:
        zf.writestr("demo/__init__.py", "VALUE = 1\n" * 20)
        zf.writestr(META_PATH, metadata)
    return out.getvalue()


VALID = wheel()


def read(data: bytes) -> None:
    try:
        w = read_wheel(NAME, data)
        list(w.member_digests())
    except BadClientRelease:
        pass


def _header(data: bytearray, signature: bytes, name: str) -> int:
    """The offset of the (local or central) header of member ``name``."""
    at = -1
    while True:
        at = data.find(signature, at + 1)
        size = 30 if signature == b"PK\x03\x04" else 46
        if data[at + size : at + size + len(name)] == name.encode():
            return at


def patched(flag: int = 0, method: int | None = None, name: str = META_PATH) -> bytes:
    """VALID with the member's flag bits or compression method changed in both headers."""
    data = bytearray(VALID)
    for signature, flags_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = _header(data, signature, name)
        data[at + flags_at] |= flag
        if method is not None:
            data[at + method_at : at + method_at + 2] = method.to_bytes(2, "little")
    return bytes(data)


def corrupt_deflate() -> bytes:
    data = bytearray(VALID)
    at = _header(data, b"PK\x03\x04", META_PATH) + 30 + len(META_PATH)
    data[at : at + 4] = b"\xff\xff\xff\xff"
    return bytes(data)


def negative_offset() -> bytes:
    """The central directory's member offset pointing before the archive."""
    data = bytearray(VALID)
    at = _header(data, b"PK\x01\x02", META_PATH)
    data[at + 42 : at + 46] = (0xFFFFFF00).to_bytes(4, "little")
    return bytes(data)


def test_a_wheel_written_reads_back() -> None:
    w = read_wheel(NAME, VALID)
    assert (w.name, w.version, w.requires_dist) == ("demo", "1.0", ("attrs>=1",))
    assert {n for n, _ in w.member_digests()} == {"demo/__init__.py", META_PATH}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (patched(flag=0x1), "is encrypted"),  # zipfile: RuntimeError, password required
        (patched(method=99), "compression method 99"),  # zipfile: NotImplementedError
        (patched(method=zipfile.ZIP_LZMA), "compression method 14"),
        (corrupt_deflate(), "not a readable wheel"),  # zlib.error
        (negative_offset(), "not a readable wheel"),  # ValueError: negative seek value
        (wheel("Name: demo\nVersion: " + "1" * 5000 + "\n"), "too long"),  # int() limit
        (wheel(b"Name: demo\xff\n"), "METADATA is not UTF-8"),
    ],
)
def test_each_damaged_wheel_found_is_a_bad_client_release(data: bytes, message: str) -> None:
    with pytest.raises(BadClientRelease, match=message):
        w = read_wheel(NAME, data)
        list(w.member_digests())


def test_a_member_with_no_name_is_refused() -> None:
    """Found by the property test below: ZipInfo.is_dir() raised IndexError."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(META_PATH, "Name: demo\nVersion: 1.0\n")
        zf.writestr(zipfile.ZipInfo(""), b"x")
    w = read_wheel(NAME, out.getvalue())
    with pytest.raises(BadClientRelease, match="a member with no name"):
        list(w.member_digests())


def test_an_encrypted_member_other_than_metadata_is_refused_when_hashed() -> None:
    w = read_wheel(NAME, patched(flag=0x1, name="demo/__init__.py"))
    with pytest.raises(BadClientRelease, match="is encrypted"):
        list(w.member_digests())


@given(st.binary(max_size=600))
@example(b"PK\x05\x06" + b"\x00" * 18)
def test_any_bytes_give_only_bad_client_release(data: bytes) -> None:
    read(data)


@given(mutated(VALID))
def test_a_damaged_wheel_gives_only_bad_client_release(data: bytes) -> None:
    read(data)


@given(st.text(max_size=300))
def test_any_metadata_gives_only_bad_client_release(metadata: str) -> None:
    read(wheel(metadata.encode("utf-8", "surrogatepass").decode("utf-8", "replace")))


RELEASE: dict[str, Any] = {
    "kind": "client",
    "version": "0.2.0",
    "requires_python": ">=3.11",
    "requirements": {"attrs==23.1.0": ["attrs-23.1.0-py3-none-any.whl"]},
}


@given(json_values | with_field(RELEASE))
@example([])
@example(RELEASE | {"requires_python": ">=3." + "1" * 5000})
@example(RELEASE | {"requirements": {"attrs==1": []}})
def test_any_release_custom_gives_only_bad_client_release(custom: Any) -> None:
    with contextlib.suppress(BadClientRelease):
        read_release(custom, "0.2.0")


@given(st.text(max_size=300))
@example("a==" + "1" * 5000)
@example("--hash=sha256:" + "0" * 64)
def test_any_requirements_file_gives_only_bad_client_release(text: str) -> None:
    with contextlib.suppress(BadClientRelease):
        parse_requirements(text)


def _setup_archive(setup: bytes, flag: int = 0) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("setup.json", setup)
        zf.writestr("root.json", b"{}")
    data = bytearray(out.getvalue())
    for signature, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.find(signature) + at] |= flag
    return bytes(data)


def read_setup(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        pyz = Path(folder) / "tollgate-setup.pyz"
        pyz.write_bytes(data)
        try:
            installer.read_setup(pyz)
        except SystemExit as exc:
            assert exc.code == 4


@given(mutated(_setup_archive(b'{"files": {}, "root_sha256": "x"}')))
@example(_setup_archive(b"[" * 100_000))  # RecursionError from json.loads
@example(_setup_archive(b"{}", flag=0x1))  # RuntimeError: password required
def test_a_damaged_installer_archive_is_exit_4(data: bytes) -> None:
    read_setup(data)
