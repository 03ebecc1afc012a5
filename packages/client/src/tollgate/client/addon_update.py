"""Bringing bought add-ons to the product's current release (``tollgate update``, after the core).

An add-on is sold by function and revision. When the current release carries the revision the
customer bought, the store issues a licence for that release at no charge: the order is sent
with ``upgrade``, so the store refuses rather than charge. A new revision is a new purchase,
which an update only reports; the add-on stays on its release and keeps running.

Each encrypted file of the new release is then

- **kept** when its ciphertext is unchanged (the store reuses the ciphertext of a file whose
  plaintext did not change): linked into the new release's vault folder;
- **patched** when the install list offers a signed patch from the ciphertext held here: in
  memory, the old file is decrypted, the (encrypted) patch decrypted and applied, and the result
  re-encrypted with the new file's content key and the published stream header. The result must
  be, byte for byte, the signed ciphertext (its SHA-256), so the vault only ever holds what the
  store published, and no plaintext touches the disk;
- **fetched** whole otherwise, or when a patch fails for any reason.

Vault files are named by their SHA-256, so everything fetched before the switch is invisible to
the runtime; one state transaction switches the add-on, its files and its licence, and the
vault folders of other releases are removed afterwards.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tollgate.client.account import Account, Unlocked
from tollgate.client.api import Progress, Signer, StoreAPI
from tollgate.client.download import fetch_file
from tollgate.client.errors import IntegrityFailure
from tollgate.client.install import Change, compare, fetch_size, holds, link_or_copy
from tollgate.client.install_list import PlannedFile, PlannedPatch, VerifiedInstallList
from tollgate.client.purchase import VaultFile, place_order, record_addon
from tollgate.crypto import CryptoError, stream
from tollgate.crypto.keys import licence_wrapping_key, unwrap_content_key
from tollgate.files import write_atomic
from tollgate.protocol import zstd
from tollgate.protocol.zstd import ZstdFailure
from tollgate.runtime.home import ClientHome, read_json
from tollgate.runtime.state import InstalledFile
from tollgate.wire.licence import Licence, LicensedFile, parse_licence
from tollgate.wire.targets import patch_stream_id
from tollgate.wire.text import human_size


@dataclass(frozen=True)
class AddOnUpdate:
    """What updating one bought add-on would do."""

    product: str
    addon: str
    installed: str
    available: str
    bought_revision: int
    revision: int
    files: tuple[PlannedFile, ...]
    changes: tuple[Change, ...]

    @property
    def new_revision(self) -> bool:
        """The current release sells another revision: a new purchase, not an update."""
        return self.revision != self.bought_revision

    @property
    def up_to_date(self) -> bool:
        return self.installed == self.available

    @property
    def fetch_bytes(self) -> int:
        return fetch_size(self.changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "addon": self.addon,
            "installed": self.installed,
            "available": self.available,
            "up_to_date": self.up_to_date,
            "new_revision": self.new_revision,
            "fetch_bytes": self.fetch_bytes,
            "changes": [c.to_json() for c in self.changes if c.action != "keep"],
        }


@dataclass(frozen=True)
class AddOnUpdated:
    addon: str
    version: str
    licence_id: str
    fetched_bytes: int
    kept_files: int
    patched_files: int
    patch_fallbacks: list[str]


def plan_addon_updates(
    home: ClientHome, store_id: str, listed: VerifiedInstallList
) -> list[AddOnUpdate]:
    """For each add-on bought for ``listed.product`` that its current release carries, what
    bringing it to that release would change (nothing is written)."""
    state = home.state
    held: dict[str, dict[str, InstalledFile]] = {}
    for h in state.files(store_id, listed.product):
        if h.kind == "add-on" and h.addon is not None:
            held.setdefault(h.addon, {})[h.name] = h
    updates = []
    for name, bought in state.addons(store_id, listed.product).items():
        files = tuple(f for f in listed.files if f.addon == name and f.encrypted)
        if not files:
            continue  # not in this release (or free): it stays as it is
        changes = compare(files, held.get(name, {}))
        updates.append(
            AddOnUpdate(
                listed.product,
                name,
                bought.version,
                files[0].version,
                bought.revision,
                files[0].revision,
                files,
                tuple(changes),
            )
        )
    return updates


def apply_addon_update(
    home: ClientHome,
    api: StoreAPI,
    account: Account,
    keys: Unlocked,
    update: AddOnUpdate,
    progress: Progress | None = None,
) -> AddOnUpdated:
    """Get the free licence for the new release, fill its vault folder, switch, clean up."""
    if update.new_revision:
        raise IntegrityFailure(f"{update.addon} {update.available} is a new revision: buy it")
    state = home.state
    store_id = account.store_id
    bought = state.addons(store_id, update.product)[update.addon]
    old_licence = _held_licence(home, account, bought.licence_id)
    held = {
        f.name: f
        for f in state.files(store_id, update.product)
        if f.kind == "add-on" and f.addon == update.addon
    }
    signer = Signer(account.customer_id, keys.purchase_key)
    outcome, licence = place_order(
        api, account, signer, update.product, update.addon, update.available, upgrade=True
    )
    planned = {f.digest: f for f in update.files}
    if sorted(f.digest for f in licence.files) != sorted(planned):
        raise IntegrityFailure("the new licence does not cover the add-on files TUF lists")
    rebuild = _Rebuild(keys.customer_key, old_licence, licence)
    vault: list[VaultFile] = []
    fetched = kept = patched = 0
    fallbacks: list[str] = []
    for lf in licence.files:
        f = planned[lf.digest]
        dest = home.vault_file(store_id, update.product, update.addon, licence.version, lf.digest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        vault.append(VaultFile(f.name, dest, lf.digest, f.size, f.target))
        before = held.get(f.name)
        if holds(dest, lf.digest) or (
            before is not None and holds(before.path, lf.digest) and link_or_copy(before.path, dest)
        ):
            kept += 1
            continue
        patch = f.patch_from(before.digest) if before is not None else None
        if patch is not None and before is not None:
            try:
                fetched += rebuild.from_patch(api, signer, before, patch, lf, f, dest, progress)
                patched += 1
                continue
            except (IntegrityFailure, CryptoError, ZstdFailure, OSError) as exc:
                fallbacks.append(f"{f.name}: {exc}")  # the whole file instead
        fetched += fetch_file(api, lf.digest, f.parts, dest, signer=signer, progress=progress)
    detail = (
        f"{update.addon} from {update.installed} (order {outcome['order_id']}, no charge); "
        f"fetched {human_size(fetched)}, {patched} file(s) patched, {kept} kept"
    )
    if fallbacks:
        detail += "; whole files instead of patches for " + "; ".join(fallbacks)
    record_addon(
        home,
        account,
        outcome,
        licence,
        function=bought.function,
        revision=update.revision,
        files=vault,
        action="update",
        detail=detail,
    )
    _remove_other_releases(home, store_id, update.product, update.addon, licence.version)
    if old_licence is not None and old_licence.licence_id != licence.licence_id:
        home.licence_path(store_id, old_licence.licence_id).unlink(missing_ok=True)
    return AddOnUpdated(
        update.addon, licence.version, licence.licence_id, fetched, kept, patched, fallbacks
    )


def rebuild_encrypted(
    old_ciphertext: bytes,
    old_key: bytes,
    old: LicensedFile,
    patch_ciphertext: bytes,
    new_key: bytes,
    new: LicensedFile,
    stream_header: bytes,
    size: int,
) -> bytes:
    """The new release's ciphertext of a file, rebuilt in memory from the one held and an
    encrypted patch; raises unless it is exactly the signed ciphertext (``new.digest``)."""
    plain = stream.decrypt(
        old_key, old_ciphertext, expected_file_id=old.stream_id, expected_commitment=old.commitment
    )
    delta = stream.decrypt(
        new_key, patch_ciphertext, expected_file_id=patch_stream_id(new.stream_id, old.digest)
    )
    rebuilt = zstd.apply_patch(plain, delta, size)
    header = stream.parse_header(stream_header)
    if (header.raw, header.file_id, header.commitment) != (
        stream_header,
        new.stream_id,
        new.commitment,
    ):
        raise IntegrityFailure(f"the patch's stream header is not that of {new.path}")
    ciphertext = stream.encrypt(
        new_key, new.stream_id, rebuilt, chunk_size=header.chunk_size, salt=header.salt
    )
    if hashlib.sha256(ciphertext).hexdigest() != new.digest:
        raise IntegrityFailure(f"the patch does not rebuild the signed {new.path}")
    return ciphertext


class _Rebuild:
    """Content keys of the held and the new licence, for rebuilding files from patches."""

    def __init__(self, customer_key: bytes, old: Licence | None, new: Licence) -> None:
        self._old, self._new = old, new
        self._old_kwk = (
            None
            if old is None
            else licence_wrapping_key(customer_key, old.store_id, old.customer_id, old.licence_id)
        )
        self._new_kwk = licence_wrapping_key(
            customer_key, new.store_id, new.customer_id, new.licence_id
        )

    def from_patch(
        self,
        api: StoreAPI,
        signer: Signer,
        before: InstalledFile,
        patch: PlannedPatch,
        new: LicensedFile,
        f: PlannedFile,
        dest: Path,
        progress: Progress | None,
    ) -> int:
        """Fetch ``patch`` (kept encrypted on disk), rebuild ``dest``; returns bytes received."""
        held = self._old.files if self._old is not None else []
        old = next((o for o in held if o.digest == before.digest), None)
        if old is None or self._old_kwk is None or patch.stream_header is None:
            raise IntegrityFailure("the held licence does not cover the patch's base")
        delta = dest.with_name(dest.name + ".patch")
        received = fetch_file(
            api, patch.digest, patch.parts, delta, signer=signer, progress=progress
        )
        try:
            ciphertext = rebuild_encrypted(
                before.path.read_bytes(),
                unwrap_content_key(self._old_kwk, old.wrapped_key),
                old,
                delta.read_bytes(),
                unwrap_content_key(self._new_kwk, new.wrapped_key),
                new,
                patch.stream_header,
                f.installed_size,
            )
        finally:
            delta.unlink(missing_ok=True)
        write_atomic(dest, ciphertext)
        return received


def _held_licence(home: ClientHome, account: Account, licence_id: str) -> Licence | None:
    """The licence held for the installed release, if it still verifies (else no patches: the
    files are fetched whole)."""
    try:
        return parse_licence(
            read_json(home.licence_path(account.store_id, licence_id)),
            account.licence_public_key,
            store_id=account.store_id,
            customer_id=account.customer_id,
        )
    except (OSError, ValueError, CryptoError):
        return None


def _remove_other_releases(
    home: ClientHome, store_id: str, product: str, addon: str, version: str
) -> None:
    for child in home.addon_vault(store_id, product, addon).iterdir():
        if child.is_dir() and child.name != version:
            shutil.rmtree(child)
