"""Purchase-to-licence latency for a 1 KiB add-on ÷ the same for a 256 MiB add-on (goal ≤ 1.1).

Per-purchase work must not grow with the add-on: the store wraps a content key made at publish
time instead of encrypting per customer. Both add-ons are bought over loopback from a real store
(SQLite, sandbox gateway) by the same customers; the median order round trip is compared.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from common import bench_customer, product

from tollgate.protocol.httpsig import sign_request
from tollgate.runtime.home import ClientHome
from tollgate.store.context import open_store
from tollgate.store.folder import StoreFolder
from tollgate.store.server import serve_in_thread

CUSTOMERS = 15
BIG = 256 * 1024 * 1024


def main() -> None:
    os.environ.setdefault("TOLLGATE_MACHINE_ID", "benchmark-machine-0001")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        folder = StoreFolder.create(base / "store", name="bench")
        ctx = open_store(folder, registrations_per_minute=10_000)
        for name, size in (("Small", 1024), ("Big", BIG)):
            t = time.perf_counter()
            ctx.publish(product(base / name, name, size))
            print(f"published {name} ({size:,} bytes) in {time.perf_counter() - t:.2f} s")
        server = serve_in_thread(ctx)
        timings: dict[str, list[float]] = {"Small": [], "Big": []}
        try:
            for i in range(CUSTOMERS):
                acct, pk = bench_customer(server.url, ClientHome(base / f"c{i}"))
                order_names = ("Small", "Big") if i % 2 else ("Big", "Small")
                for name in order_names:
                    body = json.dumps({"product": name, "addon": "data", "version": "1.0"}).encode()
                    url = f"{server.url}/v1/orders"
                    headers = sign_request(
                        "POST",
                        url,
                        {
                            "Idempotency-Key": f"bench-{i}-{name}",
                            "Content-Type": "application/json",
                        },
                        body,
                        key_id=acct.customer_id,
                        key=pk,
                        now=dt.datetime.now(dt.UTC),
                    )
                    t = time.perf_counter()
                    r = httpx.post(url, content=body, headers=headers)
                    timings[name].append(time.perf_counter() - t)
                    assert r.status_code == 200, r.text
        finally:
            server.stop()
    small, big = (statistics.median(timings[n]) for n in ("Small", "Big"))
    print(f"order → licence, 1 KiB add-on:   {small * 1000:.1f} ms (median of {CUSTOMERS})")
    print(f"order → licence, 256 MiB add-on: {big * 1000:.1f} ms (median of {CUSTOMERS})")
    print(f"ratio: {small / big:.2f} (goal <= 1.1)")


if __name__ == "__main__":
    main()
