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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

CORE = "core"
RELEASE = "release"
ADDON_PREFIX = "addon."
PATCH_PREFIX = "patch."
DESCRIPTOR = "store/descriptor.json"
CATALOG = "store/catalog.json"
# A product's or add-on's name: one plain target path segment.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


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
    parts = target.split("/")
    if len(parts) != 4 or not all(parts):
        raise ValueError(f"not a product file target: {target!r}")
    product, version, comp, quoted = parts
    addon = base = None
    if comp == CORE:
        pass
    elif comp.startswith(ADDON_PREFIX) and len(comp) > len(ADDON_PREFIX):
        addon = comp[len(ADDON_PREFIX) :]
    elif comp.startswith(PATCH_PREFIX) and re.fullmatch(r"[0-9a-f]{64}", comp[len(PATCH_PREFIX) :]):
        base = comp[len(PATCH_PREFIX) :]
    else:
        raise ValueError(f"not a product file target: {target!r}")
    return FileTarget(product, version, addon, unquote(quoted), base)
