#!/usr/bin/env python3
"""Write the seed corpus of every harness into fuzz/corpus/<name>/ (gitignored): small valid
inputs, made fresh at each run, so no key is ever committed (the keys here are throwaway)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import sys
import zipfile
from pathlib import Path

import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tollgate.crypto.documents import sign_document
from tollgate.crypto.keyfile import Argon2Params, Binding, seal_key
from tollgate.crypto.stream import MIN_CHUNK_SIZE, encrypt
from tollgate.protocol.environment import Environment
from tollgate.protocol.zstd import make_patch
from tollgate.wire import install_list
from tollgate.wire.handoff import HandOff
from tollgate.wire.install_list import Install
from tollgate.wire.licence import LicensedFile, Policy, licence_body
from tollgate.wire.targets import file_target, release_target

FUZZ = Path(__file__).resolve().parent
STREAM_KEY = bytes(range(32))  # fuzz_stream_header.py's key
PATCH_BASE = b"the quick brown fox " * 40  # fuzz_zstd.py's base


def handoff() -> list[bytes]:
    links = [
        HandOff("install", "st_0123456789abcdef", "MT"),
        HandOff("buy", "st_0123456789abcdef", "MT", "dic2"),
    ]
    return [h.link().encode() for h in links] + [b"tollgate://[", b"tollgate://buy?store=st_a"]


def keyfile() -> list[bytes]:
    tiny = Argon2Params(salt=os.urandom(16), memory_cost=8, iterations=1, lanes=1)
    return [
        seal_key(
            os.urandom(32),
            store_id="st_fuzz",
            customer_id="cu_fuzz",
            binding=binding,
            machine_id="0123456789abcdef",
            password="pw" if binding.needs_password else None,
            argon2=tiny if binding.needs_password else None,
        ).to_bytes()
        for binding in Binding
    ]


def licence() -> list[bytes]:
    files = [
        LicensedFile("words.tsv", "MT/1.0/addon.dic2/words", "0" * 64, 10, b"c" * 32, b"w" * 40)
    ]
    body = licence_body(
        licence_id="li_1",
        store_id="st_fuzz",
        customer_id="cu_fuzz",
        product="MT",
        addon="dic2",
        function="dictionary",
        revision=1,
        version="1.0.0",
        order_id="or_1",
        policy=Policy(hours=(20, 8), uses=100, offline_uses=20),
        issued_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
        counter=1,
        files=files,
    )
    signed = sign_document(body, Ed25519PrivateKey.generate())
    return [json.dumps(body).encode(), json.dumps(signed).encode()]


def install_lists() -> list[bytes]:
    data = b"print('hi')\n"
    target = file_target("MT", "1.0.0", None, "mt/cli.py")
    entry = {
        "name": "mt/cli.py",
        "version": "1.0.0",
        "function": "core",
        "revision": 0,
        "encrypted": False,
        "compression": "none",
        "size": len(data),
        "environment": [],
        "parts": [{"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}],
    }
    release = {
        "kind": "release",
        "product": "MT",
        "version": "1.0.0",
        "notes": "New",
        "entry": "mt.cli:main",
        "requires": [],
        "files": [{"target": target, "environment": []}],
        "addons": [],
    }
    doc = install_list.build(
        store_id="st_fuzz",
        store_url="http://127.0.0.1:8000",
        product="MT",
        version="1.0.0",
        release=release_target("MT", "1.0.0"),
        client_version="0.1.0",
        environment=Environment("linux", "6", "x86_64", "3.11.7", "cpython", frozenset()).to_json(),
        notes="New",
        requires=[],
        installs=[Install(target, entry)],
        handoff=HandOff("buy", "st_fuzz", "MT", "dic2"),
    )
    doc["signed"] = {release_target("MT", "1.0.0"): release, target: entry}
    return [json.dumps(doc).encode()]


def wheel() -> list[bytes]:
    seeds = []
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", method) as zf:
            zf.writestr("demo/__init__.py", "VALUE = 1\n")
            zf.writestr("demo-1.0.dist-info/METADATA", "Name: demo\nVersion: 1.0\n")
        seeds.append(out.getvalue())
    return seeds


def manifest() -> list[bytes]:
    mt = (FUZZ.parent / "examples" / "mt" / "tollgate.toml").read_bytes()
    small = (
        b'[product]\nname = "MT"\nversion = "1.0"\n'
        b'[core]\nfiles = ["mt/*.py"]\nentry = "mt.cli:main"\n'
    )
    return [mt, small]


def stream_header() -> list[bytes]:
    return [
        encrypt(STREAM_KEY, "MT/1.0/addon.dic2/words", os.urandom(n), chunk_size=MIN_CHUNK_SIZE)
        for n in (0, 100, 2 * MIN_CHUNK_SIZE + 7)
    ]


def zstd() -> list[bytes]:
    frame = zstandard.ZstdCompressor(write_content_size=True).compress(b"x" * 640)
    patch = make_patch(PATCH_BASE, PATCH_BASE.replace(b"fox", b"cat"))
    return [bytes([10]) + frame, bytes([0]) + patch]


SEEDS = {
    "handoff": handoff,
    "keyfile": keyfile,
    "licence": licence,
    "install_list": install_lists,
    "wheel": wheel,
    "manifest": manifest,
    "stream_header": stream_header,
    "zstd": zstd,
}


def main(names: list[str]) -> None:
    for name in names or sorted(SEEDS):
        folder = FUZZ / "corpus" / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, seed in enumerate(SEEDS[name]()):
            (folder / f"seed-{i}").write_bytes(seed)
        print(f"fuzz/corpus/{name}: {len(list(folder.iterdir()))} inputs")


if __name__ == "__main__":
    main(sys.argv[1:])
