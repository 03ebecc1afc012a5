"""Signed-in admin browsers: server-side sessions with a CSRF token each.

The browser holds a random session id in an HttpOnly, SameSite=Strict cookie scoped to
``/admin``; the database holds only its SHA-256, so a copy of the database signs nobody in.
Every form that changes something carries the session's CSRF token, compared in constant time.
The login form itself is protected by a double-submit token (a cookie and a field that must
match), so another site cannot sign a browser in to the store under the attacker's session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from tollgate.store.db import AdminSession

SESSION_COOKIE = "tollgate_admin"
LOGIN_COOKIE = "tollgate_login"
LIFETIME = dt.timedelta(hours=8)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def same_token(given: str | None, expected: str | None) -> bool:
    """Compared as UTF-8 bytes: ``hmac.compare_digest`` refuses a str beyond ASCII."""
    if not (given and expected):
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class AdminSessions:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], dt.datetime]) -> None:
        self._sessions, self._clock = sessions, clock

    def start(self) -> tuple[str, str]:
        """A new session: its id (for the cookie) and its CSRF token (for forms)."""
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._clock()
        with self._sessions.begin() as s:
            s.execute(delete(AdminSession).where(AdminSession.expires_at < now))
            s.add(
                AdminSession(
                    id_sha256=_digest(session_id),
                    csrf=csrf,
                    created_at=now,
                    expires_at=now + LIFETIME,
                )
            )
        return session_id, csrf

    def csrf_of(self, session_id: str | None) -> str | None:
        """The CSRF token of a live session; None when there is no such session."""
        if not session_id or len(session_id) > 100:
            return None
        with self._sessions() as s:
            row = s.get(AdminSession, _digest(session_id))
            if row is None or row.expires_at <= self._clock():
                return None
            return row.csrf

    def end(self, session_id: str | None) -> None:
        if session_id:
            with self._sessions.begin() as s:
                s.execute(delete(AdminSession).where(AdminSession.id_sha256 == _digest(session_id)))

    def end_all(self) -> int:
        """Sign every browser out (a new admin token was issued)."""
        with self._sessions.begin() as s:
            result = s.execute(delete(AdminSession))
            return int(getattr(result, "rowcount", 0) or 0)
