"""What core software can catch. Messages say what the customer can do about it.

```
TollgateRuntimeError
├── ProductNotInstalled
│   └── ProductAmbiguous
├── ClientStateDamaged             the state database is unreadable
├── ClientStateUnavailable         it cannot be opened or written here now (permissions, full
│                                  disk, in use): the file itself is fine
├── AddOnNotLicensed (ImportError) not bought here: names what to buy
├── LicenceNotValid                bought, but not usable now; ``reason`` says why:
│   ├── LicenceExpired             "expired" (until / days) or "not_yet_valid"
│   ├── LeaseExpired               "lease": past renew_by, go online
│   ├── OutsideAllowedHours        "hours"
│   ├── OSReleaseChanged           "os_release": a new OS release needs a new purchase
│   ├── UsesExhausted              "uses"
│   ├── OfflineUsesExhausted       "offline": the offline allowance is used; sync first
│   ├── MeterMissing               "meter": the sealed meter is gone; sync first
│   ├── ClockMovedBack             "clock": the clock is behind the time last seen
│   └── PaymentDeclined            "declined": a metered use was declined; update the card
└── AddOnIntegrityError            tampered, or not openable on this machine. Never run.
```
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from tollgate.wire.text import human_size


class TollgateRuntimeError(Exception):
    """Base class of everything tollgate.runtime raises."""


class ProductNotInstalled(TollgateRuntimeError):
    """The product is not installed here (or not from the store asked for)."""


class ProductAmbiguous(ProductNotInstalled):
    """The product is installed from several stores and none was chosen."""


class ClientStateDamaged(TollgateRuntimeError):
    """The client state database cannot be read (damaged, or written by a newer client)."""


class ClientStateUnavailable(TollgateRuntimeError):
    """The client state cannot be opened or written now: its folder is read-only or not a
    folder, the disk is full, or another command holds it. Nothing is wrong with the file;
    the message names the cause and what to do about it."""


def no_space_left(path: str | os.PathLike[str] | None, doing: str, after: str = "") -> str:
    """What to tell someone whose write under ``path`` found the disk full: which disk (its
    device and where it is mounted, so they know what to free), how much it has free, and
    ``after`` (what is kept) before the advice. With no path, no disk is named (a guess
    would send them to free the wrong one)."""
    kept = f" ({after})" if after else ""
    if path is None:
        return f"no space left on the disk while {doing}{kept}: free some space and try again"
    mount = Path(os.path.abspath(path))
    while not mount.exists() or not os.path.ismount(mount):
        if mount.parent == mount:
            break
        mount = mount.parent
    try:
        free = f", {human_size(shutil.disk_usage(mount).free)} free"
    except OSError:
        free = ""
    device = _device_of(mount)
    disk = f"{device} (mounted at {mount}{free})" if device else f"the disk at {mount}{free}"
    return (
        f"no space left on {disk} while {doing} {os.fspath(path)}{kept}: free some space "
        "there and run the command again"
    )


def _device_of(mount: Path) -> str | None:
    """The device mounted at ``mount``, from /proc/self/mounts (Linux); None elsewhere."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    fields = [line.split() for line in lines]
    devices = [f[0] for f in fields if len(f) > 1 and f[1] == str(mount)]
    return devices[-1] if devices else None


def explain_os_error(exc: OSError, doing: str, path: str | os.PathLike[str] | None = None) -> str:
    """One sentence for an operating-system failure while ``doing`` something to a file (the
    error's own, or else ``path``): the cause in words, and what the customer can do."""
    named = exc.filename or path
    where = f" {os.fspath(named)}" if named else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return no_space_left(named, doing)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"permission denied ({doing}{where}): the folder is read-only or belongs to "
            "someone else; fix its permissions or choose another with --home"
        )
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"a file stands where a folder is needed ({doing}{where}): choose another --home"
    return f"{doing}{where} failed: {exc.strerror or exc}"


class AddOnNotLicensed(TollgateRuntimeError, ImportError):
    """No licence for this add-on on this machine: it has not been bought. An ImportError too,
    so ``try: import mt_dic2 except ImportError`` works as for any optional package."""


class LicenceNotValid(TollgateRuntimeError):
    """The add-on is bought, but its licence does not allow its use now."""

    reason = "invalid"


class LicenceExpired(LicenceNotValid):
    reason = "expired"


class LeaseExpired(LicenceNotValid):
    reason = "lease"


class OutsideAllowedHours(LicenceNotValid):
    reason = "hours"


class OSReleaseChanged(LicenceNotValid):
    reason = "os_release"


class UsesExhausted(LicenceNotValid):
    reason = "uses"


class OfflineUsesExhausted(LicenceNotValid):
    """As many uses as the licence allows without the store hearing of them are unsent."""

    reason = "offline"


class MeterMissing(LicenceNotValid):
    """A metered add-on, and no sealed meter to count its uses: removed, or a state from
    before meters. `tollgate sync` restores it (or the store holds the renewal)."""

    reason = "meter"


class ClockMovedBack(LicenceNotValid):
    reason = "clock"


class PaymentDeclined(LicenceNotValid):
    reason = "declined"


class AddOnIntegrityError(TollgateRuntimeError):
    """A bought add-on failed its check or cannot be opened here. Never run; never skipped."""
