"""What every ``tollgate`` command shares: the Typer app, the ``--home`` option, the options
several commands take, and `handled`, which turns client errors into one line and an exit status."""

from __future__ import annotations

import datetime as dt
import functools
import getpass
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from tollgate.cli.output import console, fail, output_closed
from tollgate.cli.plugins import PluginGroup
from tollgate.client import __version__
from tollgate.client.account import Account, Unlocked
from tollgate.client.checks import card_digits, card_problems
from tollgate.client.errors import ClientError, UsageError
from tollgate.client.program import ProgramError
from tollgate.crypto.keyfile import KeyFile
from tollgate.runtime import (
    AddOnIntegrityError,
    AddOnNotLicensed,
    ClientStateUnavailable,
    LicenceNotValid,
    ProductNotInstalled,
)
from tollgate.runtime.errors import explain_os_error
from tollgate.runtime.home import ClientHome
from tollgate.runtime.state import StateDamaged
from tollgate.wire.problems import Exit

HELP = {"help_option_names": ["-h", "--help"]}  # -h as well, every command and group
app = typer.Typer(
    cls=PluginGroup,
    help="Tollgate: a secure software store and its download program.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=HELP,
)
handler_app = typer.Typer(
    help="The desktop hand-off: the browser gives storefront downloads and tollgate:// links "
    "to `tollgate open`.",
    no_args_is_help=True,
    context_settings=HELP,
)
app.add_typer(handler_app, name="handler")
F = TypeVar("F", bound=Callable[..., Any])
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
StoreOpt = Annotated[str | None, typer.Option("--store", help="Store URL or id.")]
TrustOpt = Annotated[
    str | None, typer.Option("--trust", help="Expected store root fingerprint (SHA-256 hex).")
]


class Globals:
    home: ClientHome


G = Globals()


def _show_version(wanted: bool) -> None:
    if wanted:
        console.print(f"tollgate {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    home: Annotated[
        Path | None, typer.Option("--home", envvar="TOLLGATE_HOME", help="The client's folder.")
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the download program's version and exit.",
        ),
    ] = False,
) -> None:
    G.home = ClientHome(home)


def handled(fn: F) -> F:
    """Turn client and runtime errors into one line on stderr (a problem object on stdout for
    a command run with ``--json``) and the documented status; Ctrl-C into a line, never a
    traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            raise fail(str(exc), int(exc.exit), as_json=as_json, code=exc.code) from exc
        except KeyboardInterrupt as exc:
            raise fail(
                "interrupted: run the command again to carry on (what was fetched is kept)",
                Exit.INTERRUPTED,
                as_json=as_json,
            ) from exc
        except (AddOnIntegrityError, StateDamaged) as exc:
            raise fail(str(exc), Exit.INTEGRITY, as_json=as_json) from exc
        except (AddOnNotLicensed, LicenceNotValid) as exc:
            raise fail(str(exc), Exit.REFUSED, as_json=as_json) from exc
        except (ProductNotInstalled, ClientStateUnavailable) as exc:
            raise fail(str(exc), Exit.USAGE, as_json=as_json) from exc
        except ProgramError as exc:
            raise fail(
                f"the download program stays at {__version__}: {exc}",
                Exit.INTEGRITY,
                as_json=as_json,
            ) from exc
        except BrokenPipeError as exc:  # the output was closed (`| head`): end quietly
            raise output_closed() from exc
        except OSError as exc:  # this machine's files: a read-only folder, a full disk
            home = getattr(G, "home", None)  # set once the options are read
            said = explain_os_error(exc, "accessing", home.root if home else None)
            raise fail(said, Exit.USAGE, as_json=as_json) from exc

    return wrapper  # type: ignore[return-value]


def interactive() -> bool:
    return sys.stdin.isatty()


def ask_password(confirm: bool) -> str:
    env = os.environ.get("TOLLGATE_PASSWORD")
    if env:
        return env
    if not interactive():
        raise UsageError("a password is needed: set TOLLGATE_PASSWORD (no terminal to ask on)")
    first = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Again: ") != first:
        raise UsageError("the passwords differ")
    return first


@dataclass(frozen=True)
class Field:
    """An option the command needs: given, or asked for on a terminal."""

    value: str | None
    flag: str
    prompt: str
    hidden: bool = False  # a card number or CVC is not echoed


def gather(*fields: Field) -> list[str]:
    """Each field's value, asking on a terminal for those not given; off a terminal, every
    missing one is named in one usage error."""
    missing = [f.flag for f in fields if not f.value]
    if missing and not interactive():
        raise UsageError("missing " + ", ".join(missing))
    return [f.value or str(typer.prompt(f.prompt, hide_input=f.hidden)) for f in fields]


def card_details(number: str, expiry: str, cvc: str) -> tuple[str, int, int, str]:
    """Number, month, year and CVC, checked as far as this machine can: every problem is
    named at once, before anything is sent."""
    try:
        month, year = parse_expiry(expiry)
        problems = card_problems(number, month, year, cvc, dt.date.today())
    except UsageError as exc:
        month = year = 0
        problems = [str(exc), *card_problems(number, 1, 9999, cvc, dt.date.today())]
    if problems:
        raise UsageError("the card cannot be used: " + "; ".join(problems))
    return card_digits(number), month, year, cvc


def parse_expiry(text: str) -> tuple[int, int]:
    try:
        month, year = text.split("/")
        m, y = int(month), int(year)
    except ValueError as exc:
        raise UsageError(f"the expiry must look like MM/YY, not {text!r}") from exc
    return m, (2000 + y if y < 100 else y)


def unlock(account: Account) -> Unlocked:
    """The account's keys, asking for its password when it has one and none was given."""
    password = os.environ.get("TOLLGATE_PASSWORD")
    if password is None and has_password(account):
        password = ask_password(confirm=False)
    return account.unlock(G.home, password)


def has_password(account: Account) -> bool:
    kf = KeyFile.from_bytes(G.home.keyfile_path(account.store_id).read_bytes())
    return kf.argon2 is not None
