"""What the storefront pages show: the products, their releases and add-ons, as plain values.

Read from the database, the same rows TUF's targets are made from; the pages are a view for
people, and nothing a client acts on comes from them (the download program reads TUF).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from packaging.version import Version
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tollgate.store.db import AddOn, Product, Release
from tollgate.store.services.catalog import latest_release
from tollgate.store.services.errors import StoreError
from tollgate.wire.addons import price_terms


@dataclass(frozen=True)
class AddOnView:
    name: str
    function: str
    revision: int
    terms: str  # "300 JPY", "20 JPY per use", "free"
    conditions: str  # the licence policy in words; "" when perpetual
    free: bool
    files: int
    size: int  # bytes, as the customer's machine keeps them
    description: str  # what the add-on gives, from the manifest ("" when not said)
    cost: tuple[int, int]  # price and price per use, in the currency's smallest unit


@dataclass(frozen=True)
class ReleaseView:
    version: str
    notes: str
    published: str  # YYYY-MM-DD


@dataclass(frozen=True)
class ProductView:
    name: str
    version: str
    summary: str
    notes: str
    published: str
    core_files: int
    core_bytes: int
    addons: tuple[AddOnView, ...]
    releases: tuple[ReleaseView, ...]  # newest first

    def addon(self, name: str) -> AddOnView | None:
        return next((a for a in self.addons if a.name == name), None)

    @property
    def prices(self) -> str:
        """What the product costs in a word: its core is free; the add-ons' terms, cheapest
        first. "Free" when nothing is sold."""
        sold = sorted((a for a in self.addons if not a.free), key=lambda a: a.cost)
        if not sold:
            return "Free"
        return "Free core · add-ons " + ", ".join(dict.fromkeys(a.terms for a in sold))


def policy_conditions(policy: dict[str, Any]) -> str:
    """A licence policy as a customer reads it, e.g. "for 30 days; 20:00–06:00 only"."""
    words = []
    if policy.get("until"):
        words.append(f"until {str(policy['until'])[:10]}")
    if policy.get("days"):
        words.append(f"for {policy['days']} days")
    if policy.get("hours"):
        start, end = policy["hours"]
        words.append(f"{start:02d}:00–{end:02d}:00 only")
    if policy.get("os_release"):
        words.append("this OS release only")
    if policy.get("uses"):
        words.append(f"{policy['uses']} uses")
    return "; ".join(words)


def _addon_view(addon: AddOn, release: Release) -> AddOnView:
    per_use = addon.policy.get("per_use")
    return AddOnView(
        name=addon.name,
        function=addon.function,
        revision=addon.revision,
        terms=price_terms(addon.price, addon.currency, per_use),
        conditions=policy_conditions(addon.policy),
        free=addon.price == 0 and not per_use,
        files=sum(f.addon_name == addon.name for f in release.files),
        size=sum(f.plain_size for f in release.files if f.addon_name == addon.name),
        description=addon.description,
        cost=(addon.price, per_use or 0),
    )


def _product_view(product: Product) -> ProductView | None:
    release = latest_release(product)
    if release is None:
        return None
    core = [f for f in release.files if f.addon_name is None]
    releases = sorted(product.releases, key=lambda r: Version(r.version), reverse=True)
    return ProductView(
        name=product.name,
        version=release.version,
        summary=release.summary,
        notes=release.notes,
        published=f"{release.published_at:%Y-%m-%d}",
        core_files=len(core),
        core_bytes=sum(f.plain_size for f in core),
        addons=tuple(_addon_view(a, release) for a in sorted(release.addons, key=lambda a: a.name)),
        releases=tuple(
            ReleaseView(r.version, r.notes, f"{r.published_at:%Y-%m-%d}") for r in releases
        ),
    )


def _products(session: Session) -> list[Product]:
    return list(
        session.scalars(
            select(Product)
            .options(
                selectinload(Product.releases).selectinload(Release.addons),
                selectinload(Product.releases).selectinload(Release.files),
            )
            .order_by(Product.name)
        )
    )


def list_products(session: Session) -> list[ProductView]:
    views = (_product_view(p) for p in _products(session))
    return [v for v in views if v is not None]


def product_view(session: Session, name: str) -> ProductView:
    row = session.scalars(select(Product).where(Product.name == name)).one_or_none()
    view = None if row is None else _product_view(row)
    if view is None:
        raise StoreError("not_found", f"the store has no product {name!r}")
    return view
