"""Client failures carry the exit status the CLI returns (see tollgate.wire.problems.Exit)."""

from __future__ import annotations

import copy

from tollgate.wire.problems import CODES, Exit


class ClientError(Exception):
    exit = Exit.USAGE

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code

    def noting(self, note: str) -> ClientError:
        """The same failure (kind, code, exit status), its message followed by ``note``."""
        noted = copy.copy(self)
        noted.args = (f"{self}. {note}",)
        return noted


class UsageError(ClientError):
    exit = Exit.USAGE


class Refused(ClientError):
    """The store answered with a problem document."""

    exit = Exit.REFUSED

    def __init__(self, message: str, *, code: str | None = None, status: int = 0) -> None:
        super().__init__(message, code=code)
        self.status = status
        if code in CODES:
            self.exit = CODES[code].exit


class IntegrityFailure(ClientError):
    exit = Exit.INTEGRITY


class Unreachable(ClientError):
    exit = Exit.UNREACHABLE


class Cancelled(ClientError):
    """The customer answered no."""

    exit = Exit.CANCELLED


class Interrupted(ClientError):
    """Ctrl-C, with what had been done by then."""

    exit = Exit.INTERRUPTED
