"""TUF target names: every product file is four segments, whatever its path."""

from __future__ import annotations

import pytest
from tuf.api.metadata import DelegatedRole

from tollgate.store.repository import product_paths
from tollgate.wire.targets import FileTarget, file_target, parse_file_target


@pytest.mark.parametrize(
    ("addon", "path"),
    [(None, "mt/cli.py"), ("dic2", "addons/mt_dic2/dictionary.tsv"), ("x.y", "a b/ü%2F.txt")],
)
def test_round_trip_and_delegation(addon: str | None, path: str) -> None:
    target = file_target("MT", "1.2.0", addon, path)
    assert target.count("/") == 3
    assert parse_file_target(target) == FileTarget("MT", "1.2.0", addon, path)
    role = DelegatedRole("products.MT", [], 1, True, paths=product_paths("MT"))
    assert role.is_delegated_path(target)
    assert not role.is_delegated_path(file_target("MTX", "1.2.0", addon, path))


@pytest.mark.parametrize(
    "bad", ["MT/1.0/core", "MT/1.0/addon./x", "MT/1.0/other/x", "MT//core/x", "a/b/c/d/e"]
)
def test_malformed_targets_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a product file target"):
        parse_file_target(bad)
