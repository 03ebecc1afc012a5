"""Installing and updating a product's core: plan from the verified install list, stage, switch.

1. **Plan.** The install list (checked against TUF) is compared with the client state: each core
   file is new, changed, unchanged or gone. Nothing is fetched for an unchanged file: it is
   linked (or copied) from the installed version and re-checked.
2. **Stage.** Files go into ``.<version>.staging`` beside the product's versions, fetched in
   signed parts that resume (client/download.py). A staging folder left by a broken run is
   reused: its complete files are re-checked, not fetched again.
3. **Switch.** A journal row is written, the staging folder is renamed to ``<version>``, and one
   state transaction makes it current, records its files and history, and deletes the journal
   row. The runtime runs only what the state calls current, so a crash at any point leaves the
   previous version runnable; ``recover`` (run first by every install and update) finishes a
   switch whose folder is complete and verified, or rolls it back.
4. **Prune.** Versions other than the current and the one before it are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

from tollgate.client.account import Account
from tollgate.client.api import Progress, StoreAPI
from tollgate.client.download import DISK_FULL, DiskFull, fetch_file
from tollgate.client.errors import IntegrityFailure, UsageError
from tollgate.client.install_list import (
    PlannedFile,
    PlannedPatch,
    VerifiedInstallList,
    fetch_install_list,
)
from tollgate.protocol import zstd
from tollgate.protocol.environment import Environment
from tollgate.protocol.zstd import ZstdFailure
from tollgate.runtime.errors import no_space_left
from tollgate.runtime.home import ClientHome
from tollgate.runtime.state import (
    ClientState,
    InstalledFile,
    JournalEntry,
    now_iso,
    record_history,
)
from tollgate.wire.text import human_size

KEEP_VERSIONS = 2


def safe_relative(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts or "\\" in path:
        raise IntegrityFailure(f"the store named an unsafe install path {path!r}")
    return rel


@dataclass(frozen=True)
class Change:
    name: str
    action: str  # "add", "change" (whole file), "patch", "keep" or "remove"
    size: int  # bytes to fetch

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "action": self.action, "size": self.size}


@dataclass(frozen=True)
class Plan:
    store_id: str
    product: str
    installed: str | None
    listed: VerifiedInstallList
    changes: list[Change] = field(default_factory=list)

    @property
    def version(self) -> str:
        return self.listed.version

    @property
    def up_to_date(self) -> bool:
        return self.installed == self.version and all(c.action == "keep" for c in self.changes)

    @property
    def fetch_bytes(self) -> int:
        return fetch_size(self.changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "store_id": self.store_id,
            "installed": self.installed,
            "available": self.version,
            "up_to_date": self.up_to_date,
            "fetch_bytes": self.fetch_bytes,
            "notice": self.listed.notice,
            "changes": [c.to_json() for c in self.changes if c.action != "keep"],
        }


@dataclass(frozen=True)
class Installed:
    product: str
    version: str
    path: Path
    fetched_bytes: int
    reused_files: int
    patched_files: int
    patch_fallbacks: list[str]
    previous: str | None


def plan_install(
    home: ClientHome,
    api: StoreAPI,
    account: Account,
    product: str,
    environment: Environment | None = None,
) -> Plan:
    """What installing or updating ``product`` would change here (nothing is written)."""
    listed = fetch_install_list(
        api,
        account.trust(api, home),
        account.store_id,
        product,
        environment or Environment.current(),
    )
    state = home.state
    current = state.product(account.store_id, product)
    old = _installed_openly(state, account.store_id, product)
    intact = current is not None and current.path.is_dir()
    changes = compare(listed.open_files, old, intact=intact)
    return Plan(account.store_id, product, current.version if current else None, listed, changes)


def compare(
    listed: Sequence[PlannedFile], held: dict[str, InstalledFile], *, intact: bool = True
) -> list[Change]:
    """Each listed file against the one held under its name (``keep`` only if ``intact``),
    then each held file no longer listed."""
    changes = []
    for f in listed:
        before = held.get(f.name)
        patch = f.patch_from(before.digest) if before else None
        if before is None:
            changes.append(Change(f.name, "add", f.size))
        elif before.digest == f.installed_digest and intact:
            changes.append(Change(f.name, "keep", f.size))
        elif patch is not None and before.path.is_file():
            changes.append(Change(f.name, "patch", patch.size))
        else:
            changes.append(Change(f.name, "change", f.size))
    names = {f.name for f in listed}
    return changes + [
        Change(n, "remove", o.size) for n, o in sorted(held.items()) if n not in names
    ]


def fetch_size(changes: Iterable[Change]) -> int:
    """Bytes to fetch for ``changes``."""
    return sum(c.size for c in changes if c.action in ("add", "change", "patch"))


def check_requirements(state: ClientState, store_id: str, plan: Plan) -> None:
    for text in plan.listed.requires:
        req = Requirement(text)
        have = state.product(store_id, req.name)
        if have is None or not req.specifier.contains(have.version, prereleases=True):
            found = f"{have.version} is installed" if have else "it is not installed"
            raise UsageError(
                f"{plan.product} {plan.version} needs {text} ({found}): install it first "
                f"with `tollgate install {req.name}`; nothing was changed"
            )


def apply_plan(
    home: ClientHome, api: StoreAPI, plan: Plan, progress: Progress | None = None
) -> Installed:
    state = home.state
    check_requirements(state, plan.store_id, plan)
    target = home.product_dir(plan.store_id, plan.product, plan.version)
    if plan.up_to_date:
        return Installed(
            plan.product, plan.version, target, 0, len(plan.changes), 0, [], plan.installed
        )
    staging = home.staging_dir(plan.store_id, plan.product, plan.version)
    staging.mkdir(parents=True, exist_ok=True)
    old = _installed_openly(state, plan.store_id, plan.product)
    fetched = reused = patched = done_before = 0
    fallbacks: list[str] = []
    for f in plan.listed.open_files:
        dest = staging / Path(*safe_relative(f.name).parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        before = old.get(f.name)
        if holds(dest, f.installed_digest) or _reuse(before, dest, f.installed_digest):
            reused += 1
            continue

        def overall(done: int, _total: int, start: int = done_before) -> None:
            if progress:
                progress(start + done, plan.fetch_bytes)

        patch = f.patch_from(before.digest) if before else None
        if patch is not None and before is not None:
            try:
                fetched += _patched(api, before.path, patch, f, dest, overall)
                patched += 1
                done_before += patch.size
                continue
            except (IntegrityFailure, ZstdFailure, OSError) as exc:
                fallbacks.append(f"{f.name}: {exc}")  # the whole file instead
        fetched += _fetch_whole(api, f, dest, overall)
        done_before += f.size
    journal = JournalEntry(
        plan.store_id,
        plan.product,
        plan.version,
        staging,
        target,
        {
            "entry": plan.listed.entry_point,
            "previous": plan.installed,
            "files": [_file_json(f) for f in plan.listed.open_files],
            "addons": list(plan.listed.addons),
        },
    )
    _begin_switch(state, journal)
    _move_into_place(staging, target)
    detail = f"fetched {human_size(fetched)}, {patched} file(s) patched, {reused} reused"
    if fallbacks:
        detail += "; whole files instead of patches for " + "; ".join(fallbacks)
    _finish_switch(state, journal, detail=detail)
    prune(home, plan.store_id, plan.product)
    return Installed(
        plan.product, plan.version, target, fetched, reused, patched, fallbacks, plan.installed
    )


def install_product(
    home: ClientHome,
    api: StoreAPI,
    account: Account,
    product: str,
    environment: Environment | None = None,
    progress: Progress | None = None,
) -> Installed:
    """Plan and apply in one step (what `tollgate install` does after recovering)."""
    return apply_plan(home, api, plan_install(home, api, account, product, environment), progress)


def recover(home: ClientHome) -> list[str]:
    """Finish or roll back every install a crash left between staging and switching."""
    state = home.state
    done = []
    for entry in state.journal():
        complete = entry.target.is_dir() and all(
            holds(entry.target / Path(*safe_relative(f["name"]).parts), f["digest"])
            for f in entry.plan["files"]
        )
        if complete:
            _finish_switch(state, entry, detail="finished after an interruption")
            done.append(f"{entry.product} {entry.version}: finished")
            continue
        if entry.target.is_dir():
            shutil.rmtree(entry.target)
        with state.transaction() as conn:
            _delete_journal(conn, entry)
            record_history(
                conn,
                entry.store_id,
                entry.product,
                "rolled-back",
                entry.version,
                "the interrupted install was rolled back; the staged files are kept",
            )
        done.append(f"{entry.product} {entry.version}: rolled back")
    return done


def prune(home: ClientHome, store_id: str, product: str) -> list[str]:
    """Remove installed versions but the current one and the one before it."""
    current = home.state.product(store_id, product)
    base = home.product_dir(store_id, product, "x").parent
    if current is None or not base.is_dir():
        return []
    versions = [
        (v, child)
        for child in base.iterdir()
        if child.is_dir() and not child.name.startswith(".")
        if (v := _version(child.name)) is not None
    ]
    keep = {current.path.name}
    older = sorted((v for v in versions if v[1].name not in keep), reverse=True)
    keep.update(p.name for _, p in older[: KEEP_VERSIONS - 1])
    removed = []
    for _, path in versions:
        if path.name not in keep:
            shutil.rmtree(path)
            removed.append(path.name)
    for stale in base.glob(".*.staging"):  # staged for a version no newer than the current
        staged = _version(stale.name.removeprefix(".").removesuffix(".staging"))
        if staged is not None and staged <= Version(current.version):
            shutil.rmtree(stale)
    return removed


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _fetch_whole(api: StoreAPI, f: PlannedFile, dest: Path, progress: Progress) -> int:
    """Fetch ``f`` in its parts and, if compressed, decompress it into ``dest``; returns the
    bytes received."""
    if f.compression == "none":
        return fetch_file(api, f.digest, f.parts, dest, progress=progress)
    packed = dest.with_name(dest.name + ".zst")
    received = fetch_file(api, f.digest, f.parts, packed, progress=progress)
    try:
        with packed.open("rb") as source:
            _write_checked(dest, zstd.decompress_stream(source, f.installed_size), f)
    except ZstdFailure as exc:
        raise IntegrityFailure(f"{f.name} {exc}: refused") from exc
    finally:
        packed.unlink(missing_ok=True)
    return received


def _patched(
    api: StoreAPI,
    old: Path,
    patch: PlannedPatch,
    f: PlannedFile,
    dest: Path,
    progress: Progress,
) -> int:
    """Rebuild ``f`` from the installed ``old`` file and a signed patch; returns the bytes
    received. Any failure leaves ``dest`` absent (the caller fetches the whole file)."""
    delta = dest.with_name(dest.name + ".patch")
    received = fetch_file(api, patch.digest, patch.parts, delta, progress=progress)
    try:
        base = old.read_bytes()
        if hashlib.sha256(base).hexdigest() != patch.base:
            raise IntegrityFailure(f"the installed {f.name} is not the patch's base")
        _write_checked(
            dest, iter([zstd.apply_patch(base, delta.read_bytes(), f.installed_size)]), f
        )
    finally:
        delta.unlink(missing_ok=True)
    return received


def _write_checked(dest: Path, blocks: Iterator[bytes], f: PlannedFile) -> None:
    """Write ``blocks`` to ``dest`` only if they are the signed installed file."""
    tmp = dest.with_name(dest.name + ".tmp")
    sha = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for block in blocks:
                sha.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in DISK_FULL:
            raise DiskFull(no_space_left(dest, "writing")) from exc
        raise
    try:
        if sha.hexdigest() != f.installed_digest:
            raise IntegrityFailure(f"{f.name} does not match its signed SHA-256: refused")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _installed_openly(state: ClientState, store_id: str, product: str) -> dict[str, InstalledFile]:
    """The product's files in its folder (core and free add-ons), by name."""
    return {f.name: f for f in state.files(store_id, product) if f.licence_id is None}


def _file_json(f: PlannedFile) -> dict[str, Any]:
    return {
        "name": f.name,
        "addon": f.addon,
        "digest": f.installed_digest,
        "size": f.installed_size,
        "target": f.target,
        "version": f.version,
        "function": f.function,
        "revision": f.revision,
    }


def _begin_switch(state: ClientState, entry: JournalEntry) -> None:
    with state.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO journal "
            "(store_id, product, version, staging, target, plan, started_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                entry.store_id,
                entry.product,
                entry.version,
                str(entry.staging),
                str(entry.target),
                json.dumps(entry.plan),
                now_iso(),
            ),
        )


def _move_into_place(staging: Path, target: Path) -> None:
    if target.exists():  # a folder from a switch that was rolled back
        shutil.rmtree(target)
    os.replace(staging, target)


def _finish_switch(state: ClientState, entry: JournalEntry, *, detail: str) -> None:
    """Make ``entry``'s version current, with its files, in one transaction."""
    previous = entry.plan.get("previous")
    with state.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO products "
            "(store_id, name, version, path, entry, installed_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                entry.store_id,
                entry.product,
                entry.version,
                str(entry.target),
                entry.plan["entry"],
                now_iso(),
            ),
        )
        conn.execute(
            "DELETE FROM files WHERE store_id = ? AND product = ? AND licence_id IS NULL",
            (entry.store_id, entry.product),
        )
        for f in entry.plan["files"]:
            addon = f.get("addon")
            conn.execute(
                "INSERT INTO files (store_id, product, kind, addon, name, version, function, "
                "revision, path, digest, size, target, licence_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    entry.store_id,
                    entry.product,
                    "core" if addon is None else "add-on",
                    addon or "",
                    f["name"],
                    f["version"],
                    f["function"],
                    f["revision"],
                    str(entry.target / Path(*safe_relative(f["name"]).parts)),
                    f["digest"],
                    f["size"],
                    f["target"],
                ),
            )
        _record_offers(conn, entry)
        action = "install" if previous is None else "update"
        if previous is not None:
            detail = f"from {previous}; {detail}"
        record_history(conn, entry.store_id, entry.product, action, entry.version, detail)
        _delete_journal(conn, entry)


def _record_offers(conn: sqlite3.Connection, entry: JournalEntry) -> None:
    """The add-ons the release now current offers (runtime imports name what to buy)."""
    conn.execute(
        "DELETE FROM offers WHERE store_id = ? AND product = ?", (entry.store_id, entry.product)
    )
    for a in entry.plan.get("addons", []):
        conn.execute(
            "INSERT INTO offers (store_id, product, addon, version, package, price, currency, "
            "free, per_use) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.store_id,
                entry.product,
                a["name"],
                entry.version,
                a.get("package"),
                a["price"],
                a["currency"],
                int(a["free"]),
                a.get("per_use"),
            ),
        )


def _delete_journal(conn: sqlite3.Connection, entry: JournalEntry) -> None:
    conn.execute(
        "DELETE FROM journal WHERE store_id = ? AND product = ?", (entry.store_id, entry.product)
    )


def holds(path: Path, digest: str) -> bool:
    """Whether ``path`` is a file whose SHA-256 is ``digest``."""
    if not path.is_file():
        return False
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest() == digest


def _reuse(old: InstalledFile | None, dest: Path, digest: str) -> bool:
    """Link (or copy) an unchanged file from the installed version, if it is still intact."""
    if old is None or old.digest != digest or not holds(old.path, digest):
        return False
    return link_or_copy(old.path, dest)


def link_or_copy(source: Path, dest: Path) -> bool:
    """Put ``source``'s content at ``dest``: a hard link where the file system allows one."""
    dest.unlink(missing_ok=True)
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)
    return True
