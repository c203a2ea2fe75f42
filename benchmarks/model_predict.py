"""Wall time to predict all 806 seed structures with a 100-member ensemble.

    .venv/bin/python benchmarks/model_predict.py --variant CPD --threads 2

The timed call is `Ensemble.predict` (graphs built beforehand, as a screening run would cache them):
reading 100 member checkpoints, 100 forward passes, the mean α²F, its moments and the members' spread.
The ensemble is a real ensemble directory of the seed's CPD (or CSO) architecture, trained for one epoch
per member on a few structures that cover all 64 elements (prediction cost does not depend on how well
the weights were trained). The seed's own path (e3nn modules, radial MLP per edge) is timed on a few
members in the same run and scaled to 100.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from model_common import CACHE, Timer, load_average, seed_graphs, with_random_phdos

from betenet.model.ensemble import Ensemble
from betenet.model.ensemble_training import train_ensemble
from betenet.model.training_set import TrainingSet
from betenet.model.graphs import GraphBatch
from betenet.model.loss import Targets
from betenet.model.training import TrainingConfig


def element_cover(graphs):
    """A few graphs that together contain every element of `graphs` (greedy set cover)."""
    missing = set().union(*(g.elements for g in graphs))
    chosen = []
    while missing:
        best = max(graphs, key=lambda g: len(g.elements & missing))
        chosen.append(best)
        missing -= best.elements
    return chosen


def build_ensemble(variant: str, graphs, n_members: int):
    from betenet.dataset.format import DatasetRecord

    cover = element_cover(graphs)
    rng = np.random.default_rng(0)
    targets = Targets.from_records([DatasetRecord(id=g.id, formula="X", a2f=0.3 * rng.random(51)) for g in cover])
    data = TrainingSet(cover, targets)
    return train_ensemble(CACHE / f"predict_ensemble_{variant}_{n_members}", data, variant=variant,
                          training=TrainingConfig(max_epochs=1), n_members=n_members, seed=0, progress=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=["CSO", "CPD", "FPD"], default="CPD")
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--seed-members", type=int, default=3, help="members timed on the e3nn path")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    graphs = seed_graphs("all")
    if args.variant != "CSO":
        graphs = with_random_phdos(graphs)
    ensemble = build_ensemble(args.variant, graphs, args.members)
    print(f"{len(graphs)} structures, {sum(g.n_atoms for g in graphs)} atoms; {ensemble}; "
          f"{args.threads} threads; load average {load_average()}")
    for dtype_name in args.dtypes:
        dtype = getattr(torch, dtype_name)
        with Timer() as t:
            prediction = ensemble.predict(graphs, ids=[g.id for g in graphs], dtype=dtype)
        print(f"{dtype_name}: Ensemble.predict, {len(ensemble.members)} members × {len(graphs)} structures: "
              f"{t.seconds:.1f} s wall, {t.cpu_seconds:.1f} CPU s  (λ of the first structure {prediction.lambda_[0]:.4g} ± "
              f"{prediction.lambda_std[0]:.2g}); load average {load_average()}")
        batch = GraphBatch.from_graphs(graphs, args.variant, dtype=dtype)
        net = ensemble.member_network(0, dtype)
        with torch.inference_mode(), Timer() as t:
            for _ in range(args.seed_members):
                net.forward_reference(batch)
        per_member, cpu_per_member = t.seconds / args.seed_members, t.cpu_seconds / args.seed_members
        print(f"{dtype_name}: e3nn path (seed's), {per_member:.2f} s wall ({cpu_per_member:.2f} CPU s) per member "
              f"forward → {per_member * 100:.0f} s wall ({cpu_per_member * 100:.0f} CPU s) for 100 members "
              f"(forward passes only, scaled from {args.seed_members})")


if __name__ == "__main__":
    main()
