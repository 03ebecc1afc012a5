"""The download program's release format (protocol/client_release.py): wheels read strictly,
releases assembled only when they can install, and a machine's wheels picked by its tags."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from packaging.tags import Tag, sys_tags

from tollgate.protocol.client_release import (
    BadClientRelease,
    NoWheelForMachine,
    Wheel,
    assemble,
    parse_requirements,
    read_release,
    read_wheel,
    select_wheels,
)


def wheel_bytes(
    name: str, version: str, *, requires: tuple[str, ...] = (), said: str = ""
) -> bytes:
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {said or name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(f"{name.replace('-', '_')}/__init__.py", b"")
        zf.writestr(f"{dist}/METADATA", metadata)
    return out.getvalue()


def wheel(name: str, version: str, tag: str = "py3-none-any", **kw: object) -> Wheel:
    file_name = f"{name.replace('-', '_')}-{version}-{tag}.whl"
    return read_wheel(file_name, wheel_bytes(name, version, **kw))  # type: ignore[arg-type]


PROGRAM = wheel("tollgate", "0.3.0", requires=("tollgate-runtime==0.3.0", "httpx>=0.27"))
RUNTIME = wheel("tollgate-runtime", "0.3.0", requires=("cryptography>=47",))
HTTPX = wheel("httpx", "0.28.1")
LINUX = wheel("cryptography", "50.0.2", "cp311-abi3-manylinux_2_34_x86_64")
WINDOWS = wheel("cryptography", "50.0.2", "cp311-abi3-win_amd64")


def test_a_release_names_every_wheel_of_every_pin() -> None:
    release = assemble(PROGRAM, [RUNTIME, HTTPX, LINUX, WINDOWS], None)
    assert release.version == "0.3.0"
    assert release.requirements["cryptography==50.0.2"] == tuple(
        sorted([LINUX.file_name, WINDOWS.file_name])
    )
    assert set(release.requirements) == {
        "tollgate-runtime==0.3.0",
        "httpx==0.28.1",
        "cryptography==50.0.2",
    }
    again = read_release(release.to_custom(), "0.3.0")
    assert again == release
    assert release.paths()[0] == "client/0.3.0/tollgate-0.3.0-py3-none-any.whl"


def test_a_release_that_could_not_install_is_refused() -> None:
    with pytest.raises(BadClientRelease, match="cryptography>=47"):
        assemble(PROGRAM, [RUNTIME, HTTPX], None)  # the runtime needs cryptography
    old = wheel("cryptography", "41.0.0")
    with pytest.raises(BadClientRelease, match="cryptography>=47"):
        assemble(PROGRAM, [RUNTIME, HTTPX, old], None)
    with pytest.raises(BadClientRelease, match="download program's wheel"):
        assemble(HTTPX, [RUNTIME], None)


def test_pinned_requirements_choose_the_wheels_and_check_their_hashes() -> None:
    def digest(w: Wheel) -> str:
        return "sha256:" + hashlib.sha256(w.data).hexdigest()

    pinned = {
        "tollgate-runtime==0.3.0": [],
        "httpx==0.28.1": [digest(HTTPX)],
        "cryptography==50.0.2": [digest(LINUX), digest(WINDOWS)],
    }
    stray = wheel("fastapi", "0.165.0")  # the store's, in a shared wheelhouse: left out
    release = assemble(PROGRAM, [RUNTIME, HTTPX, LINUX, WINDOWS, stray], pinned)
    assert "fastapi==0.165.0" not in release.requirements
    with pytest.raises(BadClientRelease, match="no wheel for httpx"):
        assemble(PROGRAM, [RUNTIME, LINUX], pinned)
    other = wheel("httpx", "0.28.1", "py2.py3-none-any", requires=("idna",))  # other bytes
    with pytest.raises(BadClientRelease, match="not a wheel the requirements allow"):
        assemble(PROGRAM, [RUNTIME, other, LINUX], pinned)


def test_a_release_holds_what_the_program_needs_one_version_each() -> None:
    stray = wheel("fastapi", "0.165.0")  # in the wheelhouse, needed by nothing here
    release = assemble(PROGRAM, [RUNTIME, HTTPX, LINUX, stray], None)
    assert "fastapi==0.165.0" not in release.requirements
    newer = wheel("httpx", "0.29.0")
    with pytest.raises(BadClientRelease, match="one version of each package"):
        assemble(PROGRAM, [RUNTIME, HTTPX, newer, LINUX], None)


def test_a_dependency_of_another_platform_must_be_there_when_that_platform_is() -> None:
    """A Windows-only requirement counts once the wheelhouse has a Windows wheel."""
    program = wheel(
        "tollgate",
        "0.3.0",
        requires=("tollgate-runtime==0.3.0", 'colorama; platform_system == "Windows"'),
    )
    assemble(program, [RUNTIME, LINUX], None)  # Linux only: colorama is not needed
    with pytest.raises(BadClientRelease, match="colorama"):
        assemble(program, [RUNTIME, LINUX, WINDOWS], None)
    colorama = wheel("colorama", "0.4.6")
    release = assemble(program, [RUNTIME, LINUX, WINDOWS, colorama], None)
    assert "colorama==0.4.6" in release.requirements


def test_every_member_of_a_wheel_is_read_or_the_wheel_refused() -> None:
    names = dict(HTTPX.member_digests())
    assert "httpx/__init__.py" in names
    data = bytearray(HTTPX.data)
    at = data.find(b"Metadata-Version")  # stored, not deflated: flip a byte of a member
    data[at] ^= 1
    broken = Wheel(HTTPX.file_name, bytes(data), HTTPX.name, HTTPX.version, HTTPX.tags, (), None)
    with pytest.raises(BadClientRelease, match="not a readable wheel"):
        list(broken.member_digests())


def test_the_machine_gets_its_best_wheel_or_hears_what_is_missing() -> None:
    release = assemble(PROGRAM, [RUNTIME, HTTPX, LINUX, WINDOWS], None)
    windows = [Tag("cp311", "abi3", "win_amd64"), Tag("py3", "none", "any")]
    assert select_wheels(release, windows)["cryptography==50.0.2"] == WINDOWS.file_name
    mac = [Tag("cp311", "abi3", "macosx_11_0_arm64"), Tag("py3", "none", "any")]
    with pytest.raises(NoWheelForMachine, match=r"cryptography==50\.0\.2 for this machine"):
        select_wheels(release, mac)
    here = list(sys_tags())
    chosen = select_wheels(
        assemble(PROGRAM, [RUNTIME, HTTPX, wheel("cryptography", "50.0.2")], None), here
    )
    assert chosen["httpx==0.28.1"] == HTTPX.file_name


@pytest.mark.parametrize(
    ("file_name", "data", "why"),
    [
        ("httpx.whl", wheel_bytes("httpx", "1.0"), "not a wheel file name"),
        ("../httpx-1.0-py3-none-any.whl", wheel_bytes("httpx", "1.0"), "not a wheel file name"),
        ("httpx-1.0-py3-none-any.whl", b"not a zip", "not a readable wheel"),
        ("httpx-1.0-py3-none-any.whl", wheel_bytes("httpx", "1.0", said="requests"), "holds"),
        ("httpx-1.0-py3-none-any.whl", wheel_bytes("httpx", "2.0"), "holds"),
        ("_x-1.0-py3-none-any.whl", wheel_bytes("_x", "1.0"), "refuses"),
        (f"x-1.{'1' * 70}-py3-none-any.whl", wheel_bytes("x", "1." + "1" * 70), "refuses"),
    ],
)
def test_a_wheel_is_what_its_name_says(file_name: str, data: bytes, why: str) -> None:
    with pytest.raises(BadClientRelease, match=why):
        read_wheel(file_name, data)


@pytest.mark.parametrize(
    "custom",
    [
        {"kind": "client", "version": "9.9.9", "requires_python": ">=3.11", "requirements": {}},
        {"kind": "product", "version": "0.3.0", "requires_python": ">=3.11", "requirements": {}},
        {"kind": "client", "version": "0.3.0", "requires_python": "3.11!", "requirements": {}},
        {"kind": "client", "version": "0.3.0", "requires_python": ">=3.11", "requirements": []},
        {
            "kind": "client",
            "version": "0.3.0",
            "requires_python": ">=3.11",
            "requirements": {"httpx>=1": ["httpx-1-py3-none-any.whl"]},
        },
        {
            "kind": "client",
            "version": "0.3.0",
            "requires_python": ">=3.11",
            "requirements": {"httpx==1": ["../x.whl"]},
        },
        {
            "kind": "client",
            "version": "0.3.0",
            "requires_python": ">=3.11",
            "requirements": {"httpx==1": []},
        },
    ],
)
def test_a_release_described_oddly_is_refused(custom: dict[str, object]) -> None:
    with pytest.raises(BadClientRelease):
        read_release(custom, "0.3.0")


def test_requirements_files_as_pip_compile_writes_them() -> None:
    text = (
        "# comment\n"
        "cryptography==50.0.2 \\\n"
        "    --hash=sha256:" + "a" * 64 + " \\\n"
        "    --hash=sha256:" + "b" * 64 + "\n"
        "    # via tollgate\n"
        'colorama==0.4.6 ; sys_platform == "win32"\n'
        "Typing_Extensions==4.16.0\n"
    )
    assert parse_requirements(text) == {
        "cryptography==50.0.2": ["sha256:" + "a" * 64, "sha256:" + "b" * 64],
        "colorama==0.4.6": [],
        "typing-extensions==4.16.0": [],
    }
    for junk in ("httpx>=0.27\n", "--index-url https://example.org\n", "-e .\n"):
        with pytest.raises(BadClientRelease):
            parse_requirements(junk)


def test_the_projects_own_wheels_read_back(tmp_path: Path) -> None:
    """What ``make dist`` builds is a release this format accepts (when it has been run)."""
    dist = Path(__file__).resolve().parents[2] / "dist"
    programs = sorted(dist.glob("tollgate-*-py3-none-any.whl"))
    if not programs:
        pytest.fail("no dist/ here: `make dist` builds it (make test does)")
    program = read_wheel(programs[-1].name, programs[-1].read_bytes())
    assert program.name == "tollgate"
    house = [read_wheel(p.name, p.read_bytes()) for p in (dist / "wheelhouse").glob("*.whl")]
    pinned = parse_requirements((dist / "client-requirements.txt").read_text())
    release = assemble(program, house, pinned)
    assert "fastapi" not in {p.split("==")[0] for p in release.requirements}
    assert select_wheels(release, list(sys_tags()))
