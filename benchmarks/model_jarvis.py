"""JARVIS moment-only accuracy: train a CSO ensemble on leaderboard_split == "train", score "val".

    .venv/bin/python benchmarks/model_jarvis.py --members 10 --max-epochs 1000 --workers 2 \
        --patience 15 100 300 --out /tmp/betenet-bench/jarvis_ensemble

The network only ever sees λ, ω_log and Tc labels (no spectra): its α²F is latent and the moments are
computed from it (mixed-supervision loss, default weights). λ, ω_log, Tc on the val rows come from the
ensemble-mean α²F (Tc: Allen–Dynes, μ* = 0.10; JARVIS's own Tc uses its own formula, so even perfect
moments would not give zero Tc error). Baselines on the same rows: the training-set mean, and
composition-only models (`betenet.model.baselines`: ridge regression; 5 nearest neighbours).
The ensemble directory is resumable: re-running with the same arguments finishes missing members.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from model_common import CACHE, load_average

from betenet.dataset.format import read_dataset
from betenet.model.baselines import composition_features, knn_predictor, ridge_predictor
from betenet.model.ensemble_training import train_ensemble
from betenet.model.training_set import training_set_from_dataset
from betenet.model.training import TrainingConfig

JARVIS = Path(__file__).resolve().parents[2] / "shared" / "data" / "jarvis_supercon" / "jarvis_supercon.jsonl"
LABELS = (("lambda_", "λ"), ("omega_log_K", "ω_log (K)"), ("tc_K", "Tc (K)"))


def jarvis_dataset():
    from betenet.dataset.jarvis import import_jarvis

    directory = CACHE / "jarvis_dataset"
    if (directory / "manifest.json").is_file():
        return read_dataset(directory)
    return import_jarvis(JARVIS, directory)


def mae(pred, true) -> float:
    return float(np.mean(np.abs(np.asarray(pred) - np.asarray(true))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--max-epochs", type=int, default=1000)
    parser.add_argument("--patience", type=int, nargs=3, default=(15, 500, 5000),
                        metavar=("DESCENT", "HUMP", "SECOND"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=CACHE / "jarvis_ensemble")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    dataset = jarvis_dataset()
    train_records = dataset.with_split("train")
    val_records = dataset.with_split("val")
    print(f"JARVIS: {len(train_records)} train, {len(val_records)} val rows; load average {load_average()}")

    data = training_set_from_dataset(dataset, "CSO", splits=("train",), cache_dir=CACHE)
    training = TrainingConfig(max_epochs=args.max_epochs, patience_descent=args.patience[0],
                              patience_hump=args.patience[1], patience_second=args.patience[2], dtype=args.dtype)
    ensemble = train_ensemble(args.out, data, variant="CSO", training=training, n_members=args.members,
                              seed=args.seed, workers=args.workers, threads=args.threads)
    metrics = json.loads((args.out / "metrics.json").read_text())
    print(f"ensemble: {len(ensemble.members)} members, epochs run mean {metrics['epochs_run_mean']:.0f} "
          f"(cap {args.max_epochs}, {metrics['stopped_by_cap']} stopped by the cap), patience {args.patience}, "
          f"training wall time summed over members {metrics['train_wall_s_total'] / 60:.1f} min")

    from betenet.dataset.format import Dataset

    val_set = Dataset(dataset.directory, dataset.manifest, tuple(val_records))
    prediction = ensemble.predict(val_set)
    truth = {key: np.array([getattr(r, key) for r in val_records]) for key, _ in LABELS}
    predicted = {"lambda_": prediction.lambda_, "omega_log_K": prediction.omega_log_K, "tc_K": prediction.tc_K}

    x_train = composition_features([r.formula for r in train_records])
    x_val = composition_features([r.formula for r in val_records])
    rows = []
    for key, label in LABELS:
        y_train = np.array([getattr(r, key) for r in train_records])
        rows.append((label, mae(predicted[key], truth[key]), mae(np.full(len(val_records), y_train.mean()), truth[key]),
                     mae(ridge_predictor(x_train, y_train, x_val), truth[key]),
                     mae(knn_predictor(x_train, y_train, x_val), truth[key])))
    print(f"\nMAE on the {len(val_records)} val rows")
    print(f"{'label':12s} {'BETE-NET CSO':>13s} {'train mean':>11s} {'ridge(comp)':>12s} {'5-NN(comp)':>11s}")
    for label, *values in rows:
        print(f"{label:12s} " + " ".join(f"{v:>12.3f}" for v in values))
    spread = np.mean(prediction.lambda_std)
    print(f"\nmean member spread of λ on val: {spread:.3f}; load average {load_average()}")


if __name__ == "__main__":
    main()
