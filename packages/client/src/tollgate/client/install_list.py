"""Fetching an install list and believing only what TUF also says (DESIGN.md section 5).

Checks, in order, each failing with exit status 4 and nothing installed:

- the answer has the install-list media type and format, for this store and product;
- the release target it names is listed by TUF (only a product's current release is, so an
  older list is refused) and is this product's;
- the notice is the release's signed notes, the requirements are its signed requirements;
- every install names a target TUF lists, inside this product release, whose signed ``custom``
  equals the command's entry, made for this machine's environment, with parts that add up to the
  target's signed length;
- the installs are exactly the release's files for this environment, as the release target
  lists them: none left out, none added;
- at least one core file is listed.

`verify_install_list` raises only `IntegrityFailure`, whatever the list or the release
target's ``custom`` hold (a signed ``"requires": null`` included).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from tollgate.client.api import StoreAPI
from tollgate.client.download import Part, signed_parts
from tollgate.client.errors import IntegrityFailure
from tollgate.client.trust import StoreTrust
from tollgate.crypto import canonical
from tollgate.protocol.environment import Environment
from tollgate.wire import install_list
from tollgate.wire.install_list import MEDIA_TYPE, MalformedInstallList
from tollgate.wire.targets import parse_file_target, release_target

COMPRESSIONS = ("none", "zstd")


@dataclass(frozen=True)
class PlannedPatch:
    """A signed patch from the installed file ``base`` (SHA-256) to a planned file. An
    encrypted add-on's patch carries the stream header of the file it makes."""

    target: str
    base: str
    digest: str
    size: int
    parts: tuple[Part, ...]
    encrypted: bool = False
    stream_header: bytes | None = None


@dataclass(frozen=True)
class PlannedFile:
    """One file to install, every field from its TUF target. ``digest``, ``size`` and
    ``parts`` describe what travels; ``installed_digest`` and ``installed_size`` the file as
    installed (decompressed)."""

    target: str
    name: str
    addon: str | None
    version: str
    function: str
    revision: int
    digest: str
    size: int
    parts: tuple[Part, ...]
    encrypted: bool
    compression: str
    installed_digest: str
    installed_size: int
    patches: tuple[PlannedPatch, ...]
    entry: dict[str, Any]

    def patch_from(self, base: str) -> PlannedPatch | None:
        return next((p for p in self.patches if p.base == base), None)


@dataclass(frozen=True)
class VerifiedInstallList:
    product: str
    version: str
    entry_point: str
    notice: str | None
    requires: tuple[str, ...]
    files: tuple[PlannedFile, ...]
    client_version: str | None
    addons: tuple[dict[str, Any], ...] = ()  # the release's signed add-on offers

    @property
    def open_files(self) -> list[PlannedFile]:
        """What is installed openly in the product's folder: the core and free add-ons.
        Encrypted add-ons go to the vault when bought (client/purchase.py)."""
        return [f for f in self.files if not f.encrypted]


def fetch_install_list(
    api: StoreAPI, trust: StoreTrust, store_id: str, product: str, environment: Environment
) -> VerifiedInstallList:
    response = api.get_response(f"/v1/products/{product}/install-list", environment.query())
    if response.headers.get("content-type", "").split(";")[0].strip() != MEDIA_TYPE:
        raise IntegrityFailure(f"the store's answer is not an install list ({MEDIA_TYPE})")
    try:
        doc = response.json()
    except ValueError as exc:
        raise IntegrityFailure("the install list is not JSON") from exc
    return verify_install_list(doc, trust, store_id, product, environment)


def verify_install_list(
    doc: Any, trust: StoreTrust, store_id: str, product: str, environment: Environment
) -> VerifiedInstallList:
    try:
        listed = install_list.parse(doc)
    except MalformedInstallList as exc:
        raise IntegrityFailure(f"the install list is malformed: {exc}") from exc
    if listed.store_id != store_id or listed.product != product:
        raise IntegrityFailure(f"the install list is for {listed.product} at {listed.store_id}")
    if listed.release != release_target(product, listed.version):
        raise IntegrityFailure("the install list names a release target of another product")
    release = trust.target(listed.release).custom
    if not isinstance(release, dict):
        raise IntegrityFailure(f"the signed release {listed.release} is not an object")
    if (release.get("kind"), release.get("product"), release.get("version")) != (
        "release",
        product,
        listed.version,
    ):
        raise IntegrityFailure(f"{listed.release} is not {product}'s release {listed.version}")
    notes = release.get("notes") or ""
    requires = release.get("requires", [])
    if not isinstance(notes, str) or not (
        isinstance(requires, list) and all(isinstance(r, str) for r in requires)
    ):
        raise IntegrityFailure(
            f"the signed release {listed.release} gives its notes or requirements oddly; the "
            "store must publish it again"
        )
    if listed.notices != ((notes,) if notes else ()):
        raise IntegrityFailure("the install list's notice is not the release's signed notes")
    requires = tuple(requires)
    if sorted(listed.requires) != sorted(requires):
        raise IntegrityFailure("the install list's requirements are not the signed ones")
    files = tuple(_planned(trust, product, listed.version, i, environment) for i in listed.installs)
    if len({f.target for f in files}) != len(files):
        raise IntegrityFailure("the install list names a file twice")
    _check_complete(release, {f.target for f in files}, product, listed.version, environment)
    if not any(f.addon is None for f in files):
        raise IntegrityFailure("the install list has no core file for this machine")
    return VerifiedInstallList(
        product=product,
        version=listed.version,
        entry_point=str(release.get("entry")),
        notice=notes or None,
        requires=requires,
        files=files,
        client_version=listed.client_version,
        addons=_offers(release.get("addons", [])),
    )


def _check_complete(
    release: dict[str, Any],
    listed: set[str],
    product: str,
    version: str,
    environment: Environment,
) -> None:
    """The install list must name every file the signed release has for this environment, and
    nothing else: a list with one core file dropped would install a program that cannot run."""
    try:
        wanted = {
            str(f["target"])
            for f in release["files"]
            if environment.selects([str(t) for t in f["environment"]])
        }
    except (KeyError, TypeError) as exc:
        raise IntegrityFailure(
            f"the signed release {product} {version} does not list its files ({exc}); the "
            "store must publish it again"
        ) from exc
    missing, extra = sorted(wanted - listed), sorted(listed - wanted)
    if missing:
        raise IntegrityFailure(
            f"the install list leaves out {len(missing)} signed file(s) of {product} {version} "
            f"for this machine: {', '.join(missing[:3])}"
        )
    if extra:
        raise IntegrityFailure(
            f"the install list names file(s) the release does not list for this machine: "
            f"{', '.join(extra[:3])}"
        )


def _offers(raw: Any) -> tuple[dict[str, Any], ...]:
    """The release's add-on offers (signed with the release target), shape-checked."""
    fields = {"name": str, "price": int, "currency": str, "free": bool}
    if not isinstance(raw, list) or not all(
        isinstance(a, dict)
        and all(isinstance(a.get(k), t) for k, t in fields.items())
        and (a.get("package") is None or str(a["package"]).isidentifier())
        and (a.get("per_use") is None or isinstance(a["per_use"], int))
        for a in raw
    ):
        raise IntegrityFailure("the release's add-on list is malformed")
    return tuple(raw)


def _planned(
    trust: StoreTrust,
    product: str,
    version: str,
    install: install_list.Install,
    environment: Environment,
) -> PlannedFile:
    try:
        named = parse_file_target(install.target)
    except ValueError as exc:
        raise IntegrityFailure(f"the install list is malformed: {exc}") from exc
    if (named.product, named.version) != (product, version):
        raise IntegrityFailure(f"the install list names {install.target}, outside {product}")
    if named.patch_base is not None:
        raise IntegrityFailure(f"the install list names the patch {install.target} as a file")
    info, entry = _signed(trust, install.target, install.entry)
    try:
        tags = [str(t) for t in entry["environment"]]
        if entry["name"] != named.path or entry.get("addon") != named.addon:
            raise ValueError("its name is not its target's")
        if entry["compression"] not in COMPRESSIONS:
            raise ValueError(f"compression {entry['compression']!r} is not supported")
        parts = signed_parts(entry["parts"], info.length, info.hashes["sha256"])
        installed_digest = str(entry.get("installed_sha256") or info.hashes["sha256"])
        planned = PlannedFile(
            target=info.path,
            name=named.path,
            addon=named.addon,
            version=str(entry["version"]),
            function=str(entry["function"]),
            revision=int(entry["revision"]),
            digest=info.hashes["sha256"],
            size=info.length,
            parts=parts,
            encrypted=bool(entry["encrypted"]),
            compression=str(entry["compression"]),
            installed_digest=installed_digest,
            installed_size=int(entry["size"]),
            patches=tuple(
                _patch(trust, named.product, version, named.path, installed_digest, o)
                for o in install.patches
            ),
            entry=entry,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityFailure(f"the signed entry of {install.target} is unusable: {exc}") from exc
    if (
        planned.compression == "none"
        and not planned.encrypted
        and planned.installed_size != planned.size
    ):
        raise IntegrityFailure(f"the signed sizes of {install.target} disagree")
    if not environment.selects(tags):
        raise IntegrityFailure(
            f"the install list names {named.path}, made for {', '.join(tags)}, not this machine"
        )
    return planned


def _signed(trust: StoreTrust, target: str, entry: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The target's TUF info and ``custom``, which must be ``entry`` exactly."""
    info = trust.target(target)
    # Compared as canonical JSON: the same document, not merely equal-looking values.
    try:
        same = canonical.dumps(entry) == canonical.dumps(info.custom)
    except ValueError as exc:
        raise IntegrityFailure(f"the install entry for {target} is unusable: {exc}") from exc
    if not same:
        raise IntegrityFailure(f"the install entry for {target} is not the signed one")
    return info, info.custom


def _patch(
    trust: StoreTrust,
    product: str,
    version: str,
    path: str,
    result: str,
    offer: install_list.Offer,
) -> PlannedPatch:
    try:
        named = parse_file_target(offer.target)
    except ValueError as exc:
        raise IntegrityFailure(f"the install list is malformed: {exc}") from exc
    if (named.product, named.version, named.path) != (product, version, path) or (
        named.patch_base is None
    ):
        raise IntegrityFailure(f"the install list offers {offer.target} for another file")
    info, entry = _signed(trust, offer.target, offer.entry)
    try:
        if (entry["kind"], entry["base_sha256"], entry["installed_sha256"]) != (
            "patch",
            named.patch_base,
            result,
        ):
            raise ValueError("it does not make this file from its base")
        parts = signed_parts(entry["parts"], info.length, info.hashes["sha256"])
        header = entry.get("stream_header")
        encrypted = bool(entry.get("encrypted"))
        if encrypted != (header is not None):
            raise ValueError("an encrypted patch needs the stream header of what it makes")
        stream_header = None if header is None else base64.b64decode(header, validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityFailure(f"the signed entry of {offer.target} is unusable: {exc}") from exc
    return PlannedPatch(
        info.path,
        named.patch_base,
        info.hashes["sha256"],
        info.length,
        parts,
        encrypted,
        stream_header,
    )
