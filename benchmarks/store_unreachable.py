"""Seconds from start to the one-line error of every store verb, as a user runs it, pointed at a server
that is not there (a local port nobody listens on) and at a URI without a scheme.

    .venv/bin/python benchmarks/store_unreachable.py

Each row is one `betenet` process (interpreter start and imports included), its exit code and the
number of lines it printed; the test `tests/test_cli_store_unreachable.py` checks the lines themselves.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pymatgen.core import Lattice, Structure

BETENET = str(Path(sys.executable).with_name("betenet"))
VERBS = {
    "run": ["run", "{cif}", "--preset", "test"],
    "submit": ["submit", "{cif}", "--engine", "fireworks", "--preset", "test"],
    "build-dataset": ["build-dataset", "{tmp}/dataset"],
    "train-ensemble": ["train-ensemble", "{tmp}/ensemble"],
    "predict": ["predict", "{cif}", "--ensemble", "{tmp}/ensemble"],
    "screen": ["screen", "{cif}", "--ensemble", "{tmp}/ensemble", "--out", "{tmp}/screen"],
    "pipeline": ["pipeline", "{cif}", "--preset", "test"],
}


def main() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        cif = Path(tmp) / "Al.cif"
        Structure(Lattice.cubic(4.05), ["Al"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]).to(
            filename=str(cif))
        print("| verb | store | seconds | exit | lines |\n| --- | --- | ---: | ---: | ---: |")
        for store in (f"mongodb://127.0.0.1:{port}/betenet", "localhost:27017"):
            for verb, args in VERBS.items():
                command = [BETENET, *(a.format(cif=cif, tmp=tmp) for a in args), "--store", store]
                start = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "BETENET_HOME": tmp})
                seconds = time.perf_counter() - start
                lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
                print(f"| {verb} | {store} | {seconds:.1f} | {done.returncode} | {len(lines)} |")
        print(f"e.g. {lines[0]}")


if __name__ == "__main__":
    main()
