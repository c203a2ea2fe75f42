"""Orchestration overhead of the electron-phonon Flow vs the QE programs' own wall time.

Runs the real fcc-Al Flow (preset `test`) with jobflow's run_locally into a fresh embedded store,
`--repeats` times per variant (single ph.x; q-split), and reports per variant the Flow's wall time,
the sum of the QE runs' wall times (the runner's launch-to-exit time of every program run, summed
over custodian attempts and matdyn/q2r smearing batches, from the document's provenance) and the
difference: jobflow + JobStore writes + file copies + custodian + parsers + phonopy + the document.

    .venv/bin/python benchmarks/workflow_overhead.py [--repeats 3] [--mpi-command "mpirun -np 2" --npool 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure

from betenet.physics import BOHR_TO_ANGSTROM
from betenet.settings import override_settings
from betenet.workflows.flows import ElectronPhononMaker
from betenet.workflows.local import run_structure


def fcc_al() -> Structure:
    a = 7.5 * BOHR_TO_ANGSTROM
    return Structure(Lattice(a / 2 * np.array([[-1, 0, 1], [0, 1, 1], [-1, 1, 0]])), ["Al"], [[0, 0, 0]])


def one_run(options: dict, mpi_command: str, npool: int) -> tuple[float, float, int, dict]:
    with tempfile.TemporaryDirectory() as home, override_settings(home=Path(home), mpi_command=mpi_command,
                                                                  npool=npool):
        maker = ElectronPhononMaker.from_preset("test", **options)
        start = time.perf_counter()
        doc = run_structure(fcc_al(), maker)
        total = time.perf_counter() - start
    if doc.status != "ok":
        raise RuntimeError(f"flow failed: {doc.status_reason}")
    qe = doc.provenance.wall_times_s
    return total, sum(qe.values()), len(qe), qe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mpi-command", default="")
    parser.add_argument("--npool", type=int, default=1)
    args = parser.parse_args()
    variants = {"single ph.x": {}, "q-split 2": {"q_split": 2}}
    print(f"fcc Al, preset test, {args.repeats} repeats, mpi_command={args.mpi_command!r}, npool={args.npool}")
    print("| variant | QE steps | flow wall s (median) | Σ QE wall s | overhead s | overhead % | per step s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, options in variants.items():
        runs = [one_run(options, args.mpi_command, args.npool) for _ in range(args.repeats)]
        total = statistics.median(r[0] for r in runs)
        qe = statistics.median(r[1] for r in runs)
        overheads = [r[0] - r[1] for r in runs]
        overhead = statistics.median(overheads)
        steps = runs[0][2]
        print(f"| {name} | {steps} | {total:.2f} | {qe:.2f} | {overhead:.2f} (min {min(overheads):.2f}) | "
              f"{100 * overhead / total:.0f} | {overhead / steps:.2f} |")
    print("\nQE wall time per step (last run of the last variant):")
    for step, seconds in runs[-1][3].items():
        print(f"  {step:16s} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
