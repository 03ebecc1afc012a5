"""Import a Python package from verified plaintext held in memory (never written to disk).

The files arrive as ``{relative path: bytes}`` after every chunk has been authenticated; the
package root is the folder holding ``__init__.py``. ``pkgutil.get_data(package, resource)``
reads the package's data files through :meth:`MemoryLoader.get_data`. A bought add-on's
compiled code is kept between runs only sealed (runtime/codecache.py), never as a ``.pyc``.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from types import ModuleType

from tollgate.runtime.codecache import SealedCode, compile_module
from tollgate.wire.addons import package_dir_of

VIRTUAL_ROOT = "<tollgate>"


class MemoryLoader(importlib.abc.Loader):
    def __init__(
        self, origin: str, files: dict[str, bytes], sealed: Mapping[str, SealedCode]
    ) -> None:
        self.origin, self.files, self.sealed = origin, files, sealed

    def _key(self, path: str) -> str:
        prefix = f"{VIRTUAL_ROOT}/{self.origin}/"
        if not path.startswith(prefix):
            raise OSError(f"{path} is not part of add-on {self.origin}")
        return path[len(prefix) :]

    def get_data(self, path: str) -> bytes:
        try:
            return self.files[self._key(path)]
        except KeyError as exc:
            raise FileNotFoundError(path) from exc

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        assert module.__spec__ is not None and module.__spec__.origin is not None
        origin = module.__spec__.origin
        code = compile_module(self.get_data(origin), origin, self.sealed.get(self._key(origin)))
        exec(code, module.__dict__)  # noqa: S102 - verified add-on code, the point of the loader


class MemoryFinder(importlib.abc.MetaPathFinder):
    """Finds modules of one add-on package among its in-memory files."""

    def __init__(
        self,
        origin: str,
        package: str,
        package_dir: str,
        files: dict[str, bytes],
        sealed: Mapping[str, SealedCode],
    ) -> None:
        self.package, self.package_dir = package, package_dir
        self.loader = MemoryLoader(origin, files, sealed)
        self.origin = origin

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.package and not fullname.startswith(self.package + "."):
            return None
        rel = PurePosixPath(self.package_dir, *fullname.split(".")[1:])
        base = f"{VIRTUAL_ROOT}/{self.origin}/"
        if f"{rel}/__init__.py" in self.loader.files:
            spec = importlib.util.spec_from_loader(
                fullname, self.loader, origin=f"{base}{rel}/__init__.py", is_package=True
            )
            if spec is not None:
                spec.submodule_search_locations = [f"{base}{rel}"]
                spec.has_location = True
            return spec
        if f"{rel}.py" in self.loader.files:
            spec = importlib.util.spec_from_loader(fullname, self.loader, origin=f"{base}{rel}.py")
            if spec is not None:
                spec.has_location = True
            return spec
        return None


def install_finder(
    origin: str, files: dict[str, bytes], sealed: Mapping[str, SealedCode] | None = None
) -> MemoryFinder:
    """Put a finder for the add-on's package first on ``sys.meta_path``. ``sealed`` says where
    each module's compiled code is kept between runs (none for a free add-on)."""
    package_dir = package_dir_of(files)
    if package_dir is None:
        raise ImportError(f"add-on {origin} has no importable Python package (__init__.py)")
    finder = MemoryFinder(origin, PurePosixPath(package_dir).name, package_dir, files, sealed or {})
    sys.meta_path.insert(0, finder)
    return finder


def import_package(
    origin: str, files: dict[str, bytes], sealed: Mapping[str, SealedCode] | None = None
) -> ModuleType:
    """Install a finder for the add-on's package and import it."""
    package_dir = package_dir_of(files)
    package = PurePosixPath(package_dir).name if package_dir else None
    if package is not None and package in sys.modules:
        return sys.modules[package]
    return importlib.import_module(install_finder(origin, files, sealed).package)
