"""What the client believes about a store: its TUF repository, refreshed with python-tuf's
``ngclient`` from the root pinned at registration.

Everything public the client acts on comes through here: the store descriptor (id, name, HPKE
key, licence key), the catalog, and every file's length, SHA-256 and install entry. A forged,
altered, rolled-back, frozen or mixed-and-matched repository fails ``refresh`` or the lookup,
and the command stops with exit status 4 before anything is installed; a store that answers 5xx
or not at all is unavailable (exit 5), never suspected of tampering.

First contact takes the store's first root (``/v1/tuf/1.root.json``) on trust and shows its
SHA-256 so the customer can compare it with the vendor's (``--trust`` checks it); from then on
``ngclient`` walks root versions forward from the copy kept in the account's ``tuf/`` folder,
so keys rotate without customers re-registering.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from tuf.api.exceptions import DownloadError, DownloadHTTPError, RepositoryError
from tuf.api.metadata import TargetFile
from tuf.ngclient import FetcherInterface, Updater

from tollgate.client.api import StoreAPI, passing, unavailable
from tollgate.client.errors import IntegrityFailure, Refused, Unreachable, UsageError
from tollgate.runtime.errors import explain_os_error
from tollgate.wire.targets import DESCRIPTOR

FIRST_ROOT = "/v1/tuf/1.root.json"
T = TypeVar("T")
# Failures of this machine's folder, not of the metadata in it.
NOT_THE_FILES_FAULT = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT)


class _HttpxFetcher(FetcherInterface):
    """ngclient's downloads over the same httpx client (and transport) as the rest."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def _fetch(self, url: str) -> Iterator[bytes]:
        try:
            with self._http.stream("GET", url) as response:
                if response.status_code != 200:
                    raise DownloadHTTPError(
                        f"{url} answered {response.status_code}", response.status_code
                    )
                yield from response.iter_bytes()
        except httpx.TransportError as exc:
            raise DownloadError(f"cannot fetch {url}: {exc}") from exc


@dataclass(frozen=True)
class Descriptor:
    store_id: str
    name: str
    sealing_key: bytes
    licence_key: str


def root_fingerprint(root: bytes) -> str:
    return hashlib.sha256(root).hexdigest()


class StoreTrust:
    """One store's TUF repository, refreshed once per instance (as ngclient requires)."""

    def __init__(self, api: StoreAPI, metadata_dir: Path, bootstrap: bytes | None = None) -> None:
        metadata_dir.mkdir(parents=True, exist_ok=True)
        self._api = api
        self._fetcher = _HttpxFetcher(api.http)
        self.metadata_dir = metadata_dir
        self.fingerprint: str | None = None  # set at first contact
        try:
            self._updater = Updater(
                str(metadata_dir),
                f"{api.base_url}/v1/tuf/",
                None,
                f"{api.base_url}/v1/targets/",
                fetcher=self._fetcher,
                bootstrap=bootstrap,
            )
        except OSError as exc:
            if exc.errno in NOT_THE_FILES_FAULT:  # a read-only folder, a full disk
                raise UsageError(
                    explain_os_error(exc, "opening the store's pinned TUF metadata", metadata_dir)
                ) from exc
            raise IntegrityFailure(
                f"the pinned TUF root in {metadata_dir} is unusable: {exc}"
            ) from exc
        except (ValueError, RepositoryError) as exc:
            raise IntegrityFailure(
                f"the pinned TUF root in {metadata_dir} is unusable: {exc}"
            ) from exc
        self._refreshed = False

    @classmethod
    def first_contact(
        cls, api: StoreAPI, metadata_dir: Path, expected_fingerprint: str | None = None
    ) -> StoreTrust:
        """Trust the store's first root, checked against ``expected_fingerprint`` if given."""
        try:
            root = api.get_bytes(FIRST_ROOT)
        except Refused as exc:
            if exc.status != 404:
                raise
            raise Unreachable(
                f"no Tollgate store answers at {api.base_url} (it has no {FIRST_ROOT}): give "
                "the store's own address, as its vendor published it, e.g. http://host:8700"
            ) from exc
        fingerprint = root_fingerprint(root)
        if expected_fingerprint is not None and expected_fingerprint.lower() != fingerprint:
            raise IntegrityFailure(
                f"the store's root fingerprint is {fingerprint}, not {expected_fingerprint}: "
                "this is not the store you meant"
            )
        trust = cls(api, metadata_dir, bootstrap=root)
        trust.fingerprint = fingerprint
        return trust

    def refresh(self) -> None:
        if self._refreshed:
            return
        self._guarded(self._updater.refresh)
        self._refreshed = True

    def target(self, path: str) -> TargetFile:
        """The signed entry for ``path``; refused if the repository does not list it."""
        self.refresh()
        info = self._guarded(lambda: self._updater.get_targetinfo(path))
        if info is None:
            raise IntegrityFailure(f"the store's signed metadata does not list {path}")
        return info

    def target_bytes(self, info: TargetFile) -> bytes:
        """A target's bytes from ``/v1/targets/``, cut off past its signed length and checked
        against its signed hashes."""
        url = f"{self._api.base_url}/v1/targets/{info.get_prefixed_paths()[0]}"
        data = self._guarded(lambda: self._fetcher.download_bytes(url, info.length))
        self._guarded(lambda: info.verify_length_and_hashes(data))
        return data

    def document(self, path: str) -> dict[str, Any]:
        """A small JSON target (descriptor, catalog), fetched and checked against TUF."""
        data = self.target_bytes(self.target(path))
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise IntegrityFailure(f"{path} is not JSON") from exc
        if not isinstance(doc, dict):
            raise IntegrityFailure(f"{path} is not a JSON object")
        return doc

    def descriptor(self) -> Descriptor:
        doc = self.document(DESCRIPTOR)
        try:
            if doc["type"] != "store-descriptor":
                raise ValueError("not a store descriptor")
            return Descriptor(
                str(doc["store_id"]),
                str(doc["name"]),
                base64.b64decode(doc["sealing_key"]),
                str(doc["licence_key"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityFailure(f"the store's descriptor is malformed: {exc}") from exc

    def _guarded(self, call: Callable[[], T]) -> T:
        """Run a TUF step; its failures become the client's errors (exit 4 or 5)."""
        try:
            return call()
        except DownloadHTTPError as exc:
            if passing(exc.status_code):
                raise unavailable(self._api.base_url, exc.status_code, "") from exc
            raise IntegrityFailure(
                f"the store's TUF repository is incomplete ({exc}): nothing was installed"
            ) from exc
        except DownloadError as exc:
            raise Unreachable(f"cannot reach the store at {self._api.base_url}: {exc}") from exc
        except RepositoryError as exc:
            raise IntegrityFailure(
                f"the store's signed metadata failed its check ({type(exc).__name__}: {exc}): "
                "nothing was installed"
            ) from exc
