#!/usr/bin/env python
"""Wall time of the fcc-Al el-ph chain per program, and the runner's own overhead.

    .venv/bin/python benchmarks/al_chain.py [--mpi-command "mpirun -np 2"] [--npool 2] [--repeats 9]

Per program it prints: the time of the whole `run_program` call, the child's wall time (launch to
exit, what RunResult.wall_time_s reports), QE's own WALL clock where the parser reads it, and
  runner overhead  = call − child   (Python side: settings, binary lookup, input file, Popen, wait)
  launch overhead  = child − QE WALL (mpirun + program start-up outside QE's clock)
Then, for the cheap steps, `--repeats` alternating runs through `run_program` and through a bare
`subprocess.run` of the very same command line (same folder, same environment): the median of the
paired differences is the runner's cost over the minimum any launcher pays (noisy on a loaded
machine: compare it with the `runner ms` column, which has no second process in it).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.* helpers

from betenet.qe.lambda_x import lambda_input_from_ph  # noqa: E402
from betenet.qe.runner import child_environment, run_program  # noqa: E402
from betenet.settings import override_settings  # noqa: E402
from tests.al_chain import al_structure, chain_inputs, LAMBDA_DEGAUSS_THZ, LAMBDA_EMAX_THZ  # noqa: E402

CHEAP_STEPS = ("q2r", "matdyn_path", "lambda")


def timed_run(program: str, text: str, directory: Path, label: str, npool: int):
    start = time.perf_counter()
    result = run_program(program, text, directory, label=label, npool=npool, timeout_s=600)
    return result, time.perf_counter() - start


def qe_wall_s(result) -> float | None:
    try:
        return getattr(result.parse(), "wall_time_s", None)
    except LookupError:  # q2r/matdyn have no stdout parser
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpi-command", default="mpirun -np 2")
    parser.add_argument("--npool", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="betenet-bench-") as scratch, override_settings(
        mpi_command=args.mpi_command
    ):
        work = Path(scratch)
        steps = dict(chain_inputs())
        rows = []
        total_start = time.perf_counter()
        for label, (program, text) in steps.items():
            result, call_s = timed_run(program, text, work, label, args.npool)
            rows.append((label, program, call_s, result))
        lambda_text = lambda_input_from_ph(
            work / "elph.out", al_structure(), emax_THz=LAMBDA_EMAX_THZ, degauss_THz=LAMBDA_DEGAUSS_THZ
        )
        steps["lambda"] = ("lambda", lambda_text)
        result, call_s = timed_run("lambda", lambda_text, work, "lambda", args.npool)
        rows.append(("lambda", "lambda", call_s, result))
        total_s = time.perf_counter() - total_start

        print(f"fcc-Al el-ph chain, MPI prefix {args.mpi_command!r}, npool {args.npool}")
        print(f"{'step':12s} {'program':8s} {'call s':>8s} {'child s':>8s} {'QE WALL':>8s} {'runner ms':>10s} {'launch s':>9s}")
        for label, program, call_s, result in rows:
            wall = qe_wall_s(result)
            launch = f"{result.wall_time_s - wall:9.2f}" if wall is not None else f"{'-':>9s}"
            wall_text = f"{wall:8.2f}" if wall is not None else f"{'-':>8s}"
            print(
                f"{label:12s} {program:8s} {call_s:8.2f} {result.wall_time_s:8.2f} {wall_text} "
                f"{1000 * (call_s - result.wall_time_s):10.1f} {launch}"
            )
        print(f"{'total':12s} {'':8s} {total_s:8.2f}")

        print(f"\nrunner vs bare subprocess.run, {args.repeats} alternating pairs:")
        print(f"{'step':12s} {'runner min s':>12s} {'bare min s':>10s} {'median diff ms':>15s}")
        for label in CHEAP_STEPS:
            program, text = steps[label]
            runner_s, bare_s = [], []
            for _ in range(args.repeats):
                result, call_s = timed_run(program, text, work, label, args.npool)
                runner_s.append(call_s)
                stdin = open(result.input_path, "rb") if label == "lambda" else subprocess.DEVNULL
                start = time.perf_counter()
                subprocess.run(
                    result.command, cwd=work, stdin=stdin, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, env=child_environment(), check=True,
                )
                bare_s.append(time.perf_counter() - start)
                if stdin is not subprocess.DEVNULL:
                    stdin.close()
            difference_ms = 1000 * statistics.median(r - b for r, b in zip(runner_s, bare_s))
            print(f"{label:12s} {min(runner_s):12.3f} {min(bare_s):10.3f} {difference_ms:15.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
