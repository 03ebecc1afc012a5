"""Asking the customer before money moves: at the terminal when there is one, in a small Tk
window when the command was started by the desktop (the browser's hand-off), never silently.

``--yes`` skips the question; with neither a terminal nor a screen, the command refuses rather
than guess. "No" (or closing the window) is :class:`Cancelled`: exit status 6 and a line saying
that nothing was done; Ctrl-C at the question is exit 130, saying the same.
"""

from __future__ import annotations

import os
import sys

import typer

from tollgate.client.errors import Cancelled, Interrupted, UsageError
from tollgate.wire.text import clean


def has_screen() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def ask_in_window(title: str, question: str) -> bool:
    """OK / Cancel in a Tk dialog; False when the window is closed."""
    import tkinter
    from tkinter import messagebox

    try:
        root = tkinter.Tk()
    except tkinter.TclError as exc:  # the display cannot be opened
        raise RuntimeError(str(exc)) from exc
    root.withdraw()
    try:
        return bool(messagebox.askokcancel(title, question, parent=root))
    finally:
        root.destroy()


def confirm(
    question: str, *, yes: bool, title: str = "Tollgate", nothing: str = "nothing was done"
) -> None:
    """Return when the customer agrees; raise :class:`Cancelled` (saying ``nothing``) when they
    do not. The question names what a store says (product, add-on, price): it is asked without
    control characters, in the terminal and in the window alike."""
    if yes:
        return
    question, title = clean(question), clean(title)
    if sys.stdin.isatty():
        try:
            agreed = typer.confirm(question)
        except typer.Abort as exc:  # Ctrl-C (or the end of input) at the question
            raise Interrupted(f"interrupted at the question: {nothing}") from exc
    elif has_screen():
        try:
            agreed = ask_in_window(title, question)
        except (ImportError, RuntimeError) as exc:  # no Tk here, or no display to open
            raise UsageError(f"cannot ask in a window ({exc}): run again with --yes") from exc
    else:
        raise UsageError("confirm with --yes (no terminal or screen to ask on)")
    if not agreed:
        raise Cancelled(f"cancelled: {nothing}")
