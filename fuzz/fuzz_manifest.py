#!/usr/bin/env python3
"""atheris harness: tollgate.toml raises only ManifestError, loaded and its globs expanded."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from tollgate.store.manifest import ManifestError, expand, load_manifest

FOLDER = Path(tempfile.mkdtemp(prefix="fuzz-manifest-"))
FILES = ["tollgate.toml", "mt/cli.py"]
(FOLDER / "mt").mkdir()
(FOLDER / "mt" / "cli.py").write_text("def main(argv):\n    return 0\n")


def TestOneInput(data: bytes) -> None:
    (FOLDER / "tollgate.toml").write_bytes(data)
    try:
        manifest = load_manifest(FOLDER, FILES)
        expand(manifest, manifest.core_files, "core")
        for addon in manifest.addons:
            expand(manifest, addon.files, f"addon {addon.name}")
    except ManifestError:
        pass


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
