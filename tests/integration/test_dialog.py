"""The confirmation the desktop hand-off shows (cli/confirm.py's Tk dialog), on a real X
server: Debian's Xvfb, with xdotool pressing the keys a customer would. `make test` installs
both; without them this test fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import REG, tg
from test_money_moves import charges

from conftest import MACHINE_A, LiveStore, sqlite_only

# What this module tries is the command line's, not the database's: SQLite only.
database_url = pytest.fixture(sqlite_only, name="database_url")


@pytest.fixture
def display(tmp_path: Path) -> Iterator[str]:
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: `make test` installs Debian's xvfb and xdotool")
    # Xvfb picks a free display itself and writes its number on the pipe (-displayfd), so
    # tests running in parallel never meet on one screen.
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write_end,),
    )
    os.close(write_end)
    with os.fdopen(read_end) as said:
        number = said.readline().strip()
    assert number.isdigit() and server.poll() is None, "Xvfb did not start"
    name = f":{number}"
    try:
        yield name
    finally:
        server.terminate()
        server.wait(timeout=10)


def buy_in_a_window(home: Path, display: str, key: str) -> subprocess.CompletedProcess[str]:
    """`tollgate buy` as the desktop starts it (no terminal, a screen); ``key`` pressed in the
    dialog once it shows."""
    env = dict(os.environ, TOLLGATE_HOME=str(home), TOLLGATE_MACHINE_ID=MACHINE_A)
    env["DISPLAY"] = display
    proc = subprocess.Popen(
        [sys.executable, "-m", "tollgate", "buy", "MT", "dic2"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    found = subprocess.run(
        ["xdotool", "search", "--sync", "--onlyvisible", "--name", "Tollgate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    window = found.stdout.split()[0]
    title = subprocess.run(
        ["xdotool", "getwindowname", window], env=env, capture_output=True, text=True, check=True
    )
    assert title.stdout.strip() == "Tollgate"
    subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, check=True)
    subprocess.run(["xdotool", "key", key], env=env, check=True)  # to the focused dialog
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_the_dialog_asks_and_only_ok_buys(store: LiveStore, tmp_path: Path, display: str) -> None:
    home = tmp_path / "home"
    assert tg(home, "register", store.url, *REG, "--card", "4242424242424242").returncode == 0
    assert tg(home, "install", "MT").returncode == 0

    cancelled = buy_in_a_window(home, display, "Escape")
    assert cancelled.returncode == 6, cancelled.stderr
    assert "nothing was bought or charged" in cancelled.stderr
    assert charges(store) == []

    agreed = buy_in_a_window(home, display, "Return")
    assert agreed.returncode == 0, agreed.stderr
    assert "Bought MT dic2: 300 JPY" in agreed.stdout
    assert len(charges(store)) == 1
