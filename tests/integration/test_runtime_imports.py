"""Core software embeds tollgate.runtime with nothing but ``cryptography`` and the standard
library installed: opening and importing a bought add-on must import nothing else (issue 4)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from test_purchase import purchase

from conftest import MACHINE_A, Customer, LiveStore

ONLY_RUNTIME = """
import sys

ALLOWED = set(sys.stdlib_module_names) | {"cryptography", "_cffi_backend"}
ALLOWED_TOLLGATE = ("tollgate", "tollgate.runtime", "tollgate.crypto", "tollgate.wire")


class Refuse:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top == "tollgate":
            if not name.startswith(tuple(p + "." for p in ALLOWED_TOLLGATE)) and (
                name not in ALLOWED_TOLLGATE
            ):
                raise ImportError(f"the runtime imported {name}")
        elif top not in ALLOWED:
            raise ImportError(f"the runtime imported {name}")
        return None


sys.meta_path.insert(0, Refuse())
from tollgate.runtime import Product

mt = Product.open("MT", home=sys.argv[1])
assert mt.has("dic2")
dic2 = mt.import_module("dic2")
print(dic2.lookup("river"), sorted(m for m in sys.modules if m.startswith("tollgate.")))
"""


def test_runtime_opens_an_addon_importing_only_cryptography_and_stdlib(
    store: LiveStore, customer: Customer
) -> None:
    purchase(store, customer)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(ONLY_RUNTIME), str(customer.home.root)],
        env=dict(os.environ, TOLLGATE_MACHINE_ID=MACHINE_A),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("川 ")
    loaded = done.stdout.partition(" ")[2]
    assert "tollgate.client" not in loaded and "tollgate.store" not in loaded
