"""The OpenAPI document as the store answers: every problem an operation can give, documented.

Each route names the problem codes it can answer with (``problems(...)``), grouped here by
HTTP status with the problem+json schema; what every request can meet before any route runs
(store/edge.py: a malformed path, query or header, a body too large) is added to every
operation. FastAPI's default 422 "Validation Error" is replaced: the store answers a body its
models refuse with a 400 ``malformed_request`` problem, never that shape.

The signed operations say so as a security scheme: RFC 9421 HTTP Message Signatures with the
customer's purchase key (docs/protocol.md), which no OpenAPI scheme type describes exactly.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from tollgate.wire.problems import CODES, PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA = "#/components/schemas/Problem"
SIGNATURE_SCHEME = "purchaseKeySignature"

# What any request can be answered before a route runs, or by the route machinery itself.
EDGE = ("malformed_request", "payload_too_large", "unsupported_media_type", "internal_error")
# What a signed request can be answered before its operation runs (store/auth.py).
SIGNED = ("bad_signature", "replayed_request", "unknown_customer", "customer_stopped")


class Problem(BaseModel):
    """An RFC 9457 problem document; ``code`` is stable and names the case (wire/problems.py)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="a URI naming the kind of problem")
    title: str
    status: int
    detail: str = Field(description="what happened in this request, in words")
    code: str = Field(json_schema_extra={"enum": list(sorted(CODES))})


def problems(*codes: str) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses=`` for the problem ``codes`` and those of EDGE, one entry per HTTP
    status, its description naming each code."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in dict.fromkeys(EDGE + codes):
        by_status[CODES[code].status].append(code)
    return {
        status: {
            "description": "; ".join(f"`{c}`: {CODES[c].title}" for c in sorted(named)),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA}}},
        }
        for status, named in sorted(by_status.items())
    }


def honest_openapi(app: FastAPI) -> dict[str, Any]:
    """The document FastAPI makes, with the problem schema, the problems of EDGE on every
    operation (those that declare none too), and no 422 validation-error shape the store never
    sends."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = Problem.model_json_schema()
    components["securitySchemes"] = {
        SIGNATURE_SCHEME: {
            "type": "apiKey",
            "in": "header",
            "name": "Signature",
            "description": "RFC 9421 signature (with Signature-Input and Content-Digest) made "
            "with the customer's purchase key; the key id is the customer id",
        }
    }
    edge = problems(*EDGE)
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            validation = responses.get("422", {}).get("content", {}).get("application/json")
            if validation is not None:
                del responses["422"]
            if "400" not in responses:
                responses.update({str(status): answer for status, answer in edge.items()})
    app.openapi_schema = doc
    return doc
