"""Running a product's core software in this process, with its add-ons opened in memory: the
import hook is on, so the core may simply ``import`` an add-on's package.

The entry (``module:function`` in the manifest) is called the way a console-script entry point
is: ``sys.argv`` is the product's name and its arguments, the function is called with none,
and what it returns is the exit status (None or an int; anything else is printed and is
status 1, as ``sys.exit`` has it). A function that takes a required argument is given the
arguments as a list instead (``def main(argv)``), the form Tollgate called first."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable

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
    result = func(args) if _wants_argv(func) else func()
    return exit_status(result)


def _wants_argv(func: Callable[..., object]) -> bool:
    """Whether ``func`` has a positional parameter without a default (``def main(argv)``)."""
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        for p in parameters
    )


def exit_status(result: object) -> int:
    """``sys.exit(result)``'s status, without exiting."""
    if result is None:
        return 0
    if isinstance(result, int):
        return result
    print(result, file=sys.stderr)
    return 1
