"""Seconds per training epoch of the seed's CPD network on the 636 seed training graphs, plus a profile.

    .venv/bin/python benchmarks/model_epoch.py --dtype float32 --threads 2 --epochs 8

Three figures on the same machine, same process, same bootstrap member (the seed's structures, random
site PhDOS and targets — timing does not depend on values):
1. seed-style epoch: e3nn's modules edge by edge (the seed's code path), the bootstrap batch with its
   duplicates (636 graphs) forward+backward+AdamW, then the seed's two evaluations (out-of-bag set and
   training batch);
2. betenet epoch: `betenet.model.training.train_member`'s epoch (fast kernels, drawn graphs once with
   multiplicity weights, out-of-bag validation), timed between its own epoch callbacks;
3. kernel-only: forward+backward+AdamW over all 636 distinct graphs, fast kernels vs e3nn modules.
Then a torch.profiler table of one betenet epoch.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from model_common import Timer, load_average, seed_graphs, stats, with_random_phdos

from betenet.model.graphs import GraphBatch
from betenet.model.loss import Targets, mixed_loss
from betenet.model.network import BeteNet, NetworkConfig
from betenet.model.training import DTYPES, TrainingConfig, bootstrap, train_member


def random_targets(n: int, dtype) -> Targets:
    from betenet.dataset.format import DatasetRecord

    rng = np.random.default_rng(1)
    records = [DatasetRecord(id=str(i), formula="X", a2f=0.3 * rng.random(51)) for i in range(n)]
    return Targets.from_records(records, dtype)


def seed_style_epochs(net, graphs, targets, counts, dtype, epochs):
    """The seed's loop: batch with duplicates, e3nn path, evaluations of the OOB and training sets."""
    draws = np.repeat(np.arange(len(graphs)), counts)
    oob = np.flatnonzero(counts == 0)
    train = GraphBatch.from_graphs([graphs[i] for i in draws], "CPD", dtype=dtype)
    valid = GraphBatch.from_graphs([graphs[i] for i in oob], "CPD", dtype=dtype)
    t_train, t_valid = targets.subset(draws), targets.subset(oob)
    opt = torch.optim.AdamW(net.parameters(), lr=0.005, weight_decay=0.0)
    times = []
    for _ in range(epochs + 1):
        with Timer() as t:
            loss = ((net.forward_reference(train) - t_train.a2f) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                ((net.forward_reference(valid) - t_valid.a2f) ** 2).mean().item()
                ((net.forward_reference(train) - t_train.a2f) ** 2).mean().item()
        times.append((t.seconds, t.cpu_seconds))
    return times[1:]


def betenet_epochs(network, graphs, targets, dtype_name, epochs):
    stamps = []
    training = TrainingConfig(max_epochs=epochs + 1, patience_descent=10**6, dtype=dtype_name)
    train_member(network, training, graphs, targets, member=0, seed=0,
                 on_epoch=lambda report: stamps.append((time.perf_counter(), time.process_time())))
    return list(np.diff(np.asarray(stamps), axis=0))  # the first epoch (warm-up) has no predecessor


def kernel_steps(net, graphs, targets, dtype, epochs, reference: bool):
    batch = GraphBatch.from_graphs(graphs, "CPD", dtype=dtype)
    forward = net.forward_reference if reference else net
    opt = torch.optim.AdamW(net.parameters(), lr=0.005, weight_decay=0.0)
    times = []
    for _ in range(epochs + 1):
        with Timer() as t:
            loss, _ = mixed_loss(forward(batch), targets)
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append((t.seconds, t.cpu_seconds))
    return times[1:]


def profile_epoch(network, graphs, targets, dtype):
    from torch.profiler import ProfilerActivity, profile, record_function

    counts = bootstrap(len(graphs), 0, 0)
    drawn, oob = np.flatnonzero(counts), np.flatnonzero(counts == 0)
    train = GraphBatch.from_graphs([graphs[i] for i in drawn], "CPD", dtype=dtype)
    valid = GraphBatch.from_graphs([graphs[i] for i in oob], "CPD", dtype=dtype)
    weight = torch.as_tensor(counts[drawn], dtype=dtype)
    net = BeteNet(network).to(dtype)
    opt = torch.optim.AdamW(net.parameters(), lr=0.005)

    def epoch():
        with record_function("forward (train)"):
            loss, _ = mixed_loss(net(train), targets.subset(drawn), weight)
        with record_function("backward"):
            opt.zero_grad()
            loss.backward()
        with record_function("AdamW step"):
            opt.step()
        with record_function("validation forward"), torch.no_grad():
            mixed_loss(net(valid), targets.subset(oob))

    epoch()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        epoch()
    table = prof.key_averages().table(sort_by="cpu_time_total", row_limit=22, max_name_column_width=48)
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=list(DTYPES), default="float32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--skip-seed-style", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = DTYPES[args.dtype]

    graphs = with_random_phdos(seed_graphs("train"))
    targets = random_targets(len(graphs), dtype)
    network = NetworkConfig(variant="CPD", num_neighbors=16.85)
    n_atoms = sum(g.n_atoms for g in graphs)
    print(f"{len(graphs)} graphs, {n_atoms} atoms, {sum(g.edge_src.size for g in graphs)} edges; CPD network; "
          f"{args.dtype}; {args.threads} threads; load average before: {load_average()}")

    torch.manual_seed(0)
    net = BeteNet(network).to(dtype)
    print(f"parameters: {sum(p.numel() for p in net.parameters())} "
          f"(radial MLPs {sum(p.numel() for n, p in net.named_parameters() if '.fc.' in n)})")
    counts = bootstrap(len(graphs), 0, 0)
    print(f"bootstrap member 0: {np.count_nonzero(counts)} distinct graphs drawn, {np.sum(counts == 0)} out of bag")

    results = {}
    results["betenet epoch"] = betenet_epochs(network, graphs, targets, args.dtype, args.epochs)
    print(f"betenet epoch (fast kernels, drawn graphs once + OOB validation): {stats(results['betenet epoch'])}")
    if not args.skip_seed_style:
        results["seed-style epoch"] = seed_style_epochs(net, graphs, targets, counts, dtype, max(2, args.epochs // 2))
        print(f"seed-style epoch (e3nn modules, 636-graph batch with duplicates + 2 evaluations): "
              f"{stats(results['seed-style epoch'])}")
    results["kernel fast"] = kernel_steps(net, graphs, targets, dtype, args.epochs, reference=False)
    print(f"forward+backward+AdamW on all 636 graphs, fast kernels: {stats(results['kernel fast'])}")
    if not args.skip_seed_style:
        results["kernel e3nn"] = kernel_steps(net, graphs, targets, dtype, max(2, args.epochs // 2), reference=True)
        print(f"forward+backward+AdamW on all 636 graphs, e3nn modules:  {stats(results['kernel e3nn'])}")
        best = {k: np.asarray(v).reshape(-1, 2).min(axis=0) for k, v in results.items()}
        for i, what in enumerate(("wall", "CPU")):
            print(f"speed-up ({what}, min/min): per epoch {best['seed-style epoch'][i] / best['betenet epoch'][i]:.2f}x; "
                  f"kernels alone {best['kernel e3nn'][i] / best['kernel fast'][i]:.2f}x")
    print(f"load average after: {load_average()}")
    if args.profile:
        print(profile_epoch(network, graphs, targets, dtype))


if __name__ == "__main__":
    main()
