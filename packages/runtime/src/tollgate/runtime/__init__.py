"""What core software imports to open its add-ons in memory.

```python
from tollgate.runtime import Product
mt = Product.open("MT").enable_imports()  # `import mt_dic2` works once bought
if mt.has("dic2"):                        # bought here, licence genuine, policy met now
    dic2 = mt.import_module("dic2")       # decrypted and verified in memory, then imported
with mt.open_content("novel") as book:    # random access: decrypts only the chunks read
    text = book.page(12)
mt.use("print", "print-document")         # a metered use: recorded, sent and charged once
```
"""

__version__ = "0.1.0"  # the three distributions move together (tests/unit/test_import_layers.py)

from tollgate.runtime.errors import (
    AddOnIntegrityError,
    AddOnNotLicensed,
    ClientStateDamaged,
    ClientStateUnavailable,
    ClockMovedBack,
    LeaseExpired,
    LicenceExpired,
    LicenceNotValid,
    MeterMissing,
    OfflineUsesExhausted,
    OSReleaseChanged,
    OutsideAllowedHours,
    PaymentDeclined,
    ProductAmbiguous,
    ProductNotInstalled,
    TollgateRuntimeError,
    UsesExhausted,
)
from tollgate.runtime.product import Product

__all__ = [
    "AddOnIntegrityError",
    "AddOnNotLicensed",
    "ClientStateDamaged",
    "ClientStateUnavailable",
    "ClockMovedBack",
    "LeaseExpired",
    "LicenceExpired",
    "LicenceNotValid",
    "MeterMissing",
    "OSReleaseChanged",
    "OfflineUsesExhausted",
    "OutsideAllowedHours",
    "PaymentDeclined",
    "Product",
    "ProductAmbiguous",
    "ProductNotInstalled",
    "TollgateRuntimeError",
    "UsesExhausted",
]
