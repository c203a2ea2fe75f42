#!/usr/bin/env python
"""Wall time of the EPW flow on fcc Al (preset 'test', the real run of tests/test_epw_flow.py), per Job,
and of an epwread restart.

    .venv/bin/python benchmarks/epw_al_flow.py [--mpi-command "mpirun -np 2"] [--npool 2]

Prints one row per Job (Job wall time from jobflow's start/finish log lines; the QE program's own wall
time where the Job ran one), the total, λ/ω_log/Tc of the document and the restart's time.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.* helpers

from betenet.settings import override_settings  # noqa: E402
from betenet.store.stores import get_job_store  # noqa: E402
from betenet.workflows.epw import EpwElectronPhononMaker  # noqa: E402
from betenet.workflows.epw_makers import EpwTaskDoc  # noqa: E402
from betenet.workflows.local import run_structure  # noqa: E402
from tests.test_workflow_handlers import fcc_al, run_job  # noqa: E402

_EVENT = re.compile(r"^(Starting|Finished) job - (.+?) \(")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--mpi-command", default="mpirun -np 2")
    parser.add_argument("--npool", type=int, default=2)
    args = parser.parse_args(argv)
    started: dict[str, float] = {}
    durations: dict[str, float] = {}

    def on_event(message: str) -> None:
        match = _EVENT.match(message)
        if match:
            kind, name = match.groups()
            if kind == "Starting":
                started[name] = time.perf_counter()
            else:
                durations[name] = time.perf_counter() - started[name]

    with tempfile.TemporaryDirectory(prefix="betenet-epw-bench-") as scratch, override_settings(
        home=Path(scratch) / "home", mpi_command=args.mpi_command, npool=args.npool
    ):
        load_before = os.getloadavg()[0]
        maker = EpwElectronPhononMaker.from_preset("test")
        start = time.perf_counter()
        doc = run_structure(fcc_al(), maker, on_event=on_event)
        total = time.perf_counter() - start
        store = get_job_store()
        store.connect()
        epw = store.get_output(doc.provenance.job_uuids["epw"])
        nscf = store.get_output(doc.provenance.job_uuids["nscf"])
        start = time.perf_counter()
        job = maker.makers(fcc_al())["epw"].make(fcc_al(), nscf, restart_dir=epw["dir_name"])
        restart = EpwTaskDoc.model_validate(run_job(job, Path(scratch) / "restart"))
        restart_s = time.perf_counter() - start
        load_after = os.getloadavg()[0]

    program_s = doc.provenance.wall_times_s
    names = {"scf": "scf", "ph coarse": "ph_coarse", "q2r coarse": "q2r_coarse", "matdyn coarse": "matdyn_coarse",
             "ph dvscf": "ph_elph", "q2r fine": "q2r_elph", "matdyn fine": "matdyn_elph", "nscf": "nscf", "epw": "epw"}
    print(f"status {doc.status}; λ(0.020 Ry) = {doc.lambda_:.4f}, ω_log = {doc.omega_log_K:.1f} K, "
          f"Tc = {doc.tc_K:.2f} K; band check max |ΔE| = "
          f"{doc.epw.band_check.max_abs_error_eV * 1000:.1f} meV")
    print(f"load average {load_before:.1f} before, {load_after:.1f} after (2 cores, shared)\n")
    print("| Job | Job wall s | program wall s |\n| --- | ---: | ---: |")
    for name, seconds in durations.items():
        program = program_s.get(names.get(name, ""), None)
        print(f"| {name} | {seconds:.1f} | {'' if program is None else f'{program:.1f}'} |")
    print(f"| **flow total** | **{total:.1f}** | |")
    print(f"| epw.x restart (epwread) | {restart_s:.1f} | {restart.wall_time_s:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
