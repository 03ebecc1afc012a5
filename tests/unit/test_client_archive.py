"""The download program's archive format: built the same way every time, and read only when
every member is a plain file under tollgate/ with a version that parses."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

import tollgate
from tollgate.wire.client_archive import (
    BadClientArchive,
    archive_version,
    build_archive,
    client_target,
    read_archive,
)

INIT = b'"""x"""\n__version__ = "2.0.1"\n'


def zipped(members: dict[str, bytes], mode: int | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, body in members.items():
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, body)
    return out.getvalue()


def test_build_is_deterministic_and_reads_back(tmp_path: Path) -> None:
    package = Path(tollgate.__file__).parent
    first, second = build_archive(package), build_archive(package)
    assert first == second
    members = read_archive(first)
    assert archive_version(members) == tollgate.__version__
    assert "tollgate/client/program.py" in members
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in members)
    assert client_target("1.2.3") == "client/1.2.3/tollgate-client.zip"


@pytest.mark.parametrize(
    "members",
    [
        {"tollgate/__init__.py": INIT, "../evil.py": b""},
        {"tollgate/__init__.py": INIT, "/etc/passwd": b""},
        {"tollgate/__init__.py": INIT, "tollgate/../../x.py": b""},
        {"tollgate/__init__.py": INIT, "tollgate\\..\\x.py": b""},
        {"tollgate/__init__.py": INIT, "other/x.py": b""},
        {"tollgate/__init__.py": INIT, "tollgate//x.py": b""},
        {"tollgate/__init__.py": INIT, "tollgate/sub/": b""},
        {"tollgate/cli.py": b""},  # no __init__.py
        {"tollgate/__init__.py": b"__version__ = 'not a version!'\n"},
        {"tollgate/__init__.py": b"__version__ = compute()\n"},
        {"tollgate/__init__.py": b"def broken(:\n"},
    ],
)
def test_hostile_or_malformed_archives_are_refused(members: dict[str, bytes]) -> None:
    with pytest.raises(BadClientArchive):
        read_archive(zipped(members))


def test_links_and_non_zips_are_refused() -> None:
    link = zipped({"tollgate/__init__.py": INIT}, mode=stat.S_IFLNK | 0o777)
    with pytest.raises(BadClientArchive):
        read_archive(link)
    with pytest.raises(BadClientArchive):
        read_archive(b"PK\x03\x04 truncated")
    assert archive_version(read_archive(zipped({"tollgate/__init__.py": INIT}))) == "2.0.1"
