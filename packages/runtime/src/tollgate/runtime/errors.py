"""What core software can catch. Messages say what the customer can do about it.

```
TollgateRuntimeError
├── ProductNotInstalled
│   └── ProductAmbiguous
├── ClientStateDamaged             the state database is unreadable
├── AddOnNotLicensed (ImportError) not bought here: names what to buy
├── LicenceNotValid                bought, but not usable now; ``reason`` says why:
│   ├── LicenceExpired             "expired" (until / days) or "not_yet_valid"
│   ├── LeaseExpired               "lease": past renew_by, go online
│   ├── OutsideAllowedHours        "hours"
│   ├── OSReleaseChanged           "os_release": a new OS release needs a new purchase
│   ├── UsesExhausted              "uses"
│   ├── OfflineUsesExhausted       "offline": the offline allowance is used; sync first
│   ├── MeterMissing               "meter": the sealed meter is gone; sync first
│   ├── ClockMovedBack             "clock": the clock is behind the time last seen
│   └── PaymentDeclined            "declined": a metered use was declined; update the card
└── AddOnIntegrityError            tampered, or not openable on this machine. Never run.
```
"""

from __future__ import annotations


class TollgateRuntimeError(Exception):
    """Base class of everything tollgate.runtime raises."""


class ProductNotInstalled(TollgateRuntimeError):
    """The product is not installed here (or not from the store asked for)."""


class ProductAmbiguous(ProductNotInstalled):
    """The product is installed from several stores and none was chosen."""


class ClientStateDamaged(TollgateRuntimeError):
    """The client state database cannot be read (damaged, or written by a newer client)."""


class AddOnNotLicensed(TollgateRuntimeError, ImportError):
    """No licence for this add-on on this machine: it has not been bought. An ImportError too,
    so ``try: import mt_dic2 except ImportError`` works as for any optional package."""


class LicenceNotValid(TollgateRuntimeError):
    """The add-on is bought, but its licence does not allow its use now."""

    reason = "invalid"


class LicenceExpired(LicenceNotValid):
    reason = "expired"


class LeaseExpired(LicenceNotValid):
    reason = "lease"


class OutsideAllowedHours(LicenceNotValid):
    reason = "hours"


class OSReleaseChanged(LicenceNotValid):
    reason = "os_release"


class UsesExhausted(LicenceNotValid):
    reason = "uses"


class OfflineUsesExhausted(LicenceNotValid):
    """As many uses as the licence allows without the store hearing of them are unsent."""

    reason = "offline"


class MeterMissing(LicenceNotValid):
    """A metered add-on, and no sealed meter to count its uses: removed, or a state from
    before meters. `tollgate sync` restores it (or the store holds the renewal)."""

    reason = "meter"


class ClockMovedBack(LicenceNotValid):
    reason = "clock"


class PaymentDeclined(LicenceNotValid):
    reason = "declined"


class AddOnIntegrityError(TollgateRuntimeError):
    """A bought add-on failed its check or cannot be opened here. Never run; never skipped."""
