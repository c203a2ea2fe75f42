"""`betenet screen` on the 806 BETE-NET structures with a CSO ensemble, timed, through the CLI.

The ensemble is trained on the JARVIS moment labels (the only labels available here for many
elements), through the same CLI a user runs:

    betenet build-dataset WORK/jarvis --jarvis ../shared/data/jarvis_supercon/jarvis_supercon.jsonl
    betenet train-ensemble WORK/ens --dataset WORK/jarvis --variant CSO --members M --max-epochs E
    betenet screen ../shared/data/betenet/structures --ensemble WORK/ens --out WORK/screen --home WORK/home

Training is a set-up step here (its time is printed but is not the figure); the figure is the
`screen` command's wall time, with the stage breakdown it prints itself. Structures with an element
the ensemble never saw are rejected with the reason (counted below). A short training gives poor
predictions: this measures throughput and the reporting, not accuracy.

    .venv/bin/python benchmarks/screen_806.py [--members 4] [--max-epochs 20] [--work /tmp/screen806]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
BETENET = str(Path(sys.executable).with_name("betenet"))


def run(*args: str) -> tuple[str, float]:
    print("$ betenet " + " ".join(args), flush=True)
    start = time.perf_counter()
    done = subprocess.run([BETENET, *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--work", type=Path, default=Path("/tmp/screen806"))
    parser.add_argument("--repeats", type=int, default=2, help="screen runs (the first loads caches cold)")
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "jarvis" / "manifest.json").is_file():
        run("build-dataset", str(work / "jarvis"), "--jarvis", str(SHARED / "jarvis_supercon" / "jarvis_supercon.jsonl"))
    ens = work / f"ens-m{args.members}-e{args.max_epochs}"
    if not (ens / "metrics.json").is_file():
        _, wall = run("train-ensemble", str(ens), "--dataset", str(work / "jarvis"), "--variant", "CSO",
                      "--members", str(args.members), "--max-epochs", str(args.max_epochs), "--splits", "train,val")
        print(f"training (set-up, not the figure): {wall:.0f} s")
    structures = SHARED / "betenet" / "structures"
    for repeat in range(args.repeats):
        out = work / f"screen-{repeat}"
        output, wall = run("screen", str(structures), "--ensemble", str(ens), "--out", str(out),
                           "--home", str(work / "home"), "--top", "5")
        print(output)
        rejected = list(csv.DictReader((out / "rejected.csv").open()))
        ranked = list(csv.DictReader((out / "predictions.csv").open()))
        print(f"repeat {repeat}: {len(ranked)} predicted + {len(rejected)} rejected = "
              f"{len(ranked) + len(rejected)} of {len(list(structures.glob('*.cif')))} files; "
              f"command wall time {wall:.2f} s (process start and imports included)")
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores shared with other people's jobs)")


if __name__ == "__main__":
    main()
