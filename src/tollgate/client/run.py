"""Running a product's core software in this process, with its add-ons opened in memory: the
import hook is on, so the core may simply ``import`` an add-on's package."""

from __future__ import annotations

import importlib
import os
import sys

from tollgate.client.errors import UsageError
from tollgate.runtime import Product
from tollgate.runtime.home import HOME_ENV, ClientHome


def run_product(home: ClientHome, name: str, args: list[str], store_id: str | None = None) -> int:
    product = Product.open(name, home=home.root, store_id=store_id).enable_imports()
    module_name, _, func_name = product.installed_entry.partition(":")
    os.environ[HOME_ENV] = str(home.root)
    os.environ["TOLLGATE_STORE_ID"] = product.store_id
    sys.path.insert(0, str(product.path))
    sys.argv = [name, *args]
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise UsageError(
            f"{name}'s entry point {product.installed_entry} is missing: {exc}"
        ) from exc
    result = func(args)
    return int(result or 0)
