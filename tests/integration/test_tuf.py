"""The store's TUF repository against DESIGN.md section 7: forged, rolled-back, frozen and
mixed-and-matched metadata are refused before anything is installed; the store keeps its
timestamp fresh by itself."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
import rfc8785
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, MetaFile, Timestamp
from tuf.api.serialization.json import JSONSerializer

from conftest import Customer, LiveStore, release_of_mt
from mitm import ManInTheMiddle, Rewrite, answer
from tollgate.client.api import StoreAPI
from tollgate.client.catalog import account_catalog
from tollgate.client.errors import IntegrityFailure
from tollgate.store.context import utcnow
from tollgate.store.repository import Repository


def catalog_through(store: LiveStore, customer: Customer, rewrite: Rewrite) -> None:
    with StoreAPI(store.url, transport=ManInTheMiddle(rewrite)) as api:
        account_catalog(api, customer.home, customer.account)


def rows(store: LiveStore, role: str) -> list[bytes]:
    """Every signed version of ``role``, oldest first."""
    with store.ctx.sessions() as s:
        found, version = [], 1
        while (body := store.ctx.repository.version_bytes(s, role, version)) is not None:
            found.append(body)
            version += 1
        return found


def signed_timestamp(store: LiveStore, version: int, expires: dt.datetime) -> bytes:
    """A timestamp signed with the store's real key: what an old copy on a mirror looks like."""
    snapshot = Metadata.from_bytes(rows(store, "snapshot")[-1]).signed.version
    md = Metadata(Timestamp(version=version, expires=expires, snapshot_meta=MetaFile(snapshot)))
    md.sign(CryptoSigner(store.folder.keys.tuf.of_role("timestamp")[0]))
    return md.to_bytes(JSONSerializer())


def test_the_customer_reads_the_catalog_through_tuf(store: LiveStore, customer: Customer) -> None:
    with StoreAPI(store.url) as api:
        cat = account_catalog(api, customer.home, customer.account)
    dic2 = cat.addon("MT", "dic2")["files"][0]
    assert dic2["encrypted"] and dic2["entry"]["function"] == "dic2"
    assert (customer.home.store_dir(customer.account.store_id) / "tuf" / "root.json").exists()


def test_altered_timestamp_is_refused(store: LiveStore, customer: Customer) -> None:
    good = rows(store, "timestamp")[-1]
    altered = good.replace(b'"version":', b'"version": ', 1)  # same meaning, other bytes
    altered = good.replace(b"snapshot.json", b"snapshot.jsoN", 1)
    with pytest.raises(IntegrityFailure, match="failed its check"):
        catalog_through(
            store, customer, lambda p: altered if p.endswith("timestamp.json") else None
        )


def test_rolled_back_timestamp_is_refused(store: LiveStore, customer: Customer) -> None:
    first = rows(store, "timestamp")[0]
    assert len(rows(store, "timestamp")) > 1  # the customer has trusted a later one
    with pytest.raises(IntegrityFailure, match="BadVersionNumber"):
        catalog_through(store, customer, answer("/timestamp.json", first))


def test_frozen_timestamp_is_refused(store: LiveStore, customer: Customer) -> None:
    current = Metadata.from_bytes(rows(store, "timestamp")[-1]).signed.version
    stale = signed_timestamp(store, current + 1, utcnow() - dt.timedelta(hours=1))
    with pytest.raises(IntegrityFailure, match="Expired"):
        catalog_through(store, customer, answer("/timestamp.json", stale))


def test_mixed_and_matched_targets_are_refused(store: LiveStore, customer: Customer) -> None:
    """The snapshot names targets version N; an older targets file served under that name."""
    targets = rows(store, "targets")
    newest = len(targets)
    assert newest > 1

    # A fresh client folder must fetch targets; the customer's copy is already current.
    (customer.home.store_dir(customer.account.store_id) / "tuf" / "targets.json").unlink()
    with pytest.raises(IntegrityFailure, match="failed its check"):
        catalog_through(store, customer, answer(f"/{newest}.targets.json", targets[0]))


def test_target_the_repository_does_not_list_is_refused(
    store: LiveStore, customer: Customer
) -> None:
    with StoreAPI(store.url) as api:
        trust = customer.account.trust(api, customer.home)
        with pytest.raises(IntegrityFailure, match="does not list"):
            trust.target("MT/9.9.9/core/mt%2Fcli.py")


def repository_at(store: LiveStore, *, hours: int) -> Repository:
    """The store's repository as a process whose clock is ``hours`` ahead would see it."""
    return Repository(
        store.folder.keys.tuf,
        store.ctx.repository.blobs,
        lambda: utcnow() + dt.timedelta(hours=hours),
    )


def test_store_refreshes_its_timestamp_before_it_expires(
    store: LiveStore, customer: Customer
) -> None:
    before = Metadata.from_bytes(rows(store, "timestamp")[-1]).signed
    with store.ctx.sessions.begin() as s:
        served = Metadata.from_bytes(repository_at(store, hours=20).fresh_timestamp(s)).signed
    assert served.version == before.version + 1 and served.expires > before.expires
    snapshots = len(rows(store, "snapshot"))
    with store.ctx.sessions.begin() as s:
        repository_at(store, hours=6 * 24).fresh_timestamp(s)
    assert len(rows(store, "snapshot")) == snapshots + 1  # the snapshot was due as well
    with StoreAPI(store.url) as api:  # and the customer accepts the new ones
        account_catalog(api, customer.home, customer.account)


def test_catalog_naming_another_products_file_is_refused(
    store: LiveStore, customer: Customer
) -> None:
    """Signed but inconsistent: the catalog lists a Tools file as MT's core file."""
    with StoreAPI(store.url) as api:
        doc = customer.account.trust(api, customer.home).document("store/catalog.json")
    products = {p["name"]: p for p in doc["products"]}
    products["MT"]["core"][0]["target"] = products["Tools"]["core"][0]["target"]
    with store.ctx.sessions.begin() as s:
        store.ctx.repository.set_documents(s, {"catalog.json": rfc8785.dumps(doc)})
    with (
        StoreAPI(store.url) as api,
        pytest.raises(IntegrityFailure, match="for another file"),
    ):
        account_catalog(api, customer.home, customer.account)


def test_a_new_release_leaves_the_top_level_targets_alone(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    """targets.json names every product; a release of one product must not make every client
    fetch it again: only the catalog role, the product's role, snapshot and timestamp change."""
    before = {role: len(rows(store, role)) for role in ("targets", "catalog", "products.MT")}
    store.ctx.publish(release_of_mt(tmp_path / "1.1", "1.1.0"))
    after = {role: len(rows(store, role)) for role in ("targets", "catalog", "products.MT")}
    assert after == {
        "targets": before["targets"],
        "catalog": before["catalog"] + 1,
        "products.MT": before["products.MT"] + 1,
    }
    with StoreAPI(store.url) as api:  # and the client still reads the new catalog through TUF
        assert account_catalog(api, customer.home, customer.account).product("MT")["version"] == (
            "1.1.0"
        )


@pytest.mark.parametrize(
    ("accept", "compressed"),
    [("gzip, deflate", True), ("br;q=1.0, gzip;q=0.5", True), ("gzip;q=0", False), ("", False)],
)
def test_metadata_travels_gzip_compressed_when_accepted(
    store: LiveStore, accept: str, compressed: bool
) -> None:
    """The signed bytes are the same either way; only what travels shrinks."""
    version = len(rows(store, "targets"))
    path = f"/v1/tuf/{version}.targets.json"
    with httpx.Client(base_url=store.url) as http:
        response = http.get(path, headers={"Accept-Encoding": accept})
    assert response.status_code == 200
    assert response.content == rows(store, "targets")[-1]  # decoded: the signed bytes
    assert response.headers.get("content-encoding") == ("gzip" if compressed else None)
    assert "Accept-Encoding" in response.headers["vary"]
    if compressed:
        assert response.num_bytes_downloaded < len(response.content)
