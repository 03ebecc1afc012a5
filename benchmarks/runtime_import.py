"""Importing a bought add-on module of ~2,000 lines ÷ importing the same module in plain form
from a folder with its ``.pyc`` (goal ≤ 1.5), excluding the one-time unseal of ``K``; and that
one-time unseal with and without a password.

Both imports run in this process, alternately, median of many. The add-on's import includes
everything a program pays at each start after the first: reading and verifying the signed
licence, checking its policy, unwrapping the content keys, decrypting and authenticating every
file, and loading the compiled code from the sealed cache (runtime/codecache.py). The first
import ever, which compiles the source and writes that cache, is reported apart.
"""

from __future__ import annotations

import importlib
import os
import py_compile
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from common import bench_customer, buy_addon, product_with

from tollgate.crypto.keyfile import Binding
from tollgate.runtime import Product
from tollgate.runtime.home import ClientHome
from tollgate.runtime.loader import MemoryFinder
from tollgate.store.context import open_store
from tollgate.store.folder import StoreFolder
from tollgate.store.server import serve_in_thread

ROUNDS = 200
PASSWORD = "correct horse battery staple"  # noqa: S105 (a benchmark's throwaway account)


def module_source(lines: int = 2000) -> str:
    """Ordinary code: functions with loops and branches, a class every ten functions."""
    out = ['"""A generated module of about 2,000 lines."""', "import math", ""]
    i = 0
    while len(out) < lines:
        out += [
            f"def f{i}(x: float, y: float = {i}) -> float:",
            f'    """Function {i}."""',
            "    total = 0.0",
            f"    for k in range({i % 7 + 2}):",
            "        total += math.sin(x * k) + y / (k + 1)",
            f"    if total > {i}:",
            f"        return total - {i}",
            f"    return total * {i % 3 + 1}",
            "",
            "",
        ]
        if i % 10 == 0:
            out += [f"class C{i}:", "    def m(self, a: int) -> int:", f"        return a + {i}"]
            out += ["", ""]
        i += 1
    return "\n".join(out) + "\n"


def forget(name: str) -> None:
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]
    sys.meta_path[:] = [
        f for f in sys.meta_path if not (isinstance(f, MemoryFinder) and f.package == name)
    ]
    importlib.invalidate_caches()


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    os.environ.setdefault("TOLLGATE_MACHINE_ID", "benchmark-machine-0001")
    os.environ["TOLLGATE_BACKGROUND"] = "0"
    source = module_source()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        plain_dir = base / "plain" / "plain_big"
        plain_dir.mkdir(parents=True)
        (plain_dir / "__init__.py").write_text(source)
        py_compile.compile(str(plain_dir / "__init__.py"), doraise=True)  # its .pyc, as installed
        sys.path.insert(0, str(base / "plain"))

        ctx = open_store(StoreFolder.create(base / "store", name="bench"))
        ctx.publish(
            product_with(
                base / "src", "Importer", "big", {"bench_big/__init__.py": source.encode()}
            )
        )
        server = serve_in_thread(ctx)
        try:
            homes = {}
            for label, binding, password in (
                ("machine", Binding.MACHINE, None),
                ("machine+password", Binding.MACHINE_PASSWORD, PASSWORD),
            ):
                home = ClientHome(base / label)
                account, keys = bench_customer(server.url, home, binding, password)
                buy_addon(server.url, home, account, keys, "Importer")
                homes[label] = home
        finally:
            server.stop()
            ctx.close()

        home = homes["machine"]
        bought = Product.open("Importer", home=home.root)
        bought.has("big")  # the one-time unseal of K, measured below
        first = timed(lambda: bought.import_module("big"))  # compiles and seals the code

        plain_times, ours_times = [], []
        for _ in range(ROUNDS):
            forget("plain_big")
            plain_times.append(timed(lambda: importlib.import_module("plain_big")))
            forget("bench_big")
            ours_times.append(timed(lambda: bought.import_module("big")))
        plain, ours = statistics.median(plain_times), statistics.median(ours_times)
        assert sys.modules["bench_big"].f5(1.0) == sys.modules["plain_big"].f5(1.0)

        unseal: dict[str, float] = {}
        for label, home in homes.items():
            os.environ["TOLLGATE_PASSWORD"] = PASSWORD
            samples = []
            for _ in range(5):
                fresh = Product.open("Importer", home=home.root)
                cold = timed(partial(fresh.has, "big"))  # unseals K, then checks
                samples.append(cold - timed(partial(fresh.has, "big")))  # minus the check
            unseal[label] = statistics.median(samples)
            del os.environ["TOLLGATE_PASSWORD"]

    lines = source.count("\n")
    print(f"plain import of a {lines}-line module (.pyc): {plain * 1e3:.3f} ms")
    print(f"bought add-on import (licence, decrypt, sealed code): {ours * 1e3:.3f} ms")
    print(f"ratio: {ours / plain:.2f} (goal <= 1.5)")
    print(f"first import ever (compiles, writes the sealed code): {first * 1e3:.2f} ms")
    for label, seconds in unseal.items():
        print(f"one-time unseal of K, {label} binding: {seconds * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
