"""What an add-on is, as the store and the customer's machine both describe it: the terms it is
sold on, in words, and the folder of its Python package."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath


def price_terms(price: int, currency: str, per_use: int | None) -> str:
    """A price as a customer reads it: "300 JPY", "20 JPY per use", "free"."""
    parts = [f"{price} {currency}"] if price else []
    if per_use:
        parts.append(f"{per_use} {currency} per use")
    return " + ".join(parts) or "free"


def package_dir_of(paths: Iterable[str]) -> str | None:
    """The folder of an add-on's top-level package (the shallowest ``__init__.py``), if any;
    its last part is the package's import name."""
    inits = sorted(
        (p for p in paths if p.endswith("/__init__.py") or p == "__init__.py"),
        key=lambda p: p.count("/"),
    )
    if not inits:
        return None
    package_dir = str(PurePosixPath(inits[0]).parent)
    return package_dir if PurePosixPath(package_dir).name.isidentifier() else None
