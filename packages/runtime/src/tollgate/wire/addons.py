"""What an add-on is, as the store and the customer's machine both describe it: the terms it is
sold on, in words, and the folder of its Python package.

Amounts are integers in the currency's smallest unit, as payment processors count them: yen for
JPY (no decimals), cents for USD, fils for KWD (three decimals). ``format_amount`` shows them as
people read them ("300 JPY", "4.99 USD")."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath

# ISO 4217 currencies whose smallest unit is not a hundredth (Stripe's lists); others have two.
ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
THREE_DECIMAL = frozenset(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"])


def format_amount(amount: int, currency: str) -> str:
    """An amount in the currency's smallest unit as people read it: "1,200 JPY", "4.99 USD"."""
    places = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    units, cents = divmod(abs(amount), 10**places)
    sign = "-" if amount < 0 else ""
    shown = f"{units:,}" + (f".{cents:0{places}d}" if places else "")
    return f"{sign}{shown} {currency}"


def price_terms(price: int, currency: str, per_use: int | None) -> str:
    """A price as a customer reads it: "300 JPY", "20 JPY per use", "free"."""
    parts = [format_amount(price, currency)] if price else []
    if per_use:
        parts.append(f"{format_amount(per_use, currency)} per use")
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
