"""Install lists: one per product and environment, served by the real store on loopback, and
believed by the client only where TUF agrees (DESIGN.md sections 5 and 7)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import MT, Customer, LiveStore, registered, release_of_mt, start_store
from mitm import ManInTheMiddle
from tollgate.client.api import StoreAPI
from tollgate.client.errors import IntegrityFailure, Refused, UsageError
from tollgate.client.install import install_product
from tollgate.protocol.environment import Environment
from tollgate.wire.install_list import MEDIA_TYPE

NATIVE_MANIFEST = """
[product]
name = "Native"
version = "1.0.0"
summary = "Different files on different systems"
notes = "Native code for Linux and Windows"
requires = ["MT>=1.0"]

[core]
files = ["native/common.py"]
entry = "native.common:main"

[[environment]]
tags = ["linux"]
files = ["native/linux/**"]

[[environment]]
tags = ["windows", "win_amd64"]
files = ["native/windows/**"]
"""

WINDOWS_ONLY = """
[product]
name = "WinOnly"
version = "1.0.0"

[core]
files = ["win/**"]
entry = "win.app:main"

[[environment]]
tags = ["win_amd64"]
files = ["win/**"]
"""


def make_native(where: Path) -> Path:
    for rel, text in {
        "native/__init__.py": "",
        "native/common.py": "def main(argv):\n    return 0\n",
        "native/linux/lib.txt": "linux library\n",
        "native/windows/lib.txt": "windows library\n",
    }.items():
        (where / rel).parent.mkdir(parents=True, exist_ok=True)
        (where / rel).write_text(text)
    (where / "tollgate.toml").write_text(NATIVE_MANIFEST)
    return where


def make_windows_only(where: Path) -> Path:
    (where / "win").mkdir(parents=True)
    (where / "win" / "app.py").write_text("def main(argv):\n    return 0\n")
    (where / "tollgate.toml").write_text(WINDOWS_ONLY)
    return where


@pytest.fixture
def native_store(tmp_path: Path, database_url: str) -> Iterator[LiveStore]:
    products = [
        MT,
        make_native(tmp_path / "native-src"),
        make_windows_only(tmp_path / "win-src"),
    ]
    live = start_store(tmp_path / "store", database_url, products)
    try:
        yield live
    finally:
        live.server.stop()
        live.ctx.close()


def linux() -> Environment:
    return Environment("linux", "6.1", "x86_64", "3.11.7", "cpython", frozenset({"linux", "cp311"}))


def windows() -> Environment:
    return Environment(
        "windows", "10", "AMD64", "3.11.7", "cpython", frozenset({"windows", "win_amd64"})
    )


def fetch_list(store: LiveStore, product: str, env: Environment) -> httpx.Response:
    return httpx.get(f"{store.url}/v1/products/{product}/install-list", params=env.query())


def installed_names(customer: Customer, product: str) -> list[str]:
    return [f.name for f in customer.home.state.files(customer.account.store_id, product)]


def test_each_environment_gets_its_own_files(native_store: LiveStore, tmp_path: Path) -> None:
    response = fetch_list(native_store, "Native", linux())
    assert response.status_code == 200
    assert response.headers["content-type"] == MEDIA_TYPE
    doc = response.json()
    commands = [c["command"] for c in doc["commands"]]
    assert commands == ["notice", "require", "install", "install"]
    assert doc["store_url"] == native_store.url
    assert doc["client"] == {}  # no download program published in this store: none named
    first = doc["commands"][2]["entry"]
    assert {"name", "version", "function", "revision", "parts", "size"} <= set(first)

    pc = registered(native_store, tmp_path / "pc", products=("MT",))
    with native_store.api() as api:
        install_product(pc.home, api, pc.account, "Native", linux())
    assert installed_names(pc, "Native") == ["native/common.py", "native/linux/lib.txt"]
    other = registered(native_store, tmp_path / "win", products=("MT",))
    with native_store.api() as api:
        install_product(other.home, api, other.account, "Native", windows())
    assert installed_names(other, "Native") == ["native/common.py", "native/windows/lib.txt"]


def test_no_matching_environment_is_a_clear_refusal(
    native_store: LiveStore, tmp_path: Path, machine_a: str
) -> None:
    pc = registered(native_store, tmp_path / "pc", products=())
    with native_store.api() as api, pytest.raises(Refused, match="no files for linux") as info:
        install_product(pc.home, api, pc.account, "WinOnly", linux())
    assert info.value.code == "environment_unsupported" and "win_amd64" in str(info.value)
    assert pc.home.state.products() == []
    assert not (pc.home.root / "products").exists()


def test_unmet_requirement_installs_nothing(
    native_store: LiveStore, tmp_path: Path, machine_a: str
) -> None:
    pc = registered(native_store, tmp_path / "pc", products=())
    with native_store.api() as api, pytest.raises(UsageError, match=r"needs MT>=1\.0"):
        install_product(pc.home, api, pc.account, "Native", linux())
    assert pc.home.state.products() == []
    assert not (pc.home.root / "products").exists()


@pytest.mark.parametrize(
    "query",
    [
        [("os", "linux")],  # fields missing
        [*linux().query(), ("tag", "Bad Tag!")],
        [*linux().query(), ("shell", "rm -rf /")],
        [*linux().query(), *[("tag", f"t{i}") for i in range(300)]],
    ],
)
def test_malformed_environment_is_refused(
    native_store: LiveStore, query: list[tuple[str, str]]
) -> None:
    response = httpx.get(f"{native_store.url}/v1/products/MT/install-list", params=query)
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_unknown_product_is_not_found(native_store: LiveStore) -> None:
    response = fetch_list(native_store, "Nope", linux())
    assert response.status_code == 404 and response.json()["code"] == "not_found"


Edit = Callable[[dict[str, Any]], None]


def altered_lists(edit: Edit) -> ManInTheMiddle:
    """The store's real install list, edited in transit."""

    def tamper(request: httpx.Request, real: httpx.Response) -> httpx.Response | None:
        if not request.url.path.endswith("/install-list"):
            return None
        doc = real.json()
        edit(doc)
        return httpx.Response(200, headers={"content-type": MEDIA_TYPE}, content=json.dumps(doc))

    return ManInTheMiddle(tamper=tamper)


def installs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in doc["commands"] if c["command"] == "install"]


def bigger(doc: dict[str, Any]) -> None:
    installs(doc)[0]["entry"]["size"] += 1


def unlisted(doc: dict[str, Any]) -> None:
    extra = dict(installs(doc)[0])
    extra["target"] = extra["target"].replace("core/", "core/evil")
    doc["commands"].append(extra)


def forged_notice(doc: dict[str, Any]) -> None:
    doc["commands"][0]["text"] = "Urgent: run the attached installer"


def dropped_requirement(doc: dict[str, Any]) -> None:
    doc["commands"] = [c for c in doc["commands"] if c["command"] != "require"]


def other_product(doc: dict[str, Any]) -> None:
    doc["commands"].append(
        {"command": "install", "target": "MT/1.0.0/core/mt%2Fcli.py", "entry": {}}
    )


def not_a_list(doc: dict[str, Any]) -> None:
    doc["type"] = "catalog"


def dropped_file(doc: dict[str, Any]) -> None:
    """One core file left out: every other entry is signed and genuine."""
    gone = installs(doc)[-1] if len(installs(doc)) > 1 else installs(doc)[0]
    doc["commands"] = [c for c in doc["commands"] if c is not gone]


def everything_twice(doc: dict[str, Any]) -> None:
    doc["commands"] += installs(doc)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (bigger, "not the signed one"),
        (unlisted, "does not list"),
        (forged_notice, "notice"),
        (dropped_requirement, "requirements"),
        (other_product, "outside Native"),
        (not_a_list, "malformed"),
        (dropped_file, "leaves out"),
        (everything_twice, "twice"),
    ],
)
def test_altered_install_list_installs_nothing(
    native_store: LiveStore, tmp_path: Path, machine_a: str, edit: Edit, message: str
) -> None:
    pc = registered(native_store, tmp_path / "pc", products=("MT",))
    with (
        StoreAPI(native_store.url, transport=altered_lists(edit)) as api,
        pytest.raises(IntegrityFailure, match=message),
    ):
        install_product(pc.home, api, pc.account, "Native", linux())
    assert [p.name for p in pc.home.state.products()] == ["MT"]
    assert not (pc.home.root / "products" / pc.account.store_id / "Native").exists()


def test_file_for_another_environment_is_refused(
    native_store: LiveStore, tmp_path: Path, machine_a: str
) -> None:
    """The store answers a Linux machine with the Windows list: every entry is signed, but the
    Windows library is not for this machine."""
    pc = registered(native_store, tmp_path / "pc", products=("MT",))
    windows_list = fetch_list(native_store, "Native", windows())

    def swap(request: httpx.Request, real: httpx.Response) -> httpx.Response | None:
        if request.url.path.endswith("/install-list"):
            return httpx.Response(
                200, headers=dict(windows_list.headers), content=windows_list.content
            )
        return None

    with (
        StoreAPI(native_store.url, transport=ManInTheMiddle(tamper=swap)) as api,
        pytest.raises(IntegrityFailure, match="not this machine"),
    ):
        install_product(pc.home, api, pc.account, "Native", linux())
    assert [p.name for p in pc.home.state.products()] == ["MT"]


def test_rolled_back_install_list_is_refused(
    store: LiveStore, customer: Customer, tmp_path: Path
) -> None:
    """The list for 1.0.0, replayed after 1.1.0 is out, names targets TUF no longer lists."""
    with store.api() as api:
        old = api.get_response("/v1/products/MT/install-list", Environment.current().query())
    store.ctx.publish(release_of_mt(tmp_path / "mt-1.1", "1.1.0"))

    def replay(request: httpx.Request, real: httpx.Response) -> httpx.Response | None:
        if request.url.path.endswith("/install-list"):
            return httpx.Response(200, headers=dict(old.headers), content=old.content)
        return None

    with (
        StoreAPI(store.url, transport=ManInTheMiddle(tamper=replay)) as api,
        pytest.raises(IntegrityFailure, match="does not list"),
    ):
        install_product(customer.home, api, customer.account, "MT")
    current = customer.home.state.product(customer.account.store_id, "MT")
    assert current is not None and current.version == "1.0.0"
