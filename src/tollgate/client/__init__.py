"""The download program: registration, catalog, purchase, download, vault, run."""
