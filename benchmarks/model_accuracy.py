"""Held-out accuracy of BETE-NET on the shared JARVIS set: the protocol table and the ablation table.

    # baselines on every split of the protocol (seconds)
    .venv/bin/python benchmarks/model_accuracy.py baselines
    # ablation: each configuration on the k grouped folds (resumable; one JSON line per configuration × fold)
    .venv/bin/python benchmarks/model_accuracy.py ablation --members 3 --max-epochs 120 --results R.jsonl
    # the ablation table from the results file alone (trains nothing)
    .venv/bin/python benchmarks/model_accuracy.py table --results R.jsonl
    # one configuration on the grouped held-out split (calibrated) and the leaderboard val rows
    .venv/bin/python benchmarks/model_accuracy.py protocol --config "compact, batch 32, Tc weight 3" --members 4

`--max-epochs` is the cap of the configurations that do not set their own (the full-batch ones).

Splits, scores and baselines: `betenet.screening.accuracy`. Everything runs on one torch thread.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from model_common import CACHE, load_average
from model_jarvis import jarvis_dataset
from model_pretrained_features import KINDS as FEATURE_KINDS
from model_pretrained_features import node_features

from betenet.model.loss import LossConfig
from betenet.model.presets import preset_network
from betenet.model.training import TrainingConfig
from betenet.screening.accuracy import (COVERAGE_COLUMNS, HOLDOUT, LEADERBOARD, SCORE_COLUMNS, baseline_scores,
                                        ensemble_scores, protocol_splits, scores_header, scores_row, split_summary)

# name → (network preset and overrides, TrainingConfig overrides); patience as in model_jarvis's runs
# ≈ 15 steps per epoch; the kept model comes from epoch ≈ 13 (the validation loss rises after), so cap 40
MINI = {"batch_size": 32, "max_epochs": 40}
CONFIGS = {
    "compact": (("compact", {}), {}),
    "compact, batch 32": (("compact", {}), {**MINI, "max_epochs": 60}),
    "seed": (("seed", {}), {}),
    "compact, batch 32, wd 1": (("compact", {}), {**MINI, "weight_decay": 1.0}),
    "small (mul 4, em 16, radial 16), batch 32": (("compact", {"mul": 4, "em_dim": 16, "radial_neurons": 16}), MINI),
    "compact, batch 32, Tc weight 3": (("compact", {}), {**MINI, "loss": LossConfig(tc_weight=3.0)}),
    "mid (mul 16, radial 64), batch 32": (("compact", {"mul": 16, "radial_neurons": 64}), MINI),
    "compact, batch 32, cosine": (("compact", {}), {**MINI, "lr_schedule": "cosine"}),
    "mid (mul 16, radial 64), batch 32, Tc weight 3": (("compact", {"mul": 16, "radial_neurons": 64}),
                                                       {**MINI, "loss": LossConfig(tc_weight=3.0)}),
    "compact 1 layer, batch 32": (("compact", {"layers": 1}), MINI),
    "compact, wd 1": (("compact", {}), {"weight_decay": 1.0}),
    "compact, cosine": (("compact", {}), {"lr_schedule": "cosine"}),
    "compact, batch 32, Tc weight 3, dropout 0.2": (("compact", {"dropout": 0.2}),
                                                    {**MINI, "loss": LossConfig(tc_weight=3.0)}),
    # the seed's tempered patience (15/500/5000) with a longer cap
    "compact, seed patience, cap 360": (("compact", {}), {"max_epochs": 360, "patience_descent": 15,
                                                          "patience_hump": 500, "patience_second": 5000}),
}
# pretrained node features of CHGNet (benchmarks/model_pretrained_features.py) on the default's settings
DEFAULT_CONFIG = "compact, batch 32, Tc weight 3"
FEATURES = {f"{kind}, batch 32, Tc weight 3": kind for kind in FEATURE_KINDS}
CONFIGS.update({name: CONFIGS[DEFAULT_CONFIG] for name in FEATURES})
PATIENCE = dict(patience_descent=15, patience_hump=100, patience_second=200)


def configuration(name: str, max_epochs: int):
    (preset, overrides), training = CONFIGS[name]
    return (preset_network(preset, variant="CSO", **overrides),
            TrainingConfig(**{"max_epochs": max_epochs, **PATIENCE, **training}))


def features_of(name: str, dataset):
    """The context in which configuration `name` trains: its pretrained node features, or the one-hot."""
    kind = FEATURES.get(name)
    return node_features(kind, dataset, CACHE) if kind else contextlib.nullcontext()


def row(name: str, scores: list[dict], extra: tuple = ()) -> str:
    return scores_row(name, scores, SCORE_COLUMNS + extra)


def header(extra: tuple = ()) -> str:
    return scores_header(SCORE_COLUMNS + extra)


def baselines_table(args, dataset, records, splits) -> None:
    for split in splits:
        print(f"\n{split_summary(split, records)}\n{header()}")
        for name, scores in baseline_scores(records, split).items():
            print(row(name, [scores]))
    folds = [s for s in splits if s.name.startswith("fold")]
    print(f"\n{len(folds)} grouped folds, mean ± standard error over the folds\n{header()}")
    print_fold_baselines(records, folds)


def print_fold_baselines(records, folds) -> None:
    """One row per baseline: its scores' mean ± standard error over the folds."""
    per_fold = [baseline_scores(records, s) for s in folds]
    for name in per_fold[0]:
        print(row(name, [f[name] for f in per_fold]))


def _done(results: Path) -> dict:
    """(configuration, split) → its entry of the results file (a rerun's line replaces an earlier one)."""
    done = {}
    if results.is_file():
        for line in results.read_text().splitlines():
            entry = json.loads(line)
            done[(entry["config"], entry["split"])] = entry
    return done


def table(args, dataset, records, splits) -> None:
    done = _done(args.results)
    names = [name for name in CONFIGS if any(key[0] == name for key in done)]
    print_ablation(done, names, [s for s in splits if s.name.startswith("fold")], records)


def ablation(args, dataset, records, splits) -> None:
    folds = [s for s in splits if s.name.startswith("fold")]
    done = _done(args.results)
    names = args.configs or list(CONFIGS)
    for name in names:
        network, training = configuration(name, args.max_epochs)
        for split in folds:
            if (name, split.name) in done:
                continue
            start = time.perf_counter()
            directory = args.work / name.replace(" ", "_") / split.name.replace(" ", "_")
            with features_of(name, dataset):
                scores = ensemble_scores(dataset, records, split, directory, network, training, args.members,
                                         seed=args.seed, cache_dir=CACHE)
            entry = {"config": name, "split": split.name, "members": args.members, "max_epochs": training.max_epochs,
                     "wall_s": time.perf_counter() - start, "load": load_average(), **scores}
            done[(name, split.name)] = entry
            with args.results.open("a") as handle:
                handle.write(json.dumps(entry) + "\n")
            print(f"{name} / {split.name}: Tc MAE {scores['mae_tc_K']:.2f} K, ρ {scores['spearman_tc']}, "
                  f"{entry['wall_s']:.0f} s", flush=True)
    print_ablation(done, names, folds, records)


def print_ablation(done, names, folds, records) -> None:
    extra = (("coverage_tc_K", "cov ±1σ Tc", 2), ("epochs_run_mean", "epochs", 0), ("kept_epoch_mean", "kept", 0),
             ("wall_s", "wall s", 0))
    print(f"\nablation on {len(folds)} grouped folds (mean ± standard error over folds)\n{header(extra)}")
    print_fold_baselines(records, folds)
    for name in names:
        scores = [done[(name, s.name)] for s in folds if (name, s.name) in done]
        if scores:
            print(row(f"{name} ({len(scores)} folds)", scores, extra))


def protocol(args, dataset, records, splits) -> None:
    network, training = configuration(args.config, args.max_epochs)
    extra = COVERAGE_COLUMNS
    for split in splits:
        if split.name not in (HOLDOUT, LEADERBOARD):
            continue
        directory = args.work / f"protocol_{args.config.replace(' ', '_')}" / split.name.replace(" ", "_")
        start = time.perf_counter()
        with features_of(args.config, dataset):
            scores = ensemble_scores(dataset, records, split, directory, network, training, args.members,
                                     seed=args.seed, cache_dir=CACHE)
        wall = time.perf_counter() - start
        print(f"\n{split_summary(split, records)}; ensemble {args.config}, {args.members} members, cap "
              f"{training.max_epochs} epochs: {wall:.0f} s wall, epochs run {scores['epochs_run_mean']:.0f}, kept "
              f"epoch {scores['kept_epoch_mean']:.0f}, spread scales {scores.get('std_scales')}")
        print(header(extra))
        for name, base in baseline_scores(records, split).items():
            print(row(name, [base], extra))
        print(row(f"BETE-NET {args.config}", [scores], extra))
        with (args.work / "protocol.jsonl").open("a") as handle:
            handle.write(json.dumps({"config": args.config, "split": split.name, "wall_s": wall, **scores}) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("baselines", "ablation", "table", "protocol"))
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=150)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--configs", nargs="*", choices=tuple(CONFIGS), help="ablation: these only")
    parser.add_argument("--config", default="compact", choices=tuple(CONFIGS), help="protocol: this one")
    parser.add_argument("--work", type=Path, default=CACHE / "accuracy")
    parser.add_argument("--results", type=Path, default=CACHE / "accuracy" / "ablation.jsonl")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    dataset = jarvis_dataset()
    records = list(dataset.records)
    splits = protocol_splits(records, k=args.folds, seed=args.seed)
    print(f"JARVIS: {len(records)} materials; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; load "
          f"{load_average()}")
    modes = {"baselines": baselines_table, "ablation": ablation, "table": table, "protocol": protocol}
    modes[args.mode](args, dataset, records, splits)


if __name__ == "__main__":
    main()
