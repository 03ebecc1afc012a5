"""Properties of the manifest: any bytes, and a valid tollgate.toml damaged, give only
ManifestError (never OverflowError, ValueError or RecursionError)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from property_strategies import mutated

from tollgate.store.manifest import ManifestError, expand, load_manifest

VALID = b"""[product]
name = "MT"
version = "1.0.0"
summary = "A translator"

[core]
files = ["mt/*.py"]
entry = "mt.cli:main"

[[addon]]
name = "dic2"
revision = 1
price = 499
files = ["addons/dic2/**"]
policy = { until = 2027-12-31, days = 30, hours = "20-8", uses = 100 }
"""
FILES = ["tollgate.toml", "mt/cli.py", "addons/dic2/words.tsv"]


def load(text: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "tollgate.toml").write_bytes(text)
        try:
            manifest = load_manifest(root, FILES)
            expand(manifest, manifest.core_files, "core")
        except ManifestError:
            pass


def test_the_valid_manifest_loads() -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "tollgate.toml").write_bytes(VALID)
        manifest = load_manifest(Path(folder), FILES)
    assert manifest.addons[0].policy["until"] == "2028-01-01T00:00:00+00:00"


@given(st.binary(max_size=400))
@example(b"\xff\xfe[product]")  # not UTF-8
@example(b"a = " + b"[" * 5000 + b"]" * 5000)  # tomllib recursion
def test_any_bytes_give_only_manifest_error(data: bytes) -> None:
    load(data)


@given(mutated(VALID))
def test_a_damaged_manifest_gives_only_manifest_error(data: bytes) -> None:
    load(data)


@given(st.text(max_size=40))
def test_any_until_gives_only_manifest_error(value: str) -> None:
    load(VALID.replace(b"2027-12-31", value.encode("utf-8", "replace")))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b"2027-12-31", b"9999-12-31", "policy.until: must be a date in the years 1970 to 9998"),
        (b"2027-12-31", b"0001-01-01T00:00:00+01:00", "policy.until: must be a date"),
        (b"2027-12-31", b"0001-01-01", "policy.until: must be a date"),
        (b"days = 30", b"days = 999999999999", "policy.days: must be at most 36,500"),
        (b"uses = 100", b"uses = 9007199254740992", "policy.uses: must be at most"),
        (b"price = 499", b"price = 9007199254740992", "price: must be at most"),
        (b'"1.0.0"', b'"' + b"1" * 5000 + b'"', "product.version: must be at most"),
        (b'"1.0.0"', b'"1.' + b"1" * 80 + b'"', "product.version: must be at most 64"),
        (b'"mt/*.py"', b'"**x"', "is not a usable glob"),
        (b'"mt/*.py"', b'"mt/\\u0000"', "U\\+0000"),
        (b'name = "MT"', b'name = "MT\\n"', "is not a valid name"),
    ],
)
def test_each_value_found_is_a_manifest_error(old: bytes, new: bytes, message: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "tollgate.toml").write_bytes(VALID.replace(old, new))
        with pytest.raises(ManifestError, match=message):
            manifest = load_manifest(Path(folder), FILES)
            expand(manifest, manifest.core_files, "core")


def test_a_non_utf8_manifest_is_named() -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "tollgate.toml").write_bytes(VALID + b"# \xff\n")
        with pytest.raises(ManifestError, match="not UTF-8 text"):
            load_manifest(Path(folder), FILES)
