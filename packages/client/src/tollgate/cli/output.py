"""Printing results: plain lines for people, JSON for scripts, one-line errors on stderr (or,
under ``--json``, a problem object on stdout).

Off a terminal (a pipe, a log, a file) nothing is wrapped, no progress bar is drawn and no
colour is sent: ids and tokens stay whole on one line.

Much of what the CLI prints comes from a store or a customer: product names, summaries,
release notes, add-on functions, error details, customers' names. None of it may style, link
or drive the terminal, so the consoles here interpret no markup at all and every string they
print loses its control characters (`clean`); emphasis the CLI wants is given as `Text`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from tollgate.wire.problems import Exit
from tollgate.wire.text import clean


class PlainConsole(Console):
    """Rich's console, printing strings as they are: no markup, no highlighting, and no control
    characters (whatever the caller passes)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(markup=False, highlight=False, emoji=False, **options)
        self.soft_wrap = not self.is_terminal  # a pipe gets whole lines

    def print(self, *objects: Any, **options: Any) -> None:
        super().print(*(clean(o) if isinstance(o, str) else o for o in objects), **options)


def styled(text: str, style: str) -> Text:
    """Text in ``style`` (our own emphasis), its characters cleaned like any other."""
    return Text(clean(text), style=style)


console = PlainConsole()
errors = PlainConsole(stderr=True)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def output_closed() -> typer.Exit:
    """What to raise when the reader of our output went away (`| head`): nothing more is
    written (what is still buffered would fail again at exit), and the status says so."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return typer.Exit(int(Exit.OUTPUT_CLOSED))


EXIT_TITLES: dict[int, str] = {
    Exit.USAGE: "Usage error",
    Exit.REFUSED: "Refused by the store",
    Exit.INTEGRITY: "Integrity or binding failure",
    Exit.UNREACHABLE: "The store cannot be reached",
    Exit.CANCELLED: "Cancelled by you",
    Exit.INTERRUPTED: "Interrupted",
}


def fail(
    message: str, exit_code: int, *, as_json: bool = False, code: str | None = None
) -> typer.Exit:
    """Report a failure and return the exit to raise: one line on stderr, or, for a command
    run with ``--json``, a problem object on stdout (RFC 9457's members, plus ``exit``)."""
    if as_json:
        emit_json(
            {
                "error": {
                    "title": EXIT_TITLES.get(exit_code, "Failed"),
                    "detail": clean(message),
                    "code": code,
                    "exit": int(exit_code),
                }
            }
        )
    else:
        errors.print(Text.assemble(styled("error:", "bold red"), " ", clean(message)))
    return typer.Exit(exit_code)


@contextmanager
def transfer_progress(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A progress bar (bytes, rate, time left) for downloads; silent with --json and off a
    terminal."""
    if not enabled or not console.is_terminal:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(clean(label), total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextmanager
def publish_progress(enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A bar of the files a long piece of work (publishing) has done, with what it is doing
    now; on a terminal only."""
    if not enabled or not console.is_terminal:
        yield lambda what, done, total: None
        return
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("publishing", total=None)

        def update(what: str, done: int, total: int) -> None:
            bar.update(task, description=clean(what)[:60], completed=done, total=total)

        yield update
