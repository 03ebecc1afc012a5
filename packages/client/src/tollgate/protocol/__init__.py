"""What the download program and the store both speak that needs more than ``cryptography``:
HTTP message signatures (``http-message-signatures``), environments matched by wheel tags
(``packaging``), zstd patches (``zstandard``) and the download program's releases.

It ships with the download program (the ``tollgate`` distribution); the store depends on that.
The formats core software needs are in :mod:`tollgate.wire`, which needs only the standard
library and ``cryptography`` and ships with ``tollgate-runtime``.
"""
