"""Named points of a purchase where a drill may kill the store process (docs/reliability.md).

A store is killed mid-purchase by power cuts, OOM killers and deploys; whether it then charges
once and delivers is what the drills in tests/integration/test_drills.py show. A signal sent
from outside lands anywhere, so the drills arm a point by name instead, the way FreeBSD's
fail(9) and etcd's gofail do: ``TOLLGATE_FAILPOINTS=order.charged`` makes the process kill
itself with SIGKILL (no cleanup, no flush, no answer sent) the moment a purchase reaches that
point. With the variable unset, which is how a store runs, every point is a set lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "TOLLGATE_FAILPOINTS"
POINTS = (
    "order.saved",  # the order is committed as pending; nothing charged yet
    "order.charged",  # the gateway has charged; the order is not yet settled
    "order.settled",  # paid and its licence issued, committed; no answer sent
)
_ARMED = frozenset(filter(None, os.environ.get(ENV, "").split(",")))
if not set(POINTS) >= _ARMED:
    raise RuntimeError(f"{ENV} names unknown points {sorted(_ARMED - set(POINTS))}; see {POINTS}")


def failpoint(name: str) -> None:
    """Die here, as ``kill -9`` would, if the drill armed ``name``."""
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
