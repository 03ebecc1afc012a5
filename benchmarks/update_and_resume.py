"""Updates and resumed downloads of a 50 MiB product, over loopback from a real store.

- update where 1 % of the bytes changed: bytes fetched ÷ file size (goal ≤ 0.03) and wall time ÷
  the full download measured in the same run; the time to publish that version (its patches);
- the same for a bought 50 MiB encrypted add-on brought along by the update (an encrypted patch
  rebuilt in memory and re-encrypted), against buying it whole;
- a download cut at 50 % and resumed by the next run: bytes fetched in both runs ÷ file size
  (goal ≤ 1.05).
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
import time
from pathlib import Path

from common import bench_customer

from tollgate.client.addon_update import apply_addon_update, plan_addon_updates
from tollgate.client.api import StoreAPI
from tollgate.client.catalog import account_catalog
from tollgate.client.install import install_product, plan_install
from tollgate.client.purchase import buy
from tollgate.runtime.home import ClientHome
from tollgate.store.context import open_store
from tollgate.store.folder import StoreFolder
from tollgate.store.server import serve_in_thread

SIZE = 50 * 1024 * 1024
SPOTS, SPOT = 512, 1024  # 512 KiB changed: 1 % of the file


class Cut(Exception):
    """The line drops here (raised from the progress callback)."""


def release(where: Path, version: str, data: bytes, extra: bytes) -> Path:
    (where / "fifty").mkdir(parents=True)
    (where / "fifty" / "app.py").write_text("def main(argv):\n    return 0\n")
    (where / "fifty" / "data.bin").write_bytes(data)
    (where / "extra").mkdir()
    (where / "extra" / "payload.bin").write_bytes(extra)
    (where / "tollgate.toml").write_text(
        f'[product]\nname = "Fifty"\nversion = "{version}"\n'
        '[core]\nfiles = ["fifty/**"]\nentry = "fifty.app:main"\n'
        '[[addon]]\nname = "extra"\nrevision = 1\nprice = 100\nfiles = ["extra/**"]\n'
    )
    return where


def one_percent_changed(data: bytes) -> bytes:
    changed = bytearray(data)
    spots = random.Random(7)
    for _ in range(SPOTS):
        at = spots.randrange(len(changed) - SPOT)
        changed[at : at + SPOT] = os.urandom(SPOT)
    return bytes(changed)


def main() -> None:
    os.environ.setdefault("TOLLGATE_MACHINE_ID", "benchmark-machine-0001")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        ctx = open_store(StoreFolder.create(base / "store", name="bench"))
        old, old_extra = os.urandom(SIZE), os.urandom(SIZE)
        ctx.publish(release(base / "1.0", "1.0", old, old_extra))
        server = serve_in_thread(ctx)
        try:
            home = ClientHome(base / "customer")
            account, _ = bench_customer(server.url, home)
            with StoreAPI(server.url) as api:
                t = time.perf_counter()
                full = install_product(home, api, account, "Fifty")
                full_time = time.perf_counter() - t
                keys = account.unlock(home, None)
                t = time.perf_counter()
                buy(
                    home,
                    api,
                    account,
                    account_catalog(api, home, account),
                    "Fifty",
                    "extra",
                    keys=keys,
                )
                buy_time = time.perf_counter() - t

            t = time.perf_counter()
            new, new_extra = one_percent_changed(old), one_percent_changed(old_extra)
            ctx.publish(release(base / "1.1", "1.1", new, new_extra))
            publish_time = time.perf_counter() - t

            with StoreAPI(server.url) as api:
                t = time.perf_counter()
                update = install_product(home, api, account, "Fifty")
                update_time = time.perf_counter() - t
                listed = plan_install(home, api, account, "Fifty").listed
                [plan] = plan_addon_updates(home, account.store_id, listed)
                t = time.perf_counter()
                addon = apply_addon_update(home, api, account, keys, plan)
                addon_time = time.perf_counter() - t
            print(f"full download of 1.0: {full.fetched_bytes:,} bytes in {full_time:.2f} s")
            print(f"buying the 50 MiB add-on (fetched whole): {buy_time:.2f} s")
            print(
                f"publish 1.1 (1 % of core file and add-on changed, patches made): "
                f"{publish_time:.2f} s"
            )
            print(
                f"update 1.0 -> 1.1: {update.fetched_bytes:,} bytes in {update_time:.2f} s "
                f"({update.patched_files} file patched)"
            )
            print(f"  bytes ÷ full size: {update.fetched_bytes / SIZE:.4f}  (goal ≤ 0.03)")
            print(f"  time ÷ full download: {update_time / full_time:.3f}")
            print(
                f"add-on 1.0 -> 1.1 at no charge: {addon.fetched_bytes:,} bytes in "
                f"{addon_time:.2f} s ({addon.patched_files} file rebuilt from an encrypted patch)"
            )
            print(f"  bytes ÷ add-on size: {addon.fetched_bytes / SIZE:.4f}  (goal ≤ 0.03)")
            print(f"  time ÷ buying it whole: {addon_time / buy_time:.3f}")

            fresh = ClientHome(base / "second")
            account2, _ = bench_customer(server.url, fresh)
            seen = 0

            def cut_at_half(done: int, total: int) -> None:
                nonlocal seen
                seen = max(seen, done)
                if done >= total // 2:
                    raise Cut

            with StoreAPI(server.url) as api:
                with contextlib.suppress(Cut):
                    install_product(fresh, api, account2, "Fifty", progress=cut_at_half)
                resumed = install_product(fresh, api, account2, "Fifty")
            total = seen + resumed.fetched_bytes
            print(
                f"download cut at {seen:,} bytes, resumed with {resumed.fetched_bytes:,}: "
                f"{total:,} bytes for {SIZE:,}"
            )
            print(f"  bytes ÷ file size: {total / SIZE:.4f}  (goal ≤ 1.05)")
        finally:
            server.stop()
            ctx.close()


if __name__ == "__main__":
    main()
