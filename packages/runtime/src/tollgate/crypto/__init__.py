"""Cryptographic building blocks, composed from pyca/cryptography (DESIGN.md section 4).

Nothing here does I/O or imports from the store, client or CLI: core software embeds this
package through :mod:`tollgate.runtime` and must stay light.
"""

from tollgate.crypto.errors import (
    BindingError,
    CryptoError,
    IntegrityError,
    SignatureError,
    WrongKeyError,
)

__all__ = ["BindingError", "CryptoError", "IntegrityError", "SignatureError", "WrongKeyError"]
