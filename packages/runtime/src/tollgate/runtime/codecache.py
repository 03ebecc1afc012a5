"""Compiled add-on code kept between runs, sealed, so that a bought add-on imports about as
fast as a plain module with its ``.pyc``.

Compiling a 2,000-line module costs some 50 times what loading its cached bytecode does, and
Python's own cache (``__pycache__``) would put the add-on on disk in the clear. This cache is
sealed instead: AES-256-GCM under a key derived from the file's content key (which only this
customer's ``K`` unwraps, through the licence), with the file's digest and this interpreter's
bytecode magic number as associated data. The first import compiles the verified source and
writes the sealed code beside the vault file (a temporary file, then ``os.replace``); later
imports authenticate it before ``marshal`` reads a byte of it. Anything wrong with it (absent,
another Python, damaged, a read-only vault) only means compiling the source again.
"""

from __future__ import annotations

import contextlib
import importlib.util
import marshal
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

from tollgate.crypto import CryptoError
from tollgate.crypto.keys import open_secret, seal_secret

MAGIC = importlib.util.MAGIC_NUMBER.hex()
PURPOSE = f"code-cache/{MAGIC}"


@dataclass(frozen=True)
class SealedCode:
    """Where one add-on module's compiled code is kept, and the key that seals it."""

    path: Path
    content_key: bytes
    digest: str

    @classmethod
    def beside(cls, vault_file: Path, content_key: bytes, digest: str) -> SealedCode:
        return cls(vault_file.with_name(f"{vault_file.name}.{MAGIC}.code"), content_key, digest)

    def load(self) -> CodeType | None:
        try:
            sealed = self.path.read_bytes()
            plain = open_secret(self.content_key, PURPOSE, self.digest, sealed)
            code = marshal.loads(plain)  # noqa: S302 - authenticated just above
        except (OSError, CryptoError, ValueError, EOFError, TypeError):
            return None
        return code if isinstance(code, CodeType) else None

    def store(self, code: CodeType) -> None:
        sealed = seal_secret(self.content_key, PURPOSE, self.digest, marshal.dumps(code))
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".code-")
        except OSError:
            return  # a read-only vault: compile at every start, as without a cache
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(sealed)
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def compile_module(source: bytes, filename: str, sealed: SealedCode | None) -> CodeType:
    """The module's code: from the sealed cache when it opens, else compiled (and cached)."""
    if sealed is not None and (code := sealed.load()) is not None:
        return code
    code = compile(source, filename, "exec", dont_inherit=True)
    if sealed is not None:
        sealed.store(code)
    return code
