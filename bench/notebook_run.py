"""`hopngo-ops run service_down` against a floor measured in the same run: papermill executing
an empty notebook with one parameters cell. The ratio is the figure to watch (aim: <= 2x)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from hopngo_ops import sandbox

REPEATS = 3


def _time(argv: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def _empty_notebook(path: Path) -> None:
    cell = new_code_cell(
        'service: str = "booking-service"  # the service', metadata={"tags": ["parameters"]}
    )
    nb = new_notebook(
        cells=[cell],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(nb, path)


def measure() -> dict:
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        root.chmod(0o711)  # PostgreSQL runs as the postgres user, who must reach its data
        state_dir = root / "sandbox"
        sandbox.up("service_down", state_dir)
        env = {
            **os.environ,
            "HOPNGO_SANDBOX_DIR": str(state_dir),
            "HOPNGO_INCIDENTS_DIR": str(root / "incidents"),
        }
        try:
            empty = root / "empty.ipynb"
            _empty_notebook(empty)
            floor = [
                _time(
                    [
                        str(bin_dir / "papermill"),
                        str(empty),
                        str(root / "out.ipynb"),
                        "-p",
                        "service",
                        "x",
                        "--no-progress-bar",
                    ],
                    env,
                )
                for _ in range(REPEATS)
            ]
            runs = [
                _time(
                    [
                        str(bin_dir / "hopngo-ops"),
                        "run",
                        "service_down",
                        "-p",
                        "service",
                        "booking-service",
                    ],
                    env,
                )
                for _ in range(REPEATS)
            ]
        finally:
            sandbox.down(state_dir)
    return {
        "floor_papermill_empty_seconds": [round(f, 2) for f in floor],
        "run_service_down_seconds": [round(r, 2) for r in runs],
        "ratio_median": round(sorted(runs)[REPEATS // 2] / sorted(floor)[REPEATS // 2], 2),
    }
