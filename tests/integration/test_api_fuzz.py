"""The whole OpenAPI fuzzed with schemathesis, signed operations past their signature (issue 18,
items 3 and 4): no answer is a 5xx, and every status, header and body the store gives is the
one its OpenAPI documents. On SQLite and on PostgreSQL, which refuses NUL in text.

The store runs in process (``from_asgi``) over the database of a live store on loopback, where
a customer registered through the real client; each generated request is then signed with that
customer's purchase key after schemathesis has serialised it, so the signature covers exactly
the bytes sent (an ``auth`` of requests' kind: it sees the prepared request)."""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from conftest import Customer, LiveStore
from tollgate.protocol.httpsig import sign_request
from tollgate.store.app import build_asgi
from tollgate.store.openapi import SIGNATURE_SCHEME

# Every check schemathesis has, configured for two facts of this store. "Schema-valid data is
# accepted" cannot hold: the store refuses (400/404/409, documented) a well-formed sealed blob
# that does not open, a card number whose check digit is wrong or an order for a product it does
# not sell, which no schema can say. What it says instead, that schema-invalid data is refused,
# is checked, with 413 among the refusals (a generated body can pass the 64 KiB limit).
CHECKS = {
    "positive_data_acceptance": {"enabled": False},
    "negative_data_rejection": {
        "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
    },
}
EXAMPLES = int(os.environ.get("TOLLGATE_API_EXAMPLES", "60"))  # per operation


class PurchaseKeySignature(requests.auth.AuthBase):
    """RFC 9421 signature of the prepared request, as the download program signs its own."""

    def __init__(self, who: Customer) -> None:
        self.customer_id = who.account.customer_id
        self.key = who.account.unlock_purchase_key(who.home, None)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        content = body.encode() if isinstance(body, str) else bytes(body)
        signed = sign_request(
            str(request.method),
            str(request.url),
            {k: v for k, v in request.headers.items() if isinstance(v, str)},
            content,
            key_id=self.customer_id,
            key=self.key,
            now=dt.datetime.now(dt.UTC),
        )
        request.headers.update(signed)
        return request


def signs(operation: Any) -> bool:
    """Whether the operation asks for the purchase key's signature (a public file needs none;
    encrypted ones do, so files are signed too)."""
    security = operation.definition.raw.get("security", [])
    return any(SIGNATURE_SCHEME in each for each in security)


def fuzz(operation: Any, auth: PurchaseKeySignature | None, seen: Counter[int]) -> None:
    """Up to EXAMPLES generated requests to ``operation``, some fitting its schema and some
    not, each answer validated against the OpenAPI by schemathesis's checks (no 5xx among
    them, and what the schema refuses refused); the statuses counted in ``seen``."""

    @given(
        case=st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )
    )
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        database=None,
    )
    def answered_as_documented(case: Any) -> None:
        # A case that leaves the signature out (negative data) is sent without one.
        signed = auth if auth is not None and "Signature" in (case.headers or {}) else None
        response = case.call_and_validate(auth=signed)
        seen[response.status_code] += 1

    answered_as_documented()


def test_every_operation_answers_as_documented(store: LiveStore, customer: Customer) -> None:
    """(schemathesis's pytest loader, ``from_fixture``, does not run under pytest 9.2: each
    operation is driven here through its Hypothesis strategy instead.)"""
    config = SchemathesisConfig.from_dict({"checks": CHECKS})
    schema = schemathesis.openapi.from_asgi("/openapi.json", build_asgi(store.ctx), config=config)
    signature = PurchaseKeySignature(customer)
    reached: dict[str, Counter[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        seen: Counter[int] = Counter()
        fuzz(operation, signature if signs(operation) else None, seen)
        reached[operation.label] = seen
    print({label: dict(seen) for label, seen in reached.items()})  # the figures, with -s
    assert len(reached) == 13, sorted(reached)
    for label, seen in reached.items():
        assert not any(status >= 500 for status in seen), (label, seen)
        # Signed operations were fuzzed past authentication: some answer is not a 401.
        assert any(status != 401 for status in seen), (label, seen)


def test_a_method_no_operation_has_is_405_with_allow(store: LiveStore) -> None:
    """RFC 9110: a 405 names the methods the resource has, in Allow."""
    document = httpx.get(f"{store.url}/openapi.json").json()
    for path, operations in document["paths"].items():
        concrete = path.replace("{file_name}", "1.root.json").replace("{version}", "1.0.0")
        concrete = concrete.replace("{name}", "MT").replace("{digest}", "0" * 64)
        for method in ("PUT", "DELETE", "PATCH"):
            r = httpx.request(method, f"{store.url}{concrete}")
            assert r.status_code == 405, (method, path, r.status_code)
            assert r.headers["content-type"] == "application/problem+json"
            allowed = {m.strip() for m in r.headers["allow"].split(",")}
            assert allowed == {m.upper() for m in operations}, (path, allowed)


def test_every_operation_documents_the_problems_of_the_edge(store: LiveStore) -> None:
    document = httpx.get(f"{store.url}/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status in ("400", "413"):
                content = operation["responses"][status]["content"]
                assert content["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }, (method, path, status)
            assert "422" not in operation["responses"] or (
                "application/problem+json" in operation["responses"]["422"]["content"]
            ), (method, path)
