"""The desktop hand-off on freedesktop systems (Linux, BSD): the browser gives install-list
files and ``tollgate://`` links to ``tollgate open``.

Three files under the customer's own XDG folders, nothing system-wide:

- ``$XDG_DATA_HOME/applications/tollgate-open.desktop``: the handler, ``tollgate open %u``;
- ``$XDG_DATA_HOME/mime/packages/tollgate.xml``: shared-mime-info for the install-list media
  type and its ``*.tollgate`` files;
- ``$XDG_CONFIG_HOME/mimeapps.list``: the handler as the default for both, written by
  ``xdg-mime default`` when xdg-utils is installed, and otherwise edited here the same way.

Each file is written to a temporary file and renamed into place. Windows and macOS take
documented manual steps (docs/handoff.md).
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tollgate.client.program import ProgramFolder
from tollgate.files import write_atomic
from tollgate.wire.handoff import SCHEME
from tollgate.wire.install_list import MEDIA_TYPE

DESKTOP_ID = "tollgate-open.desktop"
SCHEME_TYPE = f"x-scheme-handler/{SCHEME}"
HANDLED = (MEDIA_TYPE, SCHEME_TYPE)
DEFAULTS = "Default Applications"
MIME_XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">
  <mime-type type="{MEDIA_TYPE}">
    <comment>Tollgate install list</comment>
    <sub-class-of type="application/json"/>
    <glob pattern="*.tollgate"/>
  </mime-type>
</mime-info>
"""


def _xdg(variable: str, default: str) -> Path:
    value = os.environ.get(variable, "")
    return Path(value) if os.path.isabs(value) else Path.home() / default


@dataclass(frozen=True)
class DesktopFolders:
    data: Path  # $XDG_DATA_HOME
    config: Path  # $XDG_CONFIG_HOME

    @classmethod
    def current(cls) -> DesktopFolders:
        return cls(_xdg("XDG_DATA_HOME", ".local/share"), _xdg("XDG_CONFIG_HOME", ".config"))

    @property
    def desktop_file(self) -> Path:
        return self.data / "applications" / DESKTOP_ID

    @property
    def mime_file(self) -> Path:
        return self.data / "mime" / "packages" / "tollgate.xml"

    @property
    def mimeapps(self) -> Path:
        return self.config / "mimeapps.list"


def _exec_argument(arg: str) -> str:
    """Quote one argument of a desktop entry's Exec key (Desktop Entry Specification)."""
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`%="):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg).replace("%", "%%")
    return f'"{escaped}"'


def handler_command(home: Path | None) -> list[str]:
    """How the desktop starts this download program, with the client folder it uses: through
    the launcher when the program runs from its slots (so an update changes what runs)."""
    folder = ProgramFolder.running()
    command = [sys.executable, "-P", "-m", "tollgate"] if folder is None else folder.command()
    return command + (["--home", str(home)] if home is not None else [])


def desktop_entry(command: list[str]) -> str:
    exec_line = " ".join(_exec_argument(a) for a in [*command, "open"]) + " %u"
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Tollgate\n"
        "Comment=Install and buy from Tollgate stores\n"
        f"Exec={exec_line}\n"
        "Terminal=false\n"
        "NoDisplay=true\n"
        f"MimeType={';'.join(HANDLED)};\n"
    )


def _write(path: Path, text: str) -> None:
    write_atomic(path, text.encode(), mode=0o644)


def _read_mimeapps(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    if path.is_file():
        parser.read(path)
    return parser


def _set_defaults(folders: DesktopFolders, desktop_id: str | None) -> None:
    """Make ``desktop_id`` the default for the handled types (None: remove ours)."""
    parser = _read_mimeapps(folders.mimeapps)
    if not parser.has_section(DEFAULTS):
        parser.add_section(DEFAULTS)
    for mime_type in HANDLED:
        if desktop_id is not None:
            parser.set(DEFAULTS, mime_type, desktop_id + ";")
        elif parser.get(DEFAULTS, mime_type, fallback="").startswith(DESKTOP_ID):
            parser.remove_option(DEFAULTS, mime_type)
    lines = []
    for section in parser.sections():
        lines.append(f"[{section}]")
        lines += [f"{key}={value}" for key, value in parser.items(section)]
        lines.append("")
    _write(folders.mimeapps, "\n".join(lines))


def _run_if_present(tool: str, *args: str) -> bool:
    path = shutil.which(tool)
    if path is None:
        return False
    return subprocess.run([path, *args], capture_output=True, check=False).returncode == 0


@dataclass(frozen=True)
class HandlerStatus:
    installed: bool
    default: bool  # the handler is the default for both types
    desktop_file: str
    command: str | None  # the Exec line

    def to_json(self) -> dict[str, object]:
        return self.__dict__.copy()


def install_handler(command: list[str], folders: DesktopFolders | None = None) -> HandlerStatus:
    folders = folders or DesktopFolders.current()
    _write(folders.desktop_file, desktop_entry(command))
    _write(folders.mime_file, MIME_XML)
    _run_if_present("update-mime-database", str(folders.data / "mime"))
    _run_if_present("update-desktop-database", str(folders.desktop_file.parent))
    if not _run_if_present("xdg-mime", "default", DESKTOP_ID, *HANDLED):
        _set_defaults(folders, DESKTOP_ID)
    return handler_status(folders)


def remove_handler(folders: DesktopFolders | None = None) -> HandlerStatus:
    folders = folders or DesktopFolders.current()
    folders.desktop_file.unlink(missing_ok=True)
    folders.mime_file.unlink(missing_ok=True)
    _run_if_present("update-mime-database", str(folders.data / "mime"))
    if folders.mimeapps.is_file():
        _set_defaults(folders, None)
    return handler_status(folders)


def handler_status(folders: DesktopFolders | None = None) -> HandlerStatus:
    folders = folders or DesktopFolders.current()
    installed = folders.desktop_file.is_file() and folders.mime_file.is_file()
    defaults = _read_mimeapps(folders.mimeapps)
    default = all(
        defaults.get(DEFAULTS, t, fallback="").split(";")[0] == DESKTOP_ID for t in HANDLED
    )
    command = None
    if installed:
        for line in folders.desktop_file.read_text().splitlines():
            if line.startswith("Exec="):
                command = line.removeprefix("Exec=")
    return HandlerStatus(installed, default, str(folders.desktop_file), command)
