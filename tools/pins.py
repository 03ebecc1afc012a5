"""Pinned requirements of one of Tollgate's distributions, for `make dist`.

    python tools/pins.py tollgate --lock requirements.lock --wheels dist
    python tools/pins.py tollgate-store --lock requirements.lock --third-party

Walks the distribution's dependencies, transitively, as installed in this (the development)
environment, leaving out extras and what markers exclude here, and prints one line per
package: ``name==version --hash=sha256:…``, the hashes the lock records for that version. The
project's own distributions are pinned to the wheels ``--wheels`` holds (their SHA-256), or
left out with ``--third-party`` (what ``pip download`` is given). A package the lock does not
pin is an error: the lock is out of date (`make lock`).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

OWN = {"tollgate", "tollgate-runtime", "tollgate-store"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\;]+)")
_HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


def closure(root: str) -> set[str]:
    """The installed distributions ``root`` needs, transitively (canonical names)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    pending: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while pending:
        name, extras = pending.pop()
        for line in metadata.requires(name) or []:
            req = Requirement(line)
            if req.marker is not None and not any(
                req.marker.evaluate({"extra": e}) for e in (extras or {""})
            ):
                continue
            wanted = (canonicalize_name(req.name), frozenset(req.extras))
            if wanted not in seen:
                seen.add(wanted)
                pending.append(wanted)
    return {name for name, _ in seen}


def locked_hashes(lock: str) -> dict[tuple[str, str], list[str]]:
    """``(canonical name, version) -> ["sha256:…", …]`` from a pip-compile lock."""
    found: dict[tuple[str, str], list[str]] = {}
    current: list[str] | None = None
    for line in lock.splitlines():
        pin = _PIN.match(line)
        if pin:
            current = found.setdefault((canonicalize_name(pin[1]), pin[2]), [])
        elif current is not None and (digest := _HASH.search(line)):
            current.append(digest[1])
        elif not line.startswith(" "):
            current = None
    return found


def own_wheels(folder: Path) -> dict[str, tuple[str, str]]:
    """The project's wheels in ``folder``: name -> (version, sha256:…)."""
    found = {}
    for path in folder.glob("*.whl"):
        name, version, _, _ = parse_wheel_filename(path.name)
        if name in OWN:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[str(name)] = (str(version), f"sha256:{digest}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("distribution", choices=sorted(OWN))
    parser.add_argument("--lock", type=Path, required=True)
    parser.add_argument("--wheels", type=Path, help="Where the project's own wheels are.")
    parser.add_argument("--third-party", action="store_true", help="Leave out our own.")
    args = parser.parse_args()
    locked = locked_hashes(args.lock.read_text())
    own = own_wheels(args.wheels) if args.wheels else {}
    lines = []
    for name in sorted(closure(args.distribution)):
        if name in OWN:
            if args.third_party:
                continue
            if name not in own:
                sys.exit(f"pins: no wheel of {name} in {args.wheels}")
            version, digest = own[name]
            lines.append(f"{name}=={version} --hash={digest}")
            continue
        version = metadata.version(name)
        hashes = locked.get((name, version))
        if not hashes:
            sys.exit(f"pins: {name}=={version} is not in {args.lock}; run `make lock`")
        lines.append(f"{name}=={version} " + " ".join(f"--hash={h}" for h in hashes))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
