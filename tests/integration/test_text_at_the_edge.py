"""Text a database cannot hold is refused where it enters (issue 18, item 1), against a real
store on loopback, on SQLite and PostgreSQL (which refuses NUL in text: these were 500s).

Every request here is either signed as a registered customer, so the signature is not what
refuses it, or needs no signature; each must be a 400 problem and change nothing."""

from __future__ import annotations

import datetime as dt
import json
import socket
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from test_purchase import succeeded_charges

from conftest import Customer, LiveStore
from tollgate.protocol.httpsig import sign_request
from tollgate.store.db import Order, ReleasedFile, RequestNonce, UsageEvent

ORDER = {"product": "MT", "addon": "dic2", "version": "1.0.0"}
ENVIRONMENT = "os=linux&os_release=testos%201&tag=py3-none-any"


def signed_post(
    store: LiveStore, who: Customer, path: str, body: Any, **headers: str
) -> httpx.Response:
    content = json.dumps(body).encode()
    sent = sign_request(
        "POST",
        f"{store.url}{path}",
        {"Content-Type": "application/json", **headers},
        content,
        key_id=who.account.customer_id,
        key=who.account.unlock_purchase_key(who.home, None),
        now=dt.datetime.now(dt.UTC),
    )
    return httpx.post(f"{store.url}{path}", content=content, headers=sent)


def count(store: LiveStore, table: type) -> int:
    with store.ctx.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def assert_refused(response: httpx.Response, says: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "malformed_request"
    assert says in json.dumps(problem), problem


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("product", "MT\u0000", "U+0000"),
        ("product", "MT\n", "U+000A"),  # a trailing newline, which `$` let through
        ("addon", "dic2\n", "U+000A"),
        ("version", "1.0.0\u0085", "U+0085"),
        ("os_release", "testos\u001b[2J", "U+001B"),
    ],
)
def test_a_signed_order_naming_a_control_character_is_refused(
    store: LiveStore, customer: Customer, field: str, value: str, says: str
) -> None:
    nonces = count(store, RequestNonce)
    r = signed_post(
        store, customer, "/v1/orders", {**ORDER, field: value}, **{"Idempotency-Key": "edge-0001"}
    )
    assert_refused(r, says)
    assert count(store, RequestNonce) == nonces  # refused before its nonce was remembered
    assert count(store, Order) == 0 and succeeded_charges(store) == 0


def test_a_lone_surrogate_in_a_body_is_refused(store: LiveStore, customer: Customer) -> None:
    content = b'{"product": "MT", "addon": "dic2", "version": "1.0.0\\ud800"}'
    sent = sign_request(
        "POST",
        f"{store.url}/v1/orders",
        {"Content-Type": "application/json", "Idempotency-Key": "edge-0002"},
        content,
        key_id=customer.account.customer_id,
        key=customer.account.unlock_purchase_key(customer.home, None),
        now=dt.datetime.now(dt.UTC),
    )
    r = httpx.post(f"{store.url}/v1/orders", content=content, headers=sent)
    assert r.status_code == 400 and r.json()["code"] == "malformed_request", r.text
    assert count(store, Order) == 0


@pytest.mark.parametrize("orders", [["\u0000"], ["ord_ok", "ord\u0000x"]])
def test_a_renewal_naming_a_control_character_is_refused(
    store: LiveStore, customer: Customer, orders: list[str]
) -> None:
    assert_refused(signed_post(store, customer, "/v1/licences/renew", {"orders": orders}), "U+0000")


def test_a_meter_keyed_by_a_control_character_is_refused(
    store: LiveStore, customer: Customer
) -> None:
    body = {"orders": [], "meter": {"generation": 1, "uses": {"ord\u0007": 1}}}
    assert_refused(signed_post(store, customer, "/v1/licences/renew", body), "U+0007")


def test_a_use_naming_a_control_character_is_refused(store: LiveStore, customer: Customer) -> None:
    use = {
        "event_id": "evt-00000001",
        "order_id": "\u0000",
        "name": "translate",
        "at": "2026-12-01T00:00:00Z",
    }
    assert_refused(signed_post(store, customer, "/v1/uses", {"events": [use]}), "U+0000")
    assert count(store, UsageEvent) == 0


@pytest.mark.parametrize(
    ("target", "says"),
    [
        (f"/v1/products/MT%00/install-list?{ENVIRONMENT}", "U+0000"),
        (f"/v1/products/MT%0A/install-list?{ENVIRONMENT}", "U+000A"),
        ("/v1/products/MT/install-list?os=linux%00&tag=py3-none-any", "U+0000"),
        ("/v1/products/MT/install-list?os=linux&tag%01=x", "U+0001"),
        ("/v1/products/MT%ED%A0%80/install-list", "not UTF-8"),  # a surrogate, encoded
        ("/v1/products/MT%FF/install-list", "not UTF-8"),
        ("/products/MT%00", "U+0000"),
        ("/v1/tuf/1.root%00.json", "U+0000"),
        ("/admin/orders/ord%00/refund", "U+0000"),
        ("/v1/files/" + "a" * 3000, "longer than 2048 bytes"),
    ],
)
def test_a_path_or_query_holding_a_control_character_is_refused_unsigned(
    store: LiveStore, target: str, says: str
) -> None:
    assert_refused(httpx.get(f"{store.url}{target}"), says)


def raw_request(store: LiveStore, request: bytes) -> bytes:
    """``request`` sent as it is (its last header ``Connection: close``); the whole answer."""
    host, port = store.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(request)
        answer = b""
        while more := s.recv(65536):
            answer += more
        return answer


def test_a_header_holding_a_control_character_is_refused(store: LiveStore) -> None:
    """The HTTP parser refuses it on the wire (httpx will not even send one)."""
    answer = raw_request(
        store,
        b"GET /v1/store HTTP/1.1\r\nHost: x\r\nIdempotency-Key: ab\x00cd\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]


def test_a_form_holding_a_control_character_is_refused(store: LiveStore) -> None:
    r = httpx.post(f"{store.url}/admin/login", data={"token": "a\u0000b", "csrf": "x"})
    assert_refused(r, "U+0000")
    r = httpx.post(
        f"{store.url}/admin/login",
        content=b"token=%ED%A0%80&csrf=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_refused(r, "not UTF-8")


def test_a_form_with_text_beyond_ascii_is_answered_not_crashed(store: LiveStore) -> None:
    """hmac.compare_digest refuses non-ASCII str: the tokens are compared as bytes."""
    page = httpx.get(f"{store.url}/admin/login")
    r = httpx.post(
        f"{store.url}/admin/login",
        data={"token": "トークン", "csrf": "é"},
        cookies=page.cookies,
    )
    assert r.status_code == 403 and "expired" in r.text


def test_an_idempotency_key_beyond_printable_ascii_is_refused(
    store: LiveStore, customer: Customer
) -> None:
    """Header bytes past ASCII reach a route as Latin-1 text. No signature can cover them
    (RFC 9421 signature bases are ASCII), so this one was made over the key as ASCII."""
    content = json.dumps(ORDER).encode()
    sent = sign_request(
        "POST",
        f"{store.url}/v1/orders",
        {"Content-Type": "application/json", "Idempotency-Key": "edition-0001"},
        content,
        key_id=customer.account.customer_id,
        key=customer.account.unlock_purchase_key(customer.home, None),
        now=dt.datetime.now(dt.UTC),
    )
    as_bytes = {name.lower(): value.encode("latin-1") for name, value in sent.items()}
    as_bytes["idempotency-key"] = "édition-0001".encode()
    r = httpx.post(f"{store.url}/v1/orders", content=content, headers=as_bytes)
    assert r.status_code in (400, 401), r.text
    assert r.json()["code"] in ("malformed_request", "bad_signature")
    assert count(store, Order) == 0


# What an outside attack on this change found (issue 18), each a 500 or a wrong answer before.


def chunked(store: LiveStore, target: str, size: int, method: str = "GET") -> bytes:
    """A request whose body comes in 8000-byte chunks (no Content-Length to refuse it by)."""
    body = b"".join(b"1f40\r\n" + b"x" * 8000 + b"\r\n" for _ in range(size // 8000)) + b"0\r\n\r\n"
    head = f"{method} {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    return raw_request(store, head.encode() + b"Connection: close\r\n\r\n" + body)


@pytest.mark.parametrize(
    ("method", "target"),
    [("GET", "/v1/licences"), ("POST", "/v1/registrations"), ("POST", "/admin/login")],
)
def test_a_chunked_body_past_the_limit_is_413_wherever_it_goes(
    store: LiveStore, method: str, target: str
) -> None:
    answer = chunked(store, target, 104_000, method)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"payload_too_large" in answer


def test_a_signature_dated_beyond_any_calendar_is_refused_not_crashed(
    store: LiveStore, customer: Customer
) -> None:
    for created in (10**15, -(10**15), 10**12):
        sent = sign_request(
            "GET",
            f"{store.url}/v1/licences",
            {},
            b"",
            key_id=customer.account.customer_id,
            key=customer.account.unlock_purchase_key(customer.home, None),
            now=dt.datetime.now(dt.UTC),
        )
        sent["Signature-Input"] = sent["Signature-Input"].replace(
            sent["Signature-Input"].split("created=")[1].split(";")[0], str(created)
        )
        r = httpx.get(f"{store.url}/v1/licences", headers=sent)
        assert r.status_code == 401 and r.json()["code"] == "bad_signature", r.text


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_a_use_dated_out_of_range_in_utc_is_refused(
    store: LiveStore, customer: Customer, at: str
) -> None:
    use = {"event_id": "evt-00000002", "order_id": "ord_00", "name": "x", "at": at}
    r = signed_post(store, customer, "/v1/uses", {"events": [use]})
    assert r.status_code == 400 and r.json()["code"] == "malformed_request", r.text
    assert count(store, UsageEvent) == 0


def a_core_file(store: LiveStore) -> tuple[str, int]:
    with store.ctx.sessions() as s:
        row = s.scalars(select(ReleasedFile).where(ReleasedFile.encrypted.is_(False))).first()
        assert row is not None
        return row.digest, store.ctx.repository.blobs.path(row.digest).stat().st_size


@pytest.mark.parametrize(
    "header", ["bytes=5-1", "bytes=abc", "bytes=", "items=0-1", "bytes=0-1,3-4"]
)
def test_a_malformed_range_is_a_problem(store: LiveStore, header: str) -> None:
    digest, _ = a_core_file(store)
    r = httpx.get(f"{store.url}/v1/files/{digest}", headers={"Range": header})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "malformed_request"


def test_a_range_past_the_end_is_416_with_the_files_size(store: LiveStore) -> None:
    digest, size = a_core_file(store)
    for header in (f"bytes={size}-", "bytes=-0", f"bytes={size + 10}-{size + 20}"):
        r = httpx.get(f"{store.url}/v1/files/{digest}", headers={"Range": header})
        assert r.status_code == 416, (header, r.status_code)
        assert r.json()["code"] == "range_not_satisfiable"
        assert r.headers["content-range"] == f"bytes */{size}"
    whole = httpx.get(f"{store.url}/v1/files/{digest}", headers={"Range": f"bytes=0-{size - 1}"})
    assert whole.status_code == 206 and len(whole.content) == size


@pytest.mark.parametrize("target", ["/v1/licences/", "/v1/tuf/1.root.json/", "/v1/store/"])
def test_a_trailing_slash_is_no_path_not_a_redirect(store: LiveStore, target: str) -> None:
    r = httpx.get(f"{store.url}{target}", headers={"Host": "evil.example"})
    assert r.status_code == 404 and r.json()["code"] == "not_found", r.status_code
    assert "location" not in r.headers


@pytest.mark.parametrize(
    "path", ["/admin/login", "/admin/customers/cu_x/stop", "/admin/orders/ord_x/refund"]
)
def test_allow_names_every_method_of_a_page(store: LiveStore, path: str) -> None:
    r = httpx.put(f"{store.url}{path}")
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "POST"}


def test_a_form_cannot_slip_past_by_its_type(store: LiveStore) -> None:
    twice = raw_request(
        store,
        b"POST /admin/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 19\r\n\r\ntoken=%00%ff&csrf=x",
    )
    assert twice.startswith(b"HTTP/1.1 400") and b"Content-Type twice" in twice, twice[:300]
    multipart = httpx.post(f"{store.url}/admin/login", files={"token": (None, "a\x00b")})
    assert multipart.status_code == 415 and multipart.json()["code"] == "unsupported_media_type"


def test_header_bytes_that_read_as_c1_controls_are_refused(store: LiveStore) -> None:
    answer = raw_request(
        store, b"GET /v1/store HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Thing: a\x85b\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 400") and b"control character" in answer, answer[:300]
