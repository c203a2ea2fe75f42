#!/usr/bin/env python
"""Mutated copies of the real QE outputs through every parser (tests/parser_fuzz.py), many more than CI runs.

    .venv/bin/python benchmarks/parser_fuzz.py [--cases 12800] [--seed 1]

Prints, per parser target, how many mutated files were refused with a ParseError, accepted (a mutation
that leaves a valid file, e.g. a digit replaced), or accepted but reported unfinished by the result
itself; then the broken rules: another exception, a ParseError not naming the file, or a cut/row-dropped
table accepted as complete ("accepted short"). Exit status 1 if any rule broke.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.* helpers

from tests.parser_fuzz import STRUCTURAL, TARGETS, run_fuzz  # noqa: E402

OUTCOMES = ("rejected", "accepted", "accepted, says unfinished", "accepted short", "other exception")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=12800)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        report = run_fuzz(args.cases, args.seed, Path(scratch))
    elapsed = time.perf_counter() - start
    print(f"{report.cases} cases over {len(TARGETS)} files in {elapsed:.1f} s (seed {args.seed})")
    print(f"{'target':22s} " + " ".join(f"{o:>12.12s}" for o in OUTCOMES) + "   structural caught")
    for target in TARGETS:
        counts = [report.count(o, target.name) for o in OUTCOMES]
        structural = sum(report.count(o, target.name, m) for o in OUTCOMES for m in STRUCTURAL)
        caught = sum(report.count(o, target.name, m) for o in ("rejected", "accepted, says unfinished")
                     for m in STRUCTURAL)
        print(f"{target.name:22s} " + " ".join(f"{c:12d}" for c in counts) + f"   {caught}/{structural}")
    print(f"broken rules: {len(report.failures)}")
    for line in report.failures[:50]:
        print("  " + line)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
