"""The one exception services raise for a refusal a user can act on."""

from __future__ import annotations

from tollgate.wire.problems import CODES


class StoreError(Exception):
    """``code`` and ``detail`` make the problem document, with ``extra`` members beside them;
    ``headers`` go on the answer (a 416's Content-Range)."""

    def __init__(
        self, code: str, detail: str, *, headers: dict[str, str] | None = None, **extra: object
    ) -> None:
        if code not in CODES:
            raise ValueError(f"unknown problem code {code}")
        super().__init__(detail)
        self.code, self.detail, self.extra = code, detail, extra
        self.headers = headers or {}
