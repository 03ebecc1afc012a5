#!/usr/bin/env python3
"""atheris harness: an install list raises only MalformedInstallList when parsed, and only
IntegrityFailure when verified against signed targets. The input is a JSON object: the list,
with ``"signed"`` (read off before checking) the targets' ``custom`` by name, so the fuzzer
also chooses what the store signed."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from typing import Any, cast

import atheris

with atheris.instrument_imports():
    from tollgate.client.errors import IntegrityFailure
    from tollgate.client.install_list import verify_install_list
    from tollgate.client.trust import StoreTrust
    from tollgate.crypto import bounded_json
    from tollgate.protocol.environment import Environment
    from tollgate.wire import install_list

ENVIRONMENT = Environment("linux", "6", "x86_64", "3.11.7", "cpython", frozenset({"linux"}))


@dataclass
class Signed:
    path: str
    length: int
    hashes: dict[str, str]
    custom: Any


class Trust:
    def __init__(self, signed: Any) -> None:
        self.signed = signed if isinstance(signed, dict) else {}

    def target(self, path: str) -> Signed:
        if path not in self.signed:
            raise IntegrityFailure(f"not listed: {path}")
        return Signed(path, 12, {"sha256": "0" * 64}, self.signed[path])


def TestOneInput(data: bytes) -> None:
    try:
        doc = bounded_json.loads(data, max_size=1 << 20)
    except bounded_json.BadJSON:
        return
    signed = doc.pop("signed", None) if isinstance(doc, dict) else None
    with contextlib.suppress(install_list.MalformedInstallList):
        install_list.parse(doc)
    store_id = doc.get("store_id") if isinstance(doc, dict) else None
    product = doc.get("product") if isinstance(doc, dict) else None
    with contextlib.suppress(IntegrityFailure):
        verify_install_list(
            doc, cast(StoreTrust, Trust(signed)), str(store_id), str(product), ENVIRONMENT
        )


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
