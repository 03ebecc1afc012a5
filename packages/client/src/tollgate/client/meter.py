"""The download program's access to the sealed meter (runtime/meter.py), opened with ``K``."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

from tollgate.client.account import Account, Unlocked
from tollgate.crypto import CryptoError
from tollgate.crypto.keys import time_mark_key
from tollgate.runtime.home import ClientHome
from tollgate.runtime.meter import Meter, read_meter, write_meter


@dataclass(frozen=True)
class MeterAccess:
    key: bytes
    store_id: str
    customer_id: str

    @classmethod
    def of(cls, account: Account, keys: Unlocked) -> MeterAccess:
        key = time_mark_key(keys.customer_key, account.store_id, account.customer_id)
        return cls(key, account.store_id, account.customer_id)

    def read(self, conn: sqlite3.Connection) -> Meter | None:
        """The meter, or None when there is none or it is damaged (the renewal then says so
        and the store decides)."""
        try:
            return read_meter(conn, self.key, self.store_id, self.customer_id)
        except CryptoError:
            return None

    def write(self, conn: sqlite3.Connection, meter: Meter) -> None:
        write_meter(conn, self.key, self.store_id, self.customer_id, meter)


def start_meter(home: ClientHome, account: Account, keys: Unlocked, seen: dt.datetime) -> None:
    """Write this store's first meter if there is none, as a purchase does: from then on the
    runtime refuses a metered add-on whose meter has gone, and the store expects one."""
    access = MeterAccess.of(account, keys)
    with home.state.transaction() as conn:
        row = conn.execute("SELECT 1 FROM meter WHERE store_id = ?", (account.store_id,))
        if row.fetchone() is None:
            access.write(conn, Meter(mark=seen))
