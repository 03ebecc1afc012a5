#!/usr/bin/env python3
"""atheris harness: the ``tollgate://`` link parser raises only BadHandOff."""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from tollgate.wire.handoff import BadHandOff, parse_link


def TestOneInput(data: bytes) -> None:
    try:
        handoff = parse_link(data.decode("utf-8", "surrogateescape"))
    except BadHandOff:
        return
    assert parse_link(handoff.link()) == handoff


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
