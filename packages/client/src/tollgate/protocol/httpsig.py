"""Request authentication: HTTP Message Signatures (RFC 9421), ``hmac-sha256`` under ``PK``.

Signed components: ``@method``, ``@target-uri``, ``content-digest`` (RFC 9530, always present,
also for an empty body) and every other header the store reads, when the request has it
(``SIGNED_HEADERS``: ``content-type``, ``idempotency-key``, ``range``); parameters ``created``,
``nonce``, ``keyid`` (the customer id) and ``alg``. The verifier pins the algorithm itself and
never takes it from the request, refuses a request carrying one of those headers uncovered,
and checks ``created`` against the clock passed in, ``WINDOW`` either way (the library's own
check, against its own clock and with 5 s of tolerance into the future, is not used).
Remembering nonces is the caller's job (:class:`SignedRequest` gives what it needs).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from http_message_signatures.structures import CaseInsensitiveDict

from tollgate.crypto.errors import SignatureError

WINDOW = dt.timedelta(seconds=300)
BASE_COMPONENTS = ("@method", "@target-uri", "content-digest")
SIGNED_HEADERS = ("content-type", "idempotency-key", "range")
ALGORITHM = algorithms.HMAC_SHA256


@dataclass
class RequestView:
    """The parts of an HTTP request that RFC 9421 covers."""

    method: str
    url: str
    headers: Any = field(default_factory=CaseInsensitiveDict)


def _covered(view: RequestView) -> tuple[str, ...]:
    return BASE_COMPONENTS + tuple(h for h in SIGNED_HEADERS if h in view.headers)


class _Verifier(HTTPMessageVerifier):
    """The library's verifier without its own clock: `verify_request` checks ``created``."""

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        if "created" not in sig_input.params:
            raise SignatureError("request signature has no created time")


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, key_id: str, key: bytes) -> None:
        self._key_id, self._key = key_id, key

    def resolve_private_key(self, key_id: str) -> bytes:
        if key_id != self._key_id:
            raise KeyError(key_id)
        return self._key

    def resolve_public_key(self, key_id: str) -> bytes | None:
        return self._key if key_id == self._key_id else None


class _Lookup(HTTPSignatureKeyResolver):
    def __init__(self, lookup: Callable[[str], bytes | None]) -> None:
        self._lookup = lookup

    def resolve_public_key(self, key_id: str) -> bytes | None:
        return self._lookup(key_id)

    def resolve_private_key(self, key_id: str) -> bytes:
        raise KeyError(key_id)


def request_view(method: str, url: str, headers: Mapping[str, str]) -> RequestView:
    """A request view with case-insensitive headers, as the signature library expects."""
    return RequestView(method.upper(), url, CaseInsensitiveDict(dict(headers)))  # type: ignore[no-untyped-call]


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    key_id: str,
    key: bytes,
    now: dt.datetime,
    nonce: str | None = None,
) -> dict[str, str]:
    """Return the headers to send: the given ones plus Content-Digest and the signature."""
    view = request_view(method, url, headers)
    components = _covered(view)
    HTTPMessageSigner(signature_algorithm=ALGORITHM, key_resolver=_OneKey(key_id, key)).sign(
        view,
        key_id=key_id,
        created=now,
        nonce=nonce or secrets.token_urlsafe(18),
        covered_component_ids=components,
        body=body,
    )
    return dict(view.headers)


@dataclass(frozen=True)
class SignedRequest:
    key_id: str
    nonce: str
    created: dt.datetime


def signature_key_id(headers: Mapping[str, str]) -> str | None:
    """The unverified ``keyid`` a request claims (to look up its key), or ``None``."""
    sig_input = headers.get("signature-input", "")
    marker = 'keyid="'
    start = sig_input.find(marker)
    if start < 0:
        return None
    end = sig_input.find('"', start + len(marker))
    return sig_input[start + len(marker) : end] if end > 0 else None


def verify_request(
    view: RequestView,
    body: bytes,
    *,
    lookup: Callable[[str], bytes | None],
    now: dt.datetime,
    window: dt.timedelta = WINDOW,
) -> SignedRequest:
    """Verify one signature covering the required components; check ``created`` against
    ``now`` ± ``window`` (inclusive at both edges). Raises :class:`SignatureError` with a reason."""
    verifier = _Verifier(signature_algorithm=ALGORITHM, key_resolver=_Lookup(lookup))
    try:
        results = verifier.verify(view, max_age=None, body=body, require_components=_covered(view))
    except SignatureError:
        raise
    except (HTTPMessageSignaturesException, KeyError, ValueError) as exc:
        raise SignatureError(f"request signature does not verify: {exc}") from exc
    if len(results) != 1:
        raise SignatureError("exactly one request signature is expected")
    params = results[0].parameters
    nonce, key_id, created = params.get("nonce"), params.get("keyid"), params.get("created")
    if not isinstance(nonce, str) or not 8 <= len(nonce) <= 128:
        raise SignatureError("request signature has no usable nonce")
    if not isinstance(created, int):
        raise SignatureError("request signature has no created time")
    try:
        created_at = dt.datetime.fromtimestamp(created, dt.UTC)
    except (OverflowError, OSError, ValueError):  # before year 1 or after 9999
        raise SignatureError("request signature is outside the accepted time window") from None
    if abs(now - created_at) > window:
        raise SignatureError("request signature is outside the accepted time window")
    return SignedRequest(str(key_id), nonce, created_at)
