"""A small sliding-window rate limiter, per client address, for registration.

In process memory: enough for one store process. Several processes behind a load balancer
would share the counters in Redis or the database instead.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class RateLimiter:
    def __init__(self, limit: int, per_seconds: float) -> None:
        self.limit, self.per = limit, per_seconds
        self._hits: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self.per:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True
