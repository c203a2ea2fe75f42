"""Several bootstrap members on 2 cores: one process with 2 threads, or 2 processes with 1 thread each?

    .venv/bin/python benchmarks/model_members.py --members 4 --epochs 6 --variant CPD

Trains the same members (seed's CPD network, 636 seed graphs, random PhDOS/targets, fixed epoch count)
with `train_ensemble(workers=1, threads=2)` and `train_ensemble(workers=2, threads=1)`, in fresh
directories, and prints the wall time of each and members per minute.
"""

from __future__ import annotations

import argparse
import shutil

import numpy as np
import torch
from model_common import CACHE, Timer, load_average, seed_graphs, with_random_phdos

from betenet.dataset.format import DatasetRecord
from betenet.model.ensemble_training import train_ensemble
from betenet.model.training_set import TrainingSet
from betenet.model.loss import Targets
from betenet.model.training import TrainingConfig


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--variant", default="CPD")
    parser.add_argument("--modes", nargs="+", default=["1x2", "2x1"], help="WORKERSxTHREADS")
    args = parser.parse_args()

    graphs = seed_graphs("train")
    if args.variant != "CSO":
        graphs = with_random_phdos(graphs)
    rng = np.random.default_rng(0)
    targets = Targets.from_records([DatasetRecord(id=g.id, formula="X", a2f=0.3 * rng.random(51)) for g in graphs])
    data = TrainingSet(graphs, targets)
    training = TrainingConfig(max_epochs=args.epochs, patience_descent=10**6)
    print(f"{args.members} members × {args.epochs} epochs, {args.variant}, {len(graphs)} graphs; "
          f"load average {load_average()}")
    for mode in args.modes:
        workers, threads = (int(x) for x in mode.split("x"))
        directory = CACHE / f"members_{mode}"
        shutil.rmtree(directory, ignore_errors=True)
        torch.set_num_threads(threads)
        with Timer() as t:
            train_ensemble(directory, data, variant=args.variant, training=training, n_members=args.members,
                           workers=workers, threads=threads, progress=False)
        print(f"{workers} process(es) × {threads} thread(s): {t.seconds:.1f} s, "
              f"{args.members / t.seconds * 60:.2f} members/min; load average {load_average()}")


if __name__ == "__main__":
    main()
