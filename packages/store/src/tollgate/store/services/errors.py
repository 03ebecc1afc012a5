"""The one exception services raise for a refusal a user can act on."""

from __future__ import annotations

from tollgate.wire.problems import CODES


class StoreError(Exception):
    def __init__(self, code: str, detail: str, **extra: object) -> None:
        if code not in CODES:
            raise ValueError(f"unknown problem code {code}")
        super().__init__(detail)
        self.code, self.detail, self.extra = code, detail, extra
