"""What core software can catch. Messages say what the customer can do about it."""

from __future__ import annotations


class TollgateRuntimeError(Exception):
    """Base class of everything tollgate.runtime raises."""


class ProductNotInstalled(TollgateRuntimeError):
    """The product is not installed here (or not from the store asked for)."""


class ProductAmbiguous(ProductNotInstalled):
    """The product is installed from several stores and none was chosen."""


class AddOnNotLicensed(TollgateRuntimeError):
    """No licence for this add-on on this machine: it has not been bought."""


class AddOnIntegrityError(TollgateRuntimeError):
    """A bought add-on failed its check or cannot be opened here. Never run; never skipped."""
