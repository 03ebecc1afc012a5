"""A machine's environment: what the client sends and what selects the files a store sends it.

An environment is the OS, its release, the architecture, the Python version and implementation
(from ``platform``), and a set of *tags*: the names a vendor may write in a manifest's
``[[environment]] tags``. The tags are single `packaging.tags` components, not whole wheel
triples: the interpreter (``cp311``), the Python line (``py3``, ``py311``), every platform tag
the machine accepts (``manylinux_2_17_x86_64``, ``linux_x86_64``, ...), and the OS name
(``linux``, ``darwin``, ``windows``). A file published with tags is selected when any of them
is one of the machine's; a file with none runs everywhere.

Sent as query parameters (``os``, ``release``, ``machine``, ``python``, ``implementation``,
``tag`` repeated), bounded so a hostile request cannot make the store do much work.
"""

from __future__ import annotations

import platform
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from packaging import tags as packaging_tags

# Matched whole: \A…\Z, since $ also matches before a trailing newline ("cp311\n").
TAG_RE = re.compile(r"\A[a-z0-9][a-z0-9_.]{0,79}\Z")
FIELD_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.+~-]{0,79}\Z")
MAX_TAGS = 200
FIELDS = ("os", "release", "machine", "python", "implementation")


# Searched in order: Android's and Chrome OS's agents also say "Linux".
_UA_SYSTEMS = (
    ("windows", ("Windows",)),
    ("darwin", ("Macintosh", "Mac OS X")),
    ("android", ("Android",)),
    ("linux", ("Linux", "X11", "CrOS")),
)
_UA_MACHINES = (
    ("x86_64", ("x86_64", "Win64", "WOW64", "x64", "amd64")),
    ("aarch64", ("aarch64", "arm64", "ARM64")),
)


class BadEnvironment(ValueError):
    """An environment sent by a client that cannot be read (bad field or tag)."""


@dataclass(frozen=True)
class Environment:
    os: str
    release: str
    machine: str
    python: str
    implementation: str
    tags: frozenset[str]

    @classmethod
    def current(cls) -> Environment:
        """This machine, as `packaging.tags` and `platform` see it."""
        interpreter = packaging_tags.interpreter_name() + packaging_tags.interpreter_version()
        major, minor = sys.version_info[:2]
        system = platform.system().lower() or sys.platform
        names = {interpreter, f"py{major}", f"py{major}{minor}", system}
        names.update(packaging_tags.platform_tags())
        return cls(
            os=system,
            release=_field_value(platform.release()),
            machine=_field_value(platform.machine()),
            python=platform.python_version(),
            implementation=platform.python_implementation().lower(),
            tags=frozenset(t for t in names if TAG_RE.fullmatch(t)),
        )

    @classmethod
    def from_user_agent(cls, user_agent: str) -> Environment:
        """A browser's guess at its machine: the OS and architecture its User-Agent names.
        The Python is unknown, so only files published for any Python of that OS are chosen;
        the download program replaces the guess with the machine's own environment."""
        ua = user_agent[:512]
        system = next((os for os, words in _UA_SYSTEMS if any(w in ua for w in words)), "unknown")
        machine = next((m for m, words in _UA_MACHINES if any(w in ua for w in words)), "unknown")
        return cls(
            os=system,
            release="unknown",
            machine=machine,
            python="unknown",
            implementation="unknown",
            tags=frozenset() if system == "unknown" else frozenset({system}),
        )

    def selects(self, tags: Sequence[str]) -> bool:
        """Whether a file published for ``tags`` belongs on this machine."""
        return not tags or any(t in self.tags for t in tags)

    def query(self) -> list[tuple[str, str]]:
        pairs = [(f, str(getattr(self, f))) for f in FIELDS]
        return pairs + [("tag", t) for t in sorted(self.tags)]

    @classmethod
    def from_query(cls, items: Iterable[tuple[str, str]]) -> Environment:
        """Read an environment from query parameters; unknown parameters are refused."""
        fields: dict[str, str] = {}
        tags: set[str] = set()
        for key, value in items:
            if key == "tag":
                if not isinstance(value, str) or not TAG_RE.fullmatch(value):
                    raise BadEnvironment(f"tag {str(value)[:40]!r} is not a packaging.tags name")
                tags.add(value)
                if len(tags) > MAX_TAGS:
                    raise BadEnvironment(f"at most {MAX_TAGS} tags")
            elif key in FIELDS:
                if key in fields or not isinstance(value, str) or not FIELD_RE.fullmatch(value):
                    raise BadEnvironment(f"{key} must be given once, as a short plain value")
                fields[key] = value
            else:
                raise BadEnvironment(f"unknown environment parameter {str(key)[:40]!r}")
        missing = [f for f in FIELDS if f not in fields]
        if missing:
            raise BadEnvironment(f"missing environment parameters: {', '.join(missing)}")
        return cls(tags=frozenset(tags), **fields)

    def to_json(self) -> dict[str, Any]:
        return {**{f: getattr(self, f) for f in FIELDS}, "tags": sorted(self.tags)}


def _field_value(raw: str) -> str:
    """``platform`` values made to fit FIELD_RE (some kernels report spaces or '#')."""
    cleaned = re.sub(r"[^A-Za-z0-9_.+~-]", "_", raw)[:80]
    return cleaned if cleaned and cleaned[0].isalnum() else "unknown"
