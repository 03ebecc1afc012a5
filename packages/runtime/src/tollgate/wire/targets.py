"""Names of TUF targets, shared by store and client.

A product file is ``<product>/<version>/<component>/<quoted path>``: ``component`` is ``core``
or ``addon.<name>``, and the file's path inside the product is percent-encoded whole (its
slashes too) because TUF matches delegation patterns one path segment at a time, so every
product target has exactly four segments and ``<product>/*/*/*`` delegates them all.
A patch is ``<product>/<version>/patch.<base sha256>/<quoted path>``: it turns the installed file
whose SHA-256 is ``base`` into this release's file at ``path`` (for an encrypted add-on, ``base``
is the SHA-256 of the ciphertext in the customer's vault).
Each release also has a *release target*, ``<product>/<version>/release/release.json``, whose
``custom`` carries what is true of the release as a whole: summary, notes (the install list's
notice), entry point and requirements. Its bytes are the canonical JSON of that same ``custom``.
Only the current release of a product is listed, so an older install list names targets TUF no
longer lists and is refused.
Store documents are ``store/<name>``.

`parse_file_target` reads a name back strictly and raises only ``ValueError``: the product and
add-on names are whole `NAME_RE` matches, the version a plain PEP 440 string, the path (at
most 4096 characters) relative, without empty, ``.`` or ``..`` segments, control characters or
lone surrogates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from tollgate.wire.text import unstorable

CORE = "core"
RELEASE = "release"
ADDON_PREFIX = "addon."
PATCH_PREFIX = "patch."
DESCRIPTOR = "store/descriptor.json"
CATALOG = "store/catalog.json"
# A product's or add-on's name: one plain target path segment. Use it with fullmatch; it ends
# in \Z (not $, which also matches before a trailing newline), so .match is whole too.
NAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\Z")
VERSION_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9.+!_-]{0,63}\Z")  # str(packaging Version)
MAX_PATH = 4096
MAX_TARGET = 3 * MAX_PATH + 512  # a path percent-encoded whole, and the three names


def component(addon: str | None) -> str:
    return CORE if addon is None else ADDON_PREFIX + addon


def file_target(product: str, version: str, addon: str | None, path: str) -> str:
    return f"{product}/{version}/{component(addon)}/{quote(path, safe='')}"


def release_target(product: str, version: str) -> str:
    return f"{product}/{version}/{RELEASE}/release.json"


def patch_target(product: str, version: str, base: str, path: str) -> str:
    return f"{product}/{version}/{PATCH_PREFIX}{base}/{quote(path, safe='')}"


def patch_stream_id(stream_id: str, base: str) -> str:
    """The content-stream file id of an encrypted add-on patch: the new file's stream id and the
    SHA-256 of the ciphertext it patches, so each patch has its own stream keys."""
    return f"{stream_id}#patch.{base}"


@dataclass(frozen=True)
class FileTarget:
    product: str
    version: str
    addon: str | None
    path: str
    patch_base: str | None = None


def parse_file_target(target: str) -> FileTarget:
    """A product file or patch target; ValueError for anything else."""
    if not isinstance(target, str) or len(target) > MAX_TARGET:
        raise ValueError("not a product file target: not a short text")
    parts = target.split("/")
    if len(parts) != 4 or not all(parts):
        raise ValueError(f"not a product file target: {target[:200]!r}")
    product, version, comp, quoted = parts
    addon = base = None
    if comp == CORE:
        pass
    elif comp.startswith(ADDON_PREFIX) and NAME_RE.fullmatch(comp[len(ADDON_PREFIX) :]):
        addon = comp[len(ADDON_PREFIX) :]
    elif comp.startswith(PATCH_PREFIX) and re.fullmatch(r"[0-9a-f]{64}", comp[len(PATCH_PREFIX) :]):
        base = comp[len(PATCH_PREFIX) :]
    else:
        raise ValueError(f"not a product file target: {target[:200]!r}")
    if not NAME_RE.fullmatch(product) or not VERSION_RE.fullmatch(version):
        raise ValueError(f"not a product file target (product or version): {target[:200]!r}")
    return FileTarget(product, version, addon, _path(quoted), base)


def _path(quoted: str) -> str:
    """A file's path inside its product, from its percent-encoded target segment."""
    try:
        path = unquote(quoted, errors="strict")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the target's path is not UTF-8 once decoded: {quoted[:80]!r}") from exc
    bad = unstorable(path)
    if bad is not None:
        raise ValueError(f"the target's path holds {bad}")
    if len(path) > MAX_PATH or path.startswith("/") or {"", ".", ".."} & set(path.split("/")):
        raise ValueError(f"the target's path is not a plain relative path: {path[:80]!r}")
    return path
