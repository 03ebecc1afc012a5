"""The runtime's hold on the sealed meter (runtime/meter.py) of one store: read once per
``Product``, raised by every clock reading, written with each use, never started here.

Only the download program starts a meter (client/meter.py, at a purchase). Without one the
runtime keeps the mark in memory only, and `MeterMissing` refuses what needs counting.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable

from tollgate.crypto import CryptoError
from tollgate.runtime.errors import ClientStateDamaged, ClockMovedBack, MeterMissing
from tollgate.runtime.meter import Meter, read_meter, write_meter
from tollgate.runtime.state import ClientState

MARK_STEP = dt.timedelta(minutes=1)  # the mark is rewritten when it would move by more


class RuntimeMeter:
    def __init__(
        self, state: ClientState, key: bytes, store_id: str, customer_id: str, product: str
    ) -> None:
        self._state, self._key = state, key
        self._store_id, self._customer_id, self._product = store_id, customer_id, product
        found = self._read()
        self.current = found or Meter()
        self.on_disk = found is not None

    def _read(self, conn: sqlite3.Connection | None = None) -> Meter | None:
        try:
            if conn is not None:
                return read_meter(conn, self._key, self._store_id, self._customer_id)
            with self._state.reading() as reader:
                return read_meter(reader, self._key, self._store_id, self._customer_id)
        except CryptoError as exc:
            raise ClockMovedBack(
                f"the record of the last time {self._product} ran is damaged ({exc}). Go "
                "online and run `tollgate sync` to restore it from the store's time"
            ) from exc

    def missing(self, what: str) -> MeterMissing:
        return MeterMissing(
            f"{what}: this machine's sealed record of its uses is missing. Go online and run "
            "`tollgate sync`"
        )

    def see(self, when: dt.datetime) -> None:
        """Raise the mark to ``when`` (written when it moves by more than ``MARK_STEP``; in
        memory only without a meter on disk, or in a home that cannot be written)."""
        mark = self.current.mark
        if mark is not None and when <= mark + MARK_STEP:
            return
        if not self.on_disk:
            self.current.seen(when)
            return
        try:
            self.update(lambda _conn, meter: meter.seen(when))
        except ClientStateDamaged:
            self.current.seen(when)

    def update(self, change: Callable[[sqlite3.Connection, Meter], None]) -> None:
        """Apply ``change`` to the meter as it is now on disk and write it back, in one write
        transaction (another process may have moved it since it was read)."""
        with self._state.transaction() as conn:
            meter = self._read(conn)
            if meter is None:
                raise self.missing(self._product)
            change(conn, meter)
            write_meter(conn, self._key, self._store_id, self._customer_id, meter)
        self.current = meter
