"""What every request passes before any route runs: a bounded body, and text a database can hold.

PostgreSQL refuses NUL in text and any database is the wrong place for control characters, so
a value holding one must be refused where it enters, as a 400 problem, not found by the
database as a 500. This middleware checks what the routes read outside a JSON body: the path,
the query, every header value (cookies, signatures, Idempotency-Key) and form bodies. JSON
bodies are checked by their models (store/schemas.py ``Strict``), which know each field.

Each check decodes what it checks the way the routes will (percent-decoding, then strict
UTF-8), so what passes here is exactly what a route sees.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote_to_bytes

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tollgate.wire.problems import CODES, PROBLEM_MEDIA_TYPE, problem_document
from tollgate.wire.text import unstorable

MAX_BODY = 64 * 1024
MAX_PATH = 2048  # bytes of the path, percent-encoded
MAX_QUERY = 8192  # bytes of the query string, percent-encoded
FORM = b"application/x-www-form-urlencoded"
MULTIPART = b"multipart/form-data"  # no route takes one: the pages post urlencoded forms


def problem(code: str, detail: str, **extra: object) -> JSONResponse:
    return JSONResponse(
        problem_document(code, detail, **extra),
        status_code=CODES[code].status,
        media_type=PROBLEM_MEDIA_TYPE,
    )


class RefusedText(Exception):
    """A part of the request that no route may be given; ``str()`` says which and why."""


def decoded(part: bytes, what: str) -> str:
    """``part`` percent-decoded and read as UTF-8, refused if it is not UTF-8 or holds a
    character no name or field may hold."""
    try:
        text = unquote_to_bytes(part).decode("utf-8")
    except UnicodeDecodeError:
        raise RefusedText(f"the {what} is not UTF-8") from None
    bad = unstorable(text)
    if bad is not None:
        raise RefusedText(f"the {what} holds {bad}")
    return text


def check_form(body: bytes, what: str) -> None:
    """Each name and value of an ``application/x-www-form-urlencoded`` body."""
    for pair in body.split(b"&"):
        for part in pair.split(b"=", 1):
            decoded(part.replace(b"+", b" "), what)


def check_headers(headers: Iterable[tuple[bytes, bytes]]) -> None:
    """RFC 9110 allows no control character but tab in a field value; the server's parser
    refuses them on the wire, this refuses them from any other ASGI server or client too, and
    the bytes 0x80-0x9F, which a route reads (as Latin-1) as C1 controls. A request naming its
    body's type twice is refused: the routes would read one and this the other."""
    types = 0
    for name, value in headers:
        if any((b < 0x20 and b != 0x09) or 0x7F <= b <= 0x9F for b in value):
            raise RefusedText(f"the header {name.decode('latin-1')!r} holds a control character")
        types += name == b"content-type"
    if types > 1:
        raise RefusedText("the request gives its Content-Type twice")


def check_target(scope: Scope) -> None:
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogatepass")
    query: bytes = scope.get("query_string", b"")
    if len(raw_path) > MAX_PATH:
        raise RefusedText(f"the path is longer than {MAX_PATH} bytes")
    if len(query) > MAX_QUERY:
        raise RefusedText(f"the query is longer than {MAX_QUERY} bytes")
    decoded(raw_path, "path")
    if query:
        check_form(query, "query")


class Edge:
    """Refuse, before any route runs, a body over ``limit`` bytes (413) and a request whose
    path, query, headers or form body hold what no route may be given (400). The body is read
    whole first (it is bounded, and no route streams one in), so a route never meets a body
    cut off half-way, and is then handed on as it came."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = problem("payload_too_large", f"bodies are limited to {self.limit} bytes")
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await too_large(scope, receive, send)
            return
        try:
            check_target(scope)
            check_headers(scope["headers"])
        except RefusedText as exc:
            await problem("malformed_request", str(exc))(scope, receive, send)
            return
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media_type == MULTIPART:
            await problem(
                "unsupported_media_type", "forms are sent as application/x-www-form-urlencoded"
            )(scope, receive, send)
            return
        body = await self._body(receive)
        if body is None:
            await too_large(scope, receive, send)
            return
        if media_type == FORM:
            try:
                check_form(body, "form")
            except RefusedText as exc:
                await problem("malformed_request", str(exc))(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # what comes next: the client going away
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _body(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the limit (however it is framed)."""
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the route will find out
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return None
            more = message.get("more_body", False)
        return b"".join(chunks)
