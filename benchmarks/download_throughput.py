"""Authenticated download of a 256 MiB add-on from the store ÷ nginx (sendfile on) serving the
same blob from the same disk, both over loopback, curl as the client (goal ≥ 0.8).

Installs Debian's nginx when it is missing (needs root and the package registry), starts it on
a free loopback port with its own config, and stops it after. The store runs as
`tollgate store serve` in its own process. Every Tollgate request carries a fresh RFC 9421
signature (nonces are single-use). A second figure shows a resumed download (HTTP Range from
byte 1), which takes Starlette's chunked path rather than the whole-file one.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import bench_customer, product

from tollgate.client.api import StoreAPI
from tollgate.client.catalog import account_catalog
from tollgate.protocol.httpsig import sign_request
from tollgate.runtime.home import ClientHome
from tollgate.store.context import open_store
from tollgate.store.folder import StoreFolder

SIZE = 256 * 1024 * 1024
ROUNDS = 9


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_nginx() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "nginx"], check=True)
    return "/usr/sbin/nginx"


def start_nginx(root: Path, work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    conf = work / "nginx.conf"
    # Blobs are 0600 in a private folder: the worker must run as their owner.
    user = f"user {pwd.getpwuid(os.getuid()).pw_name};" if os.geteuid() == 0 else ""
    conf.write_text(f"""
{user}
daemon off; worker_processes 1; pid {work}/nginx.pid; error_log {work}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off; sendfile on; tcp_nopush on;
  client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};
  uwsgi_temp_path {work}; scgi_temp_path {work};
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
""")
    proc = subprocess.Popen([ensure_nginx(), "-c", str(conf), "-p", str(work)])
    wait_up(f"http://127.0.0.1:{port}/")
    return proc, f"http://127.0.0.1:{port}"


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def curl(url: str, headers: dict[str, str]) -> float:
    args = ["curl", "-sS", "-f", "-o", "/dev/null", "-w", "%{speed_download}", url]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return float(out) / 1e6


def main() -> None:
    os.environ.setdefault("TOLLGATE_MACHINE_ID", "benchmark-machine-0001")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        folder = StoreFolder.create(base / "store", name="bench")
        ctx = open_store(folder)
        ctx.publish(product(base / "Big", "Big", SIZE))
        ctx.close()
        port = free_port()
        serve = ["store", "serve", str(folder.path), "--port", str(port)]
        store_proc = subprocess.Popen(
            [sys.executable, "-m", "tollgate", *serve],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        nginx_proc = None
        try:
            url = f"http://127.0.0.1:{port}"
            wait_up(url + "/v1/store")
            home = ClientHome(base / "customer")
            acct, pk = bench_customer(url, home)
            with StoreAPI(url) as api:
                addon = account_catalog(api, home, acct).addon("Big", "data")
                body = b'{"product": "Big", "addon": "data", "version": "1.0"}'
                order_url = url + "/v1/orders"
                hdrs = sign_request(
                    "POST",
                    order_url,
                    {"Idempotency-Key": "bench-order", "Content-Type": "application/json"},
                    body,
                    key_id=acct.customer_id,
                    key=pk,
                    now=dt.datetime.now(dt.UTC),
                )
                httpx.post(order_url, content=body, headers=hdrs).raise_for_status()
            digest = addon["files"][0]["digest"]
            nginx_proc, nginx_url = start_nginx(folder.blobs_dir, base)

            def ours(ranged: bool = False) -> float:
                file_url = f"{url}/v1/files/{digest}"
                signed = sign_request(
                    "GET",
                    file_url,
                    {},
                    b"",
                    key_id=acct.customer_id,
                    key=pk,
                    now=dt.datetime.now(dt.UTC),
                )
                return curl(file_url, signed | ({"Range": "bytes=1-"} if ranged else {}))

            # Interleaved, so that a slow spell of the machine touches all three alike.
            samples = [
                (ours(), ours(ranged=True), curl(f"{nginx_url}/{digest}", {}))
                for _ in range(ROUNDS)
            ]
            columns = zip(*samples, strict=True)
            tollgate, resumed, nginx = (statistics.median(column) for column in columns)
        finally:
            store_proc.terminate()
            store_proc.wait(timeout=10)
            if nginx_proc is not None:
                nginx_proc.terminate()
                nginx_proc.wait(timeout=10)
    print(f"tollgate store serve, whole file:     {tollgate:,.0f} MB/s")
    print(f"tollgate store serve, Range from 1:   {resumed:,.0f} MB/s")
    print(f"nginx sendfile, same blob, same disk: {nginx:,.0f} MB/s")
    print(f"ratio: {tollgate / nginx:.2f} (goal >= 0.8); resumed {resumed / nginx:.2f}")
    print(f"median of {ROUNDS} downloads of {SIZE >> 20} MiB each, curl client, loopback")


if __name__ == "__main__":
    main()
