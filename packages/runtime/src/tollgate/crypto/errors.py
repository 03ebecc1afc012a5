"""Typed failures of the crypto layer. Callers map them to exit statuses and problem codes."""


class CryptoError(Exception):
    """Base class: something did not verify or could not be opened."""


class IntegrityError(CryptoError):
    """Data was altered, truncated, reordered or extended."""


class WrongKeyError(CryptoError):
    """The key does not belong to this data (caught by the key commitment)."""


class BindingError(CryptoError):
    """A key file could not be opened with this machine's binding or this password."""


class SignatureError(CryptoError):
    """A signed document's signature does not verify under the expected key."""
