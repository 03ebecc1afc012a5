"""Run every benchmark in this folder; each prints its own ratio against its baseline."""

from __future__ import annotations

import runpy
from pathlib import Path

HERE = Path(__file__).parent

for script in (
    "stream_throughput.py",
    "purchase_latency.py",
    "download_throughput.py",
    "update_and_resume.py",
    "metadata_refresh.py",
    "runtime_import.py",
    "book_page.py",
):
    print(f"== {script}")
    runpy.run_path(str(HERE / script), run_name="__main__")
