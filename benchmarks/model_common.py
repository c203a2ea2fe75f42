"""Shared set-up of the model benchmarks: the seed's structures as graphs, machine load, timing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "betenet"
CACHE = Path(os.environ.get("BETENET_BENCH_CACHE", "/tmp/betenet-bench"))


def seed_graphs(which: str = "all"):
    """CrystalGraphs of the seed's structures: "all" (806 files) or "train" (the 636 of idx_train_full
    that have a structure file), cached as one .npz."""
    from ase.io import read

    from betenet.model.graphs import build_graph, load_graphs, save_graphs

    cache = CACHE / "seed_graphs_806.npz"
    if cache.is_file():
        graphs = load_graphs(cache)
    else:
        files = sorted((SHARED / "structures").glob("*.cif"), key=lambda p: int(p.stem))
        graphs = [build_graph(read(f), f.stem) for f in files]
        save_graphs(cache, graphs)
    if which == "all":
        return graphs
    index = {g.id: g for g in graphs}
    train = np.loadtxt(SHARED / "indices" / "idx_train_full.txt").astype(int)
    return [index[str(i)] for i in train if str(i) in index]


def with_random_phdos(graphs, seed: int = 0):
    """Random site PhDOS features (fine for timing: the cost does not depend on the values)."""
    rng = np.random.default_rng(seed)
    return [g.with_site_phdos(rng.random((g.n_atoms, 51))) for g in graphs]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def stats(samples) -> str:
    """samples: (wall s, CPU s) pairs."""
    s = np.asarray(samples).reshape(-1, 2)
    return (f"wall min {s[:, 0].min():.3f} s, median {np.median(s[:, 0]):.3f} s; "
            f"CPU min {s[:, 1].min():.3f} s, median {np.median(s[:, 1]):.3f} s (over {len(s)})")


class Timer:
    """Wall seconds, and CPU seconds of this process (all its threads): on a machine shared with other
    jobs the CPU time is the steadier measure of the work done."""

    def __enter__(self):
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.cpu_seconds = time.process_time() - self.cpu_start
