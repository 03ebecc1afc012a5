"""`tollgate store rotate-keys`: registered customers follow the new keys without registering
again, retired keys sign nothing a client accepts, and a running store picks the new keys up."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.signer import CryptoSigner
from test_cli import tg
from test_tuf import repository_at, rows
from tuf.api.metadata import Metadata, MetaFile, Timestamp
from tuf.api.serialization.json import JSONSerializer

from conftest import Customer, LiveStore, release_of_mt
from mitm import ManInTheMiddle, answer
from tollgate.client.api import StoreAPI
from tollgate.client.catalog import account_catalog
from tollgate.client.errors import IntegrityFailure
from tollgate.client.install import install_product
from tollgate.store.repository import ROTATABLE
from tollgate.store.tuf_keys import key_id


def rotate(store: LiveStore, *roles: str) -> dict[str, Any]:
    args = [a for r in roles for a in ("--role", r)]
    done = tg(store.folder.path, "store", "rotate-keys", str(store.folder.path), *args, "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def trusted_root_version(customer: Customer) -> int:
    tuf = customer.home.store_dir(customer.account.store_id) / "tuf" / "root.json"
    return int(Metadata.from_bytes(tuf.read_bytes()).signed.version)


def test_customers_follow_a_rotation_of_every_key(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    ring = store.folder.keys.tuf
    old_ids = {key_id(k) for role in ROTATABLE for k in ring.of_role(role)}
    result = rotate(store)
    assert result["root_version"] == 2 and set(str(i) for i in result["retired_keys"]) == old_ids
    key_files = sorted(p.name for p in store.folder.tuf_keys_dir.iterdir())
    assert len(key_files) == 6 and not any(i[:16] in n for i in old_ids for n in key_files)
    # The store process that was running all along publishes with the new products key.
    store.ctx.publish(release_of_mt(tmp_path / "1.1", "1.1.0"))
    with store.api() as api:
        done = install_product(customer.home, api, customer.account, "MT")
    assert done.version == "1.1.0"
    assert trusted_root_version(customer) == 2


def test_timestamp_signed_with_a_retired_key_is_refused(
    store: LiveStore, customer: Customer
) -> None:
    retired = store.folder.keys.tuf.of_role("timestamp")[0]
    rotate(store, "timestamp")
    snapshot = Metadata.from_bytes(rows(store, "snapshot")[-1]).signed.version
    latest = Metadata.from_bytes(rows(store, "timestamp")[-1]).signed.version
    forged = Metadata(
        Timestamp(
            version=latest + 1,
            expires=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
            snapshot_meta=MetaFile(snapshot),
        )
    )
    forged.sign(CryptoSigner(retired))
    mitm = ManInTheMiddle(answer("timestamp.json", forged.to_bytes(JSONSerializer())))
    with (
        StoreAPI(store.url, transport=mitm) as api,
        pytest.raises(IntegrityFailure, match="failed its check"),
    ):
        account_catalog(api, customer.home, customer.account)


def test_running_store_signs_its_timestamp_with_the_new_key(
    store: LiveStore, customer: Customer
) -> None:
    """The serving process loaded its keys before the rotation; its next timestamp must be
    signed with the new key, read from the folder by key id."""
    rotate(store, "snapshot", "timestamp")
    with store.ctx.sessions.begin() as s:
        repository_at(store, hours=20).fresh_timestamp(s)
    with store.api() as api:
        assert account_catalog(api, customer.home, customer.account).product("MT")


def test_rotating_an_unknown_role_changes_nothing(store: LiveStore) -> None:
    before = len(rows(store, "root"))
    done = tg(store.folder.path, "store", "rotate-keys", str(store.folder.path), "--role", "nope")
    assert done.returncode == 2 and "among" in done.stderr
    assert len(rows(store, "root")) == before
