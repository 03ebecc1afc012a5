"""HTTP access to one store: plain and signed requests, problem documents, downloads.

The transport is pluggable (httpx), so tests can run the real app in process or over
loopback. Signed requests carry RFC 9421 signatures under the purchase key.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx

from tollgate.client.errors import IntegrityFailure, Refused, Unreachable, UsageError
from tollgate.protocol.httpsig import sign_request

Progress = Callable[[int, int], None]
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class Signer:
    def __init__(self, customer_id: str, purchase_key: bytes) -> None:
        self.customer_id, self._key = customer_id, purchase_key

    def headers(self, method: str, url: str, body: bytes, extra: dict[str, str]) -> dict[str, str]:
        return sign_request(
            method,
            url,
            extra,
            body,
            key_id=self.customer_id,
            key=self._key,
            now=dt.datetime.now(dt.UTC),
        )


def store_url(text: str) -> str:
    """A store's URL as given, checked for what makes it one: http(s), a host, nothing after
    the path. Raises UsageError naming what is wrong (and the likely URL)."""
    split = urlsplit(text.strip())
    if split.scheme not in ("http", "https"):
        guess = f": did you mean http://{text.strip()}?" if not split.scheme else ""
        raise UsageError(f"{text!r} is not a store URL (it starts with http:// or https://){guess}")
    if not split.hostname:
        raise UsageError(f"{text!r} names no host")
    if split.query or split.fragment:
        raise UsageError(f"{text!r}: a store URL has no query or fragment")
    return text.strip().rstrip("/")


class StoreAPI:
    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = store_url(base_url)
        self._http = httpx.Client(
            base_url=self.base_url, timeout=TIMEOUT, transport=transport, follow_redirects=False
        )

    @property
    def http(self) -> httpx.Client:
        """The underlying client (for TUF's fetcher, which must share its transport)."""
        return self._http

    def close(self) -> None:
        self._http.close()

    def get_bytes(self, path: str) -> bytes:
        """A small unauthenticated document, as bytes."""
        return self._send(self._http.build_request("GET", self.base_url + path)).content

    def __enter__(self) -> StoreAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        try:
            response = self._http.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach the store at {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            if stream:
                response.read()
            raise _problem(response)
        return response

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        signer: Signer | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        content = b"" if body is None else json.dumps(body).encode()
        hdrs = dict(headers or {})
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        url = self.base_url + path
        if signer is not None:
            hdrs = signer.headers(method, url, content, hdrs)
        response = self._send(self._http.build_request(method, url, content=content, headers=hdrs))
        try:
            return response.json()
        except ValueError as exc:
            raise IntegrityFailure(f"the store sent a malformed answer to {path}") from exc

    def get_response(self, path: str, params: list[tuple[str, str]]) -> httpx.Response:
        """An unauthenticated GET, answered whole (for documents such as install lists)."""
        query = httpx.QueryParams(tuple(params))
        return self._send(self._http.build_request("GET", self.base_url + path, params=query))

    @contextmanager
    def file_range(
        self, digest: str, start: int, end: int, *, signer: Signer | None = None
    ) -> Iterator[httpx.Response]:
        """Bytes ``start``..``end`` (inclusive) of a released file, streamed; a 200 instead of
        206 means the store sent the whole file from byte 0."""
        url = f"{self.base_url}/v1/files/{digest}"
        hdrs = {"Range": f"bytes={start}-{end}"}
        if signer is not None:
            hdrs = signer.headers("GET", url, b"", hdrs)
        response = self._send(self._http.build_request("GET", url, headers=hdrs), stream=True)
        try:
            yield response
        finally:
            response.close()


# Words for the fields a store names in a validation failure (its ``errors[].loc``).
FIELD_WORDS = {
    "name": "the name",
    "email": "the e-mail address",
    "country": "the country code",
    "number": "the card number",
    "exp_month": "the expiry month",
    "exp_year": "the expiry year",
    "cvc": "the CVC",
}


def passing(status: int) -> bool:
    """An HTTP status that says the store (or what fronts it) cannot answer now, which is no
    reason to doubt what it signed: a 5xx, a timeout (408), a rate limit (429), a redirect
    (3xx: the store moved, or a proxy sends HTTP to HTTPS; the client follows none)."""
    return status >= 500 or status in (408, 429) or 300 <= status < 400


def unavailable(base_url: str, status: int, said: str, *, code: str | None = None) -> Unreachable:
    """A store that answered 5xx: down, overloaded or failing, which is no reason to doubt what
    it signed (exit 5, not 4), and worth trying again."""
    return Unreachable(
        f"the store at {base_url} is unavailable (HTTP {status}{': ' if said else ''}{said}): "
        "try again in a while",
        code=code,
    )


def _problem(response: httpx.Response) -> Refused | Unreachable:
    """The store's problem document as an error; a 5xx answer is an unavailable store, and any
    other answer that is not a problem document (another server at that address, a proxy's
    page) means no store answered there."""
    base = str(response.request.url.copy_with(path="/", query=None)).rstrip("/")
    try:
        doc = response.json()
        code, detail = doc["code"], str(doc.get("detail") or doc.get("title"))
        if not isinstance(code, str):
            raise TypeError("no code")
    except (ValueError, KeyError, TypeError, AttributeError):
        if passing(response.status_code):
            return unavailable(base, response.status_code, "")
        return Unreachable(
            f"no Tollgate store answers at {response.request.url.copy_with(path='/')} "
            f"(HTTP {response.status_code} to {response.request.url.path}): check the URL"
        )
    if response.status_code >= 500:
        return unavailable(base, response.status_code, detail, code=code)
    errors = doc.get("errors")
    if code == "malformed_request" and isinstance(errors, list) and errors:
        detail = "the store cannot take " + "; ".join(_field_error(e) for e in errors[:10])
    return Refused(detail, code=code, status=response.status_code)


def _field_error(error: Any) -> str:
    """One validation failure in words: the field (the last name in its location) and what
    the store said of it, without the pattern it was matched against."""
    loc = error.get("loc") if isinstance(error, dict) else None
    field = str(loc[-1]) if isinstance(loc, list) and loc else "a field"
    message = str(error.get("msg", "is not accepted")).split(" '")[0].lower()
    return f"{FIELD_WORDS.get(field, field)} ({message})"
