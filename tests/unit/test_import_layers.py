"""The three distributions stay apart: each one's modules import only the standard library,
what its own pyproject.toml declares, and the ``tollgate`` subpackages of the distributions it
depends on (a lazy import inside a function counts too); and their versions move together."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import tollgate.client
import tollgate.runtime
import tollgate.store

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
# distribution folder -> the distributions of ours it may import from (itself included)
LAYERS = {
    "runtime": ("runtime",),
    "client": ("client", "runtime"),
    "store": ("store", "client", "runtime"),
}


def project(folder: str) -> dict[str, object]:
    with (PACKAGES / folder / "pyproject.toml").open("rb") as f:
        return dict(tomllib.load(f)["project"])


def own_parts(folder: str) -> set[str]:
    """``tollgate.X`` names a distribution's source tree holds (subpackages and modules)."""
    root = PACKAGES / folder / "src" / "tollgate"
    return {p.stem for p in root.iterdir() if p.is_dir() or p.suffix == ".py"} - {"__pycache__"}


def imports(folder: str) -> set[tuple[str, str]]:
    """(file, imported module) for every absolute import in the distribution's sources."""
    found = set()
    for path in (PACKAGES / folder / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {(path.name, a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add((path.name, node.module))
    return found


@pytest.mark.parametrize("folder", sorted(LAYERS))
def test_each_distribution_imports_only_what_it_declares(folder: str) -> None:
    declared = {
        canonicalize_name(Requirement(r).name)
        for r in project(folder)["dependencies"]  # type: ignore[attr-defined]
    }
    providers = packages_distributions()
    ours = set().union(*(own_parts(f) for f in LAYERS[folder]))
    wrong = []
    for file, module in sorted(imports(folder)):
        top, _, rest = module.partition(".")
        if top == "tollgate":
            if rest.partition(".")[0] not in ours:
                wrong.append(f"{file}: {module}")
        elif top not in sys.stdlib_module_names and top != "__future__":
            dists = {canonicalize_name(d) for d in providers.get(top, [top])}
            if not dists & declared:
                wrong.append(f"{file}: {module} (from {sorted(dists)}, not declared)")
    assert wrong == []


def test_the_runtime_depends_on_cryptography_only() -> None:
    assert project("runtime")["dependencies"] == ["cryptography>=47"]


def test_versions_move_together() -> None:
    version = tollgate.runtime.__version__
    assert tollgate.client.__version__ == version == tollgate.store.__version__
    pins = {
        Requirement(r).name: str(Requirement(r).specifier)
        for folder in ("client", "store")
        for r in project(folder)["dependencies"]  # type: ignore[attr-defined]
        if Requirement(r).name.startswith("tollgate")
    }
    assert pins == {"tollgate-runtime": f"=={version}", "tollgate": f"=={version}"}
