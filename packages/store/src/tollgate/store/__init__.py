"""The store server: folder and keys, database, payments, services and the HTTP API."""

__version__ = "0.1.0"  # the three distributions move together (tests/unit/test_import_layers.py)
