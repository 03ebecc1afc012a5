"""What core software imports to open its add-ons in memory.

```python
from tollgate.runtime import Product
mt = Product.open("MT")
if mt.has("dic2"):
    dic2 = mt.import_module("dic2")   # decrypted and verified in memory, then imported
```
"""

from tollgate.runtime.errors import (
    AddOnIntegrityError,
    AddOnNotLicensed,
    ClientStateDamaged,
    ClockMovedBack,
    LeaseExpired,
    LicenceExpired,
    LicenceNotValid,
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
    "ClockMovedBack",
    "LeaseExpired",
    "LicenceExpired",
    "LicenceNotValid",
    "OSReleaseChanged",
    "OutsideAllowedHours",
    "PaymentDeclined",
    "Product",
    "ProductAmbiguous",
    "ProductNotInstalled",
    "TollgateRuntimeError",
    "UsesExhausted",
]
