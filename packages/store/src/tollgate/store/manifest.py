"""The product manifest, ``tollgate.toml`` (DESIGN.md section 8), parsed and checked.

Every error names the file and the key, an add-on by its name, e.g. ``examples/mt/tollgate.toml:
addon "dic2".price: must be a whole number >= 0 …``; a key the manifest does not know is refused
with the close one (``product.sumary: unknown key; did you mean 'summary'?``). Nothing is
published from a manifest that has any error.

Prices are whole numbers in the currency's smallest unit, as payment processors count them: yen
for JPY, cents for USD (``price = 499`` is 4.99 USD).

`load_manifest` raises only `ManifestError`, whatever the file holds: whole numbers are at most
2^53 − 1 (what JSON carries exactly), ``days`` at most 36 500, ``until`` a date from 1970 to
9998 (it is turned into an instant, the next midnight UTC), text bounded (a name 100
characters, a version 64 once normalised, a summary or description ``MAX_TEXT``, the notes
``MAX_NOTES``), and `expand` refuses a glob that pathlib cannot use.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from tollgate.files import plain_files
from tollgate.protocol.environment import TAG_RE
from tollgate.wire.targets import NAME_RE
from tollgate.wire.text import clean, did_you_mean, unstorable

TOP_KEYS = {"product", "core", "addon", "environment"}
PRODUCT_KEYS = {"name", "version", "summary", "notes", "requires"}
CORE_KEYS = {"files", "entry"}
ADDON_KEYS = {
    "name",
    "function",
    "revision",
    "price",
    "currency",
    "files",
    "policy",
    "countries",
    "description",
}
ENVIRONMENT_KEYS = {"tags", "files"}
POLICY_KEYS = {
    "kind",
    "until",
    "days",
    "hours",
    "os_release",
    "uses",
    "per_use",
    "offline_uses",
}


MAX_WHOLE = 2**53 - 1  # what a licence or catalog (JSON, crypto/canonical.py) can carry
MAX_DAYS = 36_500
UNTIL_YEARS = (1970, 9998)
MAX_SHORT = 100
MAX_VERSION = 64  # wire/targets.py VERSION_RE
MAX_TEXT = 4096
MAX_NOTES = 64 * 1024
MAX_MANIFEST = 1024 * 1024
MAX_NESTING = 100  # brackets counted anywhere; a manifest needs 3 ([[addon]], policy = {...})


class ManifestError(Exception):
    def __init__(self, path: Path, key: str, message: str) -> None:
        super().__init__(f"{path}: {key}: {message}")
        self.path, self.key = path, key


@dataclass(frozen=True)
class AddOnSpec:
    name: str
    function: str
    revision: int
    price: int
    currency: str
    files: list[str]
    policy: dict[str, Any]
    countries: dict[str, list[str]] | None = None
    description: str = ""  # what the add-on gives, shown by the storefront and the catalog

    @property
    def free(self) -> bool:
        """Free add-ons (no price, not charged per use) travel unencrypted, without licence."""
        return self.price == 0 and not self.policy.get("per_use")


@dataclass(frozen=True)
class EnvironmentSpec:
    """Files that belong only on machines with one of ``tags`` (protocol/environment.py)."""

    tags: list[str]
    files: list[str]


@dataclass(frozen=True)
class Manifest:
    path: Path
    name: str
    version: Version
    summary: str
    notes: str
    core_files: list[str]
    entry: str
    addons: list[AddOnSpec] = field(default_factory=list)
    environments: list[EnvironmentSpec] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)
    files: frozenset[str] = frozenset()  # every regular file of the folder, walked without links

    @property
    def root(self) -> Path:
        return self.path.parent


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> ManifestError:
        return ManifestError(self.path, key, message)

    def known(self, table: dict[str, Any], where: str, keys: set[str]) -> None:
        """Refuse a key this table does not have (a typo would otherwise be ignored)."""
        for key in sorted(set(table) - keys):
            place = f"{where}.{key}" if where else key
            raise self.fail(place, f"unknown key{did_you_mean(key, keys)}; known: {sorted(keys)}")

    def table(self, doc: dict[str, Any], key: str) -> dict[str, Any]:
        value = doc.get(key)
        if not isinstance(value, dict):
            raise self.fail(key, "missing table" if value is None else "must be a table")
        return value

    def string(
        self,
        table: dict[str, Any],
        where: str,
        key: str,
        *,
        default: str | None = None,
        pattern: re.Pattern[str] | None = None,
    ) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{where}.{key}", "missing" if value is None else "must be a string")
        if len(value) > MAX_TEXT:
            raise self.fail(f"{where}.{key}", f"must be at most {MAX_TEXT} characters")
        if pattern is not None and not pattern.fullmatch(value):
            raise self.fail(f"{where}.{key}", f"{value!r} is not a valid name")
        return self.shown(value, f"{where}.{key}")

    def shown(self, value: str, key: str) -> str:
        """Text customers will read: no control characters but tab and newline."""
        if clean(value) != value:
            raise self.fail(key, "must not contain control characters (escapes, NUL, ...)")
        return value

    def optional_text(
        self, table: dict[str, Any], where: str, key: str, *, limit: int = MAX_TEXT
    ) -> str:
        value = table.get(key, "")
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key}", "must be a string")
        if len(value) > limit:
            raise self.fail(f"{where}.{key}", f"must be at most {limit:,} characters")
        return self.shown(value, f"{where}.{key}")

    def integer(
        self,
        table: dict[str, Any],
        where: str,
        key: str,
        *,
        minimum: int = 0,
        maximum: int = MAX_WHOLE,
    ) -> int:
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(f"{where}.{key}", f"must be a whole number >= {minimum}")
        if value > maximum:
            raise self.fail(f"{where}.{key}", f"must be at most {maximum:,}")
        return value

    def globs(self, table: dict[str, Any], where: str) -> list[str]:
        value = table.get("files")
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in value)
        ):
            raise self.fail(f"{where}.files", "must be a non-empty list of glob strings")
        for pattern in value:
            if unstorable(pattern) is not None:
                raise self.fail(f"{where}.files", f"{pattern!r} holds {unstorable(pattern)}")
            if pattern.startswith("/") or ".." in Path(pattern).parts:
                raise self.fail(f"{where}.files", f"{pattern!r} must stay inside the product")
        return value


def _policy(reader: _Reader, where: str, raw: Any) -> dict[str, Any]:
    """The vendor's rules for one add-on (DESIGN.md section 8), all optional and combinable::

        policy = { until = 2027-12-31, days = 30, hours = "20-8", os_release = true,
                   uses = 100, per_use = 20 }

    ``until`` is a date (valid through that day, UTC) or a date-time; ``days`` counts from the
    purchase; ``hours`` are the local hours when the add-on runs (``"20-8"``: 20:00 to 08:00);
    ``os_release`` binds it to the OS release it was bought on; ``uses`` caps the uses;
    ``per_use`` charges that amount (in the add-on's currency) for each use; ``offline_uses``
    bounds the uses of a metered add-on (``uses`` or ``per_use``) a machine may make before the
    store hears of them (default 20).
    """
    key = f"{where}.policy"
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise reader.fail(key, "must be a table")
    reader.known(raw, key, POLICY_KEYS)
    if raw.get("kind", "perpetual") != "perpetual":
        raise reader.fail(f"{key}.kind", "only 'perpetual'; say the limits with the other keys")
    policy: dict[str, Any] = {}
    if "until" in raw:
        policy["until"] = _until(reader, f"{key}.until", raw["until"]).isoformat()
    for name in ("days", "uses", "per_use", "offline_uses"):
        if name in raw:
            most = MAX_DAYS if name == "days" else MAX_WHOLE
            policy[name] = reader.integer(raw, key, name, minimum=1, maximum=most)
    if "offline_uses" in policy and not ("uses" in policy or "per_use" in policy):
        raise reader.fail(f"{key}.offline_uses", "only for an add-on with uses or per_use")
    if "hours" in raw:
        policy["hours"] = list(_hours(reader, f"{key}.hours", raw["hours"]))
    if "os_release" in raw:
        if not isinstance(raw["os_release"], bool):
            raise reader.fail(f"{key}.os_release", "must be true or false")
        policy["os_release"] = raw["os_release"]
    return policy


def _until(reader: _Reader, key: str, value: Any) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = (
                dt.date.fromisoformat(value)
                if len(value) == 10
                else dt.datetime.fromisoformat(value)
            )
        except ValueError as exc:
            raise reader.fail(key, f"{value[:40]!r} is not a date") from exc
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise reader.fail(key, "a date-time needs its time zone (e.g. 2027-12-31T23:59:59Z)")
    elif not isinstance(value, dt.date):
        raise reader.fail(key, "must be a date such as 2027-12-31")
    # Checked before any arithmetic: 9999-12-31 has no next day, 0001-01-01T00:00+01:00 no UTC.
    if not UNTIL_YEARS[0] <= value.year <= UNTIL_YEARS[1]:
        low, high = UNTIL_YEARS
        raise reader.fail(key, f"must be a date in the years {low} to {high}, not {value}")
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.combine(value + dt.timedelta(days=1), dt.time(), dt.UTC)  # end of day


def _hours(reader: _Reader, key: str, value: Any) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{1,2})-(\d{1,2})", value) if isinstance(value, str) else None
    if match is None:
        raise reader.fail(key, "must look like '20-8' (from 20:00 to 08:00, local time)")
    start, end = int(match[1]), int(match[2])
    if not (0 <= start <= 23 and 0 <= end <= 23) or start == end:
        raise reader.fail(key, "hours are 0..23 and the start differs from the end")
    return start, end


def _countries(reader: _Reader, where: str, raw: Any) -> dict[str, list[str]] | None:
    if raw is None:
        return None
    ok = isinstance(raw, dict) and len(raw) == 1 and next(iter(raw)) in ("allow", "deny")
    values = next(iter(raw.values())) if ok else None
    if (
        not ok
        or not isinstance(values, list)
        or not all(isinstance(c, str) and re.fullmatch(r"[A-Z]{2}", c) for c in values)
    ):
        raise reader.fail(
            f"{where}.countries",
            "must be { allow = [...] } or { deny = [...] } with ISO 3166 two-letter codes",
        )
    return {str(k): list(v) for k, v in raw.items()}


def _environments(reader: _Reader, raw: Any) -> list[EnvironmentSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise reader.fail("environment", "must be an array of tables ([[environment]])")
    specs = []
    for i, table in enumerate(raw):
        where = f"environment[{i}]"
        if not isinstance(table, dict):
            raise reader.fail(where, "must be a table")
        reader.known(table, where, ENVIRONMENT_KEYS)
        tags = table.get("tags")
        if (
            not isinstance(tags, list)
            or not tags
            or not all(isinstance(t, str) and TAG_RE.fullmatch(t) for t in tags)
        ):
            raise reader.fail(
                f"{where}.tags", "must be a non-empty list of packaging.tags names such as 'cp311'"
            )
        specs.append(EnvironmentSpec(list(tags), reader.globs(table, where)))
    return specs


def _requires(reader: _Reader, raw: Any) -> list[str]:
    """Other products of this store that must be installed first: ``"Base>=1.2"``."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(r, str) and len(r) <= MAX_TEXT for r in raw):
        raise reader.fail("product.requires", "must be a list of strings like 'Base>=1.2'")
    found = []
    for text in raw:
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise reader.fail("product.requires", f"{text!r}: {exc}") from exc
        if req.extras or req.marker or req.url or not NAME_RE.fullmatch(req.name):
            raise reader.fail(
                "product.requires", f"{text!r}: a product name and a version range only"
            )
        found.append(str(req))
    return found


def _toml(path: Path) -> dict[str, Any]:
    """The manifest's TOML: at most ``MAX_MANIFEST`` bytes of UTF-8, nested at most
    ``MAX_NESTING`` levels (tomllib recurses once per level, and would run out of stack)."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_MANIFEST + 1)
    except OSError as exc:
        raise ManifestError(path, "(file)", f"cannot be read: {exc.strerror or exc}") from exc
    if len(data) > MAX_MANIFEST:
        raise ManifestError(path, "(file)", f"is larger than {MAX_MANIFEST:,} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(path, "(file)", f"not UTF-8 text: {exc}") from exc
    if _nesting(text) > MAX_NESTING:
        raise ManifestError(path, "(syntax)", f"arrays and tables nest deeper than {MAX_NESTING}")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(path, "(syntax)", str(exc)) from exc


def _nesting(text: str) -> int:
    """An upper bound of the nesting of inline arrays and tables: brackets and braces counted
    outside of nothing (in strings and comments too), so never less than the real depth."""
    depth = deepest = 0
    for char in re.sub(r"[^\[\]{}]", "", text):
        depth = depth + 1 if char in "[{" else max(0, depth - 1)
        deepest = max(deepest, depth)
    return deepest


def load_manifest(source_dir: Path, files: Iterable[str] | None = None) -> Manifest:
    """The manifest of ``source_dir``. ``files`` are the folder's regular files as
    `tollgate.files.plain_files` lists them (walked here when not given); globs select only
    among them, so nothing a link points at can be selected."""
    path = source_dir / "tollgate.toml"
    reader = _Reader(path)
    if not source_dir.is_dir():
        raise ManifestError(path, "(file)", f"{source_dir} is not a folder")
    inventory = frozenset(plain_files(source_dir) if files is None else files)
    if "tollgate.toml" not in inventory:
        raise ManifestError(path, "(file)", "no tollgate.toml in this folder")
    doc = _toml(path)
    reader.known(doc, "", TOP_KEYS)
    product = reader.table(doc, "product")
    core = reader.table(doc, "core")
    reader.known(product, "product", PRODUCT_KEYS)
    reader.known(core, "core", CORE_KEYS)
    name = reader.string(product, "product", "name", pattern=NAME_RE)
    raw_version = reader.string(product, "product", "version")
    if len(raw_version) > MAX_SHORT:  # and so no digit run Version cannot convert to int
        raise reader.fail("product.version", f"must be at most {MAX_VERSION} characters")
    try:
        version = Version(raw_version)
    except InvalidVersion as exc:
        raise reader.fail("product.version", f"{raw_version!r} is not a PEP 440 version") from exc
    if len(str(version)) > MAX_VERSION:  # it is a segment of every target name (wire/targets.py)
        raise reader.fail("product.version", f"must be at most {MAX_VERSION} characters")
    entry = reader.string(core, "core", "entry")
    if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", entry):
        raise reader.fail("core.entry", "must look like 'package.module:function'")
    raw_addons = doc.get("addon", [])
    if not isinstance(raw_addons, list):
        raise reader.fail("addon", "must be an array of tables ([[addon]])")
    addons: list[AddOnSpec] = []
    for i, raw in enumerate(raw_addons):
        where = f"addon[{i}]"
        if not isinstance(raw, dict):
            raise reader.fail(where, "must be a table")
        addon_name = reader.string(raw, where, "name", pattern=NAME_RE)
        if any(a.name == addon_name for a in addons):
            raise reader.fail(f"{where}.name", f"duplicate add-on {addon_name!r}")
        where = f'addon "{addon_name}"'  # errors name the add-on from here on
        reader.known(raw, where, ADDON_KEYS)
        if isinstance(raw.get("price"), float | str):
            raise reader.fail(
                f"{where}.price",
                "must be a whole number in the currency's smallest unit (yen for JPY, cents "
                f"for USD: 4.99 USD is price = 499), not {raw['price']!r}",
            )
        currency = reader.string(raw, where, "currency", default="USD")
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise reader.fail(f"{where}.currency", "must be an ISO 4217 code such as 'JPY'")
        addons.append(
            AddOnSpec(
                name=addon_name,
                function=reader.string(raw, where, "function", default=addon_name),
                revision=reader.integer(raw, where, "revision", minimum=1),
                price=reader.integer(raw, where, "price"),
                currency=currency,
                files=reader.globs(raw, where),
                policy=_policy(reader, where, raw.get("policy")),
                countries=_countries(reader, where, raw.get("countries")),
                description=reader.optional_text(raw, where, "description"),
            )
        )
    return Manifest(
        path=path,
        name=name,
        version=version,
        summary=reader.optional_text(product, "product", "summary"),
        notes=reader.optional_text(product, "product", "notes", limit=MAX_NOTES),
        core_files=reader.globs(core, "core"),
        entry=entry,
        addons=addons,
        environments=_environments(reader, doc.get("environment")),
        requires=_requires(reader, product.get("requires")),
        files=inventory,
    )


def expand(manifest: Manifest, patterns: list[str], where: str) -> list[str]:
    """Relative POSIX paths of the files the globs select; each glob must select something."""
    found: dict[str, None] = {}
    for pattern in patterns:
        matches: set[str] = set()
        for rel in _globbed(manifest, pattern, where):
            # A matched folder stands for every file beneath it ("addons/dic2/**" on 3.11
            # matches folders only).
            matches.update(f for f in manifest.files if f == rel or f.startswith(rel + "/"))
        matches = {m for m in matches if "__pycache__" not in m.split("/")}
        if not matches:
            raise ManifestError(manifest.path, f"{where}.files", f"{pattern!r} matches no file")
        found.update(dict.fromkeys(sorted(matches)))
    return list(found)


def _globbed(manifest: Manifest, pattern: str, where: str) -> list[str]:
    """What ``pattern`` matches below the product folder, relative; pathlib refuses some
    patterns with ValueError ("**x", "."), which is the vendor's error, named."""
    root = manifest.root
    try:
        return [hit.relative_to(root).as_posix() for hit in root.glob(pattern)]
    except ValueError as exc:
        raise ManifestError(
            manifest.path, f"{where}.files", f"{pattern!r} is not a usable glob: {exc}"
        ) from exc
