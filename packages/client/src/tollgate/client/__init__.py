"""The download program: registration, catalog, purchase, download, vault, run."""

__version__ = "0.1.0"  # the three distributions move together (tests/unit/test_import_layers.py)
