"""Tollgate: a secure software store."""

__version__ = "0.1.0"
