"""What core software can catch. Messages say what the customer can do about it."""

from __future__ import annotations


class TollgateRuntimeError(Exception):
    """Base class of everything tollgate.runtime raises."""


class ProductNotInstalled(TollgateRuntimeError):
    pass


class AddOnNotLicensed(TollgateRuntimeError):
    """No licence for this add-on on this machine: it has not been bought."""


class AddOnIntegrityError(TollgateRuntimeError):
    """A bought add-on failed its check or cannot be opened here. Never run; never skipped."""
