#!/usr/bin/env python3
"""atheris harness: the client archive reader raises only BadClientRelease, for the wheel's
METADATA and for every member it hashes."""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from tollgate.protocol.client_release import BadClientRelease, read_wheel


def TestOneInput(data: bytes) -> None:
    try:
        wheel = read_wheel("demo-1.0-py3-none-any.whl", data)
        for _name, _digest in wheel.member_digests():
            pass
    except BadClientRelease:
        pass


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
