"""tollgate.toml: every error names the file and the key; a bad manifest publishes nothing."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import MT
from tollgate.store.context import open_store
from tollgate.store.db import Release
from tollgate.store.folder import StoreFolder
from tollgate.store.manifest import ManifestError, load_manifest


def product_with(tmp_path: Path, old: str, new: str) -> Path:
    src = tmp_path / "mt"
    shutil.copytree(MT, src)
    toml = src / "tollgate.toml"
    text = toml.read_text()
    assert old in text
    toml.write_text(text.replace(old, new))
    return src


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('version = "1.0.0"', 'version = "one"', "product.version"),
        ("price = 300", "price = -1", 'addon "dic2".price'),
        ("price = 300", 'price = "300"', 'addon "dic2".price'),
        ('entry = "mt.cli:main"', 'entry = "not an entry"', "core.entry"),
        ('files = ["addons/mt_dic2/**"]', 'files = ["nothing/**"]', 'addon "dic2".files'),
        ('files = ["addons/mt_dic2/**"]', 'files = ["../../etc/*"]', 'addon "dic2".files'),
        ('currency = "JPY"', 'currency = "yen"', 'addon "dic2".currency'),
        (
            'policy = { kind = "perpetual" }',
            'policy = { kind = "forever" }',
            'addon "dic2".policy.kind',
        ),
        (
            'policy = { kind = "perpetual" }',
            "policy = { forever = true }",
            'addon "dic2".policy.forever',
        ),
        (
            'policy = { kind = "perpetual" }',
            'policy = { hours = "25-3" }',
            'addon "dic2".policy.hours',
        ),
        (
            'policy = { kind = "perpetual" }',
            'policy = { hours = "8" }',
            'addon "dic2".policy.hours',
        ),
        (
            'policy = { kind = "perpetual" }',
            'policy = { until = "soon" }',
            'addon "dic2".policy.until',
        ),
        (
            'policy = { kind = "perpetual" }',
            "policy = { until = 2027-12-31T10:00:00 }",
            'addon "dic2".policy.until',
        ),
        ('policy = { kind = "perpetual" }', "policy = { days = 0 }", 'addon "dic2".policy.days'),
        ('policy = { kind = "perpetual" }', "policy = { uses = -1 }", 'addon "dic2".policy.uses'),
        (
            'policy = { kind = "perpetual" }',
            'policy = { os_release = "yes" }',
            'addon "dic2".policy.os_release',
        ),
        ("[core]", "[kore]", "kore"),
        ('summary = "', 'sumary = "', "product.sumary"),
        ("price = 300", "price = 3.5", 'addon "dic2".price'),
        ("price = 300", "price = 300\nprise = 200", 'addon "dic2".prise'),
        ('name = "MT"', "name = ", "(syntax)"),
    ],
)
def test_bad_manifest_names_file_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    src = product_with(tmp_path, old, new)
    folder = StoreFolder.create(tmp_path / "store", name="t")
    ctx = open_store(folder)
    with pytest.raises(ManifestError) as info:
        ctx.publish(src)
    assert info.value.key == key
    assert str(src / "tollgate.toml") in str(info.value)
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Release)) == 0


def test_lower_or_equal_version_is_refused(tmp_path: Path) -> None:
    folder = StoreFolder.create(tmp_path / "store", name="t")
    ctx = open_store(folder)

    ctx.publish(MT)
    with pytest.raises(ManifestError, match="not newer"):
        ctx.publish(MT)


def test_example_manifest_reads() -> None:
    m = load_manifest(MT)
    assert (m.name, str(m.version), m.addons[0].name, m.addons[0].price) == (
        "MT",
        "1.0.0",
        "dic2",
        300,
    )


def test_policy_rules_read_into_their_stored_form(tmp_path: Path) -> None:
    src = product_with(
        tmp_path,
        'policy = { kind = "perpetual" }',
        'policy = { until = 2027-12-31, days = 30, hours = "20-8", os_release = true, '
        "uses = 5, per_use = 20 }",
    )
    assert load_manifest(src).addons[0].policy == {
        "until": "2028-01-01T00:00:00+00:00",  # through the last day, UTC
        "days": 30,
        "hours": [20, 8],
        "os_release": True,
        "uses": 5,
        "per_use": 20,
    }
    assert load_manifest(MT).addons[0].policy == {}  # perpetual: no rules


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("summary", "Fine \u001b[31mred"),
        ("notes", "bell \u0007"),
        ("summary", "right-to-left \u202e override"),
        ("name", "MT\n"),
    ],
)
def test_text_customers_read_holds_no_control_characters(
    tmp_path: Path, key: str, value: str
) -> None:
    src = tmp_path / "p"
    shutil.copytree(MT, src, ignore=shutil.ignore_patterns("__pycache__"))
    toml = src / "tollgate.toml"
    line = f"{key} = {json.dumps(value)}"
    text = re.sub(f"(?m)^{key} = .*$", lambda _: line, toml.read_text(), count=1)
    toml.write_text(text)
    with pytest.raises(ManifestError, match=f"product.{key}"):
        load_manifest(src)


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ('summary = "', 'sumary = "', "unknown key; did you mean 'summary'?"),
        ("price = 300", "price = 4.99", "smallest unit (yen for JPY, cents for USD"),
        ("[[addon]]", "[[addons]]", "did you mean 'addon'?"),
    ],
)
def test_a_manifest_error_says_what_was_meant(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    src = product_with(tmp_path, old, new)
    with pytest.raises(ManifestError) as info:
        load_manifest(src)
    assert said in str(info.value)
