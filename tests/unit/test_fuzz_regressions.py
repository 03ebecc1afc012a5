"""Every input kept in fuzz/regressions/<name>/ (what a fuzzer once found escaping) is fed to
its harness fuzz/fuzz_<name>.py again: each must now give only the parser's own error."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"
CASES = sorted(p for p in (FUZZ / "regressions").glob("*/*") if p.is_file())


def harness(name: str) -> Callable[[bytes], None]:
    """``TestOneInput`` of fuzz/fuzz_<name>.py (its atheris import instruments nothing here:
    the modules are already imported)."""
    path = FUZZ / f"fuzz_{name}.py"
    spec = importlib.util.spec_from_file_location(f"fuzz_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    test_one_input: Callable[[bytes], None] = module.TestOneInput
    return test_one_input


def test_every_harness_has_regressions_and_every_regression_a_harness() -> None:
    harnesses = {p.stem.removeprefix("fuzz_") for p in FUZZ.glob("fuzz_*.py")}
    kept = {p.parent.name for p in CASES}
    assert kept <= harnesses
    assert {"handoff", "keyfile", "licence", "install_list", "wheel", "manifest"} <= kept


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_kept_input_gives_only_the_documented_error(case: Path) -> None:
    harness(case.parent.name)(case.read_bytes())
