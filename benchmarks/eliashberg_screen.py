#!/usr/bin/env python
"""What the Eliashberg Tc costs a screen: solves of 51-bin spectra like an ensemble's members.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/eliashberg_screen.py [--copies 20] [--seed 0]

Spectra: the 51-bin α²F of the committed campaign dataset (fixtures/campaign/dataset), each scaled by
`--copies` random factors in [0.6, 1.4] (λ from ≈ 0.05 to 1.3: stand-ins for members that disagree), solved
through the path `screen` uses (`Prediction.with_eliashberg_spread` → `EliashbergData.from_spectrum`, bins
1..50, μ* = 0.10). Prints the time per solve and what it means for 806 structures × 100 members: the mean
α²F of every structure, the members' spread of the 20 best-ranked (screen's default), and the spread of all.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before NumPy loads its BLAS: one core, as on a loaded machine

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from betenet.dataset.format import read_dataset  # noqa: E402
from betenet.physics import MODEL_GRID_MEV  # noqa: E402
from betenet.store.documents import EliashbergData  # noqa: E402

DATASET = Path(__file__).resolve().parents[1] / "fixtures" / "campaign" / "dataset"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    spectra = [factor * np.asarray(r.a2f) for r in read_dataset(DATASET) for factor in rng.uniform(0.6, 1.4, args.copies)]
    times_ms, below = [], 0
    for a2f in spectra:
        start = time.perf_counter()
        result = EliashbergData.from_spectrum(MODEL_GRID_MEV, a2f, 0.10, first_bin=1)
        times_ms.append(1000 * (time.perf_counter() - start))
        below += result.tc_K is None
    t = np.asarray(times_ms)
    mean_s = t.mean() / 1000
    print(f"{t.size} solves ({below} below 0.1 K): mean {t.mean():.1f} ms, median {np.median(t):.1f} ms, "
          f"90th percentile {np.percentile(t, 90):.1f} ms, max {t.max():.1f} ms; load {os.getloadavg()[0]:.1f}")
    print(f"806 structures × 100 members at the mean: ensemble mean of each {806 * mean_s:.0f} s; "
          f"spread of the 20 best {20 * 100 * mean_s:.0f} s; spread of all {806 * 100 * mean_s / 60:.0f} min")


if __name__ == "__main__":
    main()
