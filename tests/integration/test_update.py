"""Updates: only what changed is fetched, the switch is atomic, a killed install leaves the old
version running and the next run finishes or rolls back (DESIGN.md section 7)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from test_cli import tg

from conftest import MACHINE_A, Customer, LiveStore, release_of_mt
from mitm import ManInTheMiddle
from tollgate.client.api import StoreAPI
from tollgate.client.install import install_product, plan_install, recover
from tollgate.runtime import Product
from tollgate.store.db import Patch


def mt_version(customer: Customer) -> str:
    current = customer.home.state.product(customer.account.store_id, "MT")
    assert current is not None
    return current.version


def versions_on_disk(customer: Customer) -> list[str]:
    base = customer.home.root / "products" / customer.account.store_id / "MT"
    return sorted(p.name for p in base.iterdir())


def test_update_fetches_only_a_patch_of_the_changed_file(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    store.ctx.publish(release_of_mt(tmp_path / "1.1", "1.1.0", notes="More words"))
    with store.api() as api:
        plan = plan_install(customer.home, api, customer.account, "MT")
        changes = {c.name: c for c in plan.changes}
        patch = changes.pop("data/basic.tsv")
        assert patch.action == "patch" and {c.action for c in changes.values()} == {"keep"}
        whole = (tmp_path / "1.1" / "data" / "basic.tsv").stat().st_size
        assert plan.fetch_bytes == patch.size < whole / 2 and not plan.up_to_date
        assert plan.listed.notice is not None and plan.listed.notice.startswith("More words")
        done = install_product(customer.home, api, customer.account, "MT")
    assert done.fetched_bytes == patch.size and done.patched_files == 1
    assert done.reused_files == len(changes) and done.patch_fallbacks == []
    assert mt_version(customer) == "1.1.0"
    product = Product.open("MT", home=customer.home.root)
    assert (product.path / "data" / "basic.tsv").read_bytes() == (
        tmp_path / "1.1" / "data" / "basic.tsv"
    ).read_bytes()
    actions = [(h["action"], h["version"]) for h in customer.home.state.history()]
    assert actions[0] == ("update", "1.1.0") and ("install", "1.0.0") in actions
    with store.api() as api:
        assert plan_install(customer.home, api, customer.account, "MT").up_to_date


def test_old_releases_are_pruned(store: LiveStore, customer: Customer, tmp_path: Path) -> None:
    for version in ("1.1.0", "1.2.0"):
        store.ctx.publish(release_of_mt(tmp_path / version, version))
        with store.api() as api:
            install_product(customer.home, api, customer.account, "MT")
    assert versions_on_disk(customer) == ["1.1.0", "1.2.0"]  # current and the one before


CRASH = """
import os, sys
from pathlib import Path
import tollgate.client.install as install
from tollgate.client.account import load_account
from tollgate.client.api import StoreAPI
from tollgate.runtime.home import ClientHome

point, home, store_id, url = sys.argv[1:]
if point == "before-switch":      # staged and journalled, not yet renamed into place
    install._move_into_place = lambda *a: os._exit(9)
else:                             # renamed into place, the state not yet switched
    install._finish_switch = lambda *a, **k: os._exit(9)
client_home = ClientHome(Path(home))
with StoreAPI(url) as api:
    install.install_product(client_home, api, load_account(client_home, store_id), "MT")
"""


def killed_install(store: LiveStore, customer: Customer, point: str) -> None:
    """Run an install in another process and kill it (no clean-up runs) at ``point``."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(CRASH),
            point,
            str(customer.home.root),
            customer.account.store_id,
            store.url,
        ],
        env={"TOLLGATE_MACHINE_ID": MACHINE_A, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 9, done.stderr


@pytest.mark.parametrize(
    ("point", "outcome", "after"),
    [("before-switch", "rolled back", "1.0.0"), ("before-commit", "finished", "1.1.0")],
)
def test_killed_install_leaves_old_version_and_next_run_recovers(
    store: LiveStore,
    customer: Customer,
    tmp_path: Path,
    point: str,
    outcome: str,
    after: str,
) -> None:
    store.ctx.publish(release_of_mt(tmp_path / "1.1", "1.1.0"))
    killed_install(store, customer, point)
    assert mt_version(customer) == "1.0.0"  # the old version is what runs
    assert Product.open("MT", home=customer.home.root).path.name == "1.0.0"
    assert len(customer.home.state.journal()) == 1
    assert recover(customer.home) == [f"MT 1.1.0: {outcome}"]
    assert customer.home.state.journal() == []
    assert mt_version(customer) == after
    with store.api() as api:  # the next install needs nothing more from the network
        done = install_product(customer.home, api, customer.account, "MT")
    assert mt_version(customer) == "1.1.0" and done.fetched_bytes == 0


def test_cli_update_dry_run_then_update(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    home = customer.home.root
    assert json.loads(tg(home, "update", "--dry-run", "--json").stdout)[0]["up_to_date"]
    store.ctx.publish(release_of_mt(tmp_path / "1.1", "1.1.0"))
    dry = tg(home, "update", "MT", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    [plan] = json.loads(dry.stdout)
    assert (plan["installed"], plan["available"]) == ("1.0.0", "1.1.0")
    assert [c["name"] for c in plan["changes"]] == ["data/basic.tsv"]
    assert mt_version(customer) == "1.0.0"  # a dry run changes nothing
    done = tg(home, "update", "MT")
    assert done.returncode == 0, done.stderr
    assert "1 patched" in done.stdout and "Updated MT to 1.1.0" in done.stdout
    assert mt_version(customer) == "1.1.0"
    listed = json.loads(tg(home, "list", "--json").stdout)
    mt = next(p for p in listed if p["name"] == "MT")
    assert {f["name"] for f in mt["files"]} >= {"data/basic.tsv", "mt/cli.py"}
    assert all(f["version"] == "1.1.0" for f in mt["files"] if f["kind"] == "core")
    history = json.loads(tg(home, "history", "--json").stdout)
    assert history[0]["action"] == "update" and history[0]["version"] == "1.1.0"
    missing = tg(home, "update", "Nope")
    assert missing.returncode == 2 and "not installed" in missing.stderr


def test_patch_that_does_not_apply_falls_back_to_the_whole_file(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    """The installed file was changed on disk, so it is not the patch's base: the client
    fetches the whole file instead, and the result is still the signed one."""
    store.ctx.publish(release_of_mt(tmp_path / "1.1", "1.1.0"))
    installed = Product.open("MT", home=customer.home.root).path / "data" / "basic.tsv"
    installed.write_text("edited by hand\n")
    with store.api() as api:
        done = install_product(customer.home, api, customer.account, "MT")
    assert done.patched_files == 0 and len(done.patch_fallbacks) == 1
    assert "not the patch's base" in done.patch_fallbacks[0]
    new = Product.open("MT", home=customer.home.root).path / "data" / "basic.tsv"
    assert new.read_bytes() == (tmp_path / "1.1" / "data" / "basic.tsv").read_bytes()
    assert "whole files instead of patches" in customer.home.state.history()[0]["detail"]


def test_altered_patch_falls_back_to_the_whole_file(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    store.ctx.publish(release_of_mt(tmp_path / "1.1", "1.1.0"))
    with store.ctx.sessions() as s:
        patch_digest = s.scalars(select(Patch.digest)).one()

    def corrupt(request: httpx.Request, real: httpx.Response) -> httpx.Response | None:
        if request.url.path.endswith(patch_digest):
            return httpx.Response(206, headers=dict(real.headers), content=real.content[::-1])
        return None

    with StoreAPI(store.url, transport=ManInTheMiddle(tamper=corrupt)) as api:
        done = install_product(customer.home, api, customer.account, "MT")
    assert done.patched_files == 0 and "SHA-256" in done.patch_fallbacks[0]
    new = Product.open("MT", home=customer.home.root).path / "data" / "basic.tsv"
    assert new.read_bytes() == (tmp_path / "1.1" / "data" / "basic.tsv").read_bytes()


def test_store_skips_a_patch_not_clearly_smaller(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    """A wholly new file gets no patch (tufup builds a useless one for minutes)."""
    src = release_of_mt(tmp_path / "1.1", "1.1.0", change=False)
    (src / "data" / "basic.tsv").write_bytes(os.urandom(200_000))
    store.ctx.publish(src)
    with store.ctx.sessions() as s:
        assert s.scalars(select(Patch)).all() == []
    with store.api() as api:
        plan = plan_install(customer.home, api, customer.account, "MT")
    assert [c.action for c in plan.changes if c.name == "data/basic.tsv"] == ["change"]
