"""The held-out accuracy protocol: splits of a labelled dataset, an ensemble trained and scored on each,
always beside the baselines scored on the same rows.

    grouped held-out    a seeded ~20 % of the chemical systems held out (`betenet.model.splits`); of the
                        rest, ~15 % of the systems calibrate the ensemble spread and are not trained on
    leaderboard val     the dataset's `split == "val"` rows, trained on its `"train"` rows
    fold i of k         grouped k-fold over the held-in part of the grouped split (the held-out systems
                        are never seen), so model choices made on the folds cannot leak into the
                        held-out figures

Test rows with an element that no training row has are left out (a CSO network has no embedding for
it; the composition baselines would not know it either) and counted. Scores: `accuracy_scores`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from betenet.dataset.combine import combine_datasets
from betenet.dataset.format import Dataset, DatasetRecord
from betenet.model.baselines import (boosting_predictor, composition_features, knn_predictor, median_predictor,
                                     ridge_predictor)
from betenet.model.calibration import CALIBRATED, record_labels, values_and_spreads
from betenet.model.ensemble_training import train_ensemble
from betenet.model.loss import Targets
from betenet.model.network import NetworkConfig
from betenet.model.splits import chemical_system, elements_of, grouped_holdout, grouped_kfold
from betenet.model.training import TrainingConfig
from betenet.model.training_request import TrainingRequest, calibrate_on_split, request_configs, train_from_dataset
from betenet.model.training_set import TrainingSet, variant_graphs
from betenet.screening.evaluation import ACCURACY_LABELS, accuracy_scores, band_coverage

HOLDOUT = "grouped held-out"
# (score key, column label, digits) of the protocol's tables
SCORE_COLUMNS = (("mae_lambda", "MAE λ", 3), ("mae_omega_log_K", "MAE ω_log K", 1), ("mae_tc_K", "MAE Tc K", 2),
                 ("spearman_tc", "ρ(Tc)", 2), ("average_precision_tc", "AP Tc>5", 2), ("base_rate_tc", "base", 2))
COVERAGE_COLUMNS = (("coverage_lambda", "cov λ", 2), ("coverage_omega_log_K", "cov ω_log", 2),
                    ("coverage_tc_K", "cov Tc", 2), ("calibrated_coverage_lambda", "cal λ", 2),
                    ("calibrated_coverage_omega_log_K", "cal ω_log", 2), ("calibrated_coverage_tc_K", "cal Tc", 2))
LEADERBOARD = "leaderboard val"
_EMPTY = np.zeros(0, dtype=int)


@dataclass(frozen=True)
class ProtocolSplit:
    """Row indices into the protocol's record list."""

    name: str
    train: np.ndarray
    test: np.ndarray
    calibration: np.ndarray = field(default_factory=lambda: _EMPTY)
    n_left_out_unseen: int = 0  # test rows left out: an element absent from the training rows


def _seen_only(name, records, train, test, calibration=_EMPTY) -> ProtocolSplit:
    seen = set().union(*(elements_of(records[i].formula) for i in train))
    keep = np.array([elements_of(records[i].formula) <= seen for i in test], dtype=bool)
    keep_cal = np.array([elements_of(records[i].formula) <= seen for i in calibration], dtype=bool)
    if not keep.any():
        raise ValueError(f"split {name!r}: none of its {len(test)} test rows has only elements of the training rows; "
                         "use more data or another seed")
    return ProtocolSplit(name, np.asarray(train), np.asarray(test)[keep],
                         np.asarray(calibration)[keep_cal] if len(calibration) else _EMPTY,
                         int((~keep).sum()))


def _holdout_rows(records: list[DatasetRecord], holdout_fraction: float, calibration_fraction: float, seed: int):
    """(held-in, fit, calibration, held-out) row indices of the grouped held-out split."""
    labels = record_labels(records)
    if any(r.formula is None for r in records) or any(np.isnan(v).any() for v in labels.values()):
        raise ValueError("the accuracy protocol needs records with a formula and λ, ω_log and Tc labels")
    groups = np.array([chemical_system(r.formula) for r in records])
    held_in, held_out = grouped_holdout(groups, holdout_fraction, seed)
    fit, calibration = grouped_holdout(groups[held_in], calibration_fraction, seed + 1)
    return held_in, held_in[fit], held_in[calibration], held_out


def holdout_split(records: Sequence[DatasetRecord], *, holdout_fraction: float = 0.2,
                  calibration_fraction: float = 0.15, seed: int = 0) -> ProtocolSplit:
    """The grouped held-out split: ~`holdout_fraction` of the chemical systems for testing, of the rest
    ~`calibration_fraction` of the systems to calibrate the spread (not trained on)."""
    records = list(records)
    _, fit, calibration, held_out = _holdout_rows(records, holdout_fraction, calibration_fraction, seed)
    return _seen_only(HOLDOUT, records, fit, held_out, calibration)


def split_names(split: ProtocolSplit, n_records: int) -> list[str | None]:
    """Each row's dataset split under `split`: train, val (calibration), test, or None (a test row left out
    because one of its elements has no training row)."""
    names: list[str | None] = [None] * n_records
    for name, rows in (("train", split.train), ("val", split.calibration), ("test", split.test)):
        for i in rows:
            names[i] = name
    return names


def protocol_splits(records: Sequence[DatasetRecord], *, holdout_fraction: float = 0.2,
                    calibration_fraction: float = 0.15, k: int = 3, seed: int = 0) -> list[ProtocolSplit]:
    """The grouped held-out split, the leaderboard val split (when the records have one) and the k
    grouped folds of the held-in part, in that order."""
    records = list(records)
    held_in, fit, calibration, held_out = _holdout_rows(records, holdout_fraction, calibration_fraction, seed)
    splits = [_seen_only(HOLDOUT, records, fit, held_out, calibration)]
    train = np.flatnonzero([r.split == "train" for r in records])
    val = np.flatnonzero([r.split == "val" for r in records])
    if len(train) and len(val):
        splits.append(_seen_only(LEADERBOARD, records, train, val))
    return splits + grouped_folds(records, k, seed, rows=held_in)


def grouped_folds(records: Sequence[DatasetRecord], k: int = 3, seed: int = 0,
                  rows: np.ndarray | None = None) -> list[ProtocolSplit]:
    """k folds grouped by chemical system over `rows` (default: every record), test rows seen-only."""
    records = list(records)
    rows = np.arange(len(records)) if rows is None else np.asarray(rows)
    groups = np.array([chemical_system(records[i].formula) for i in rows])
    return [_seen_only(f"fold {f + 1} of {k}", records, rows[fold_train], rows[fold_test])
            for f, (fold_train, fold_test) in enumerate(grouped_kfold(groups, k, seed))]


def split_summary(split: ProtocolSplit, records: Sequence[DatasetRecord]) -> str:
    tc = record_labels([records[i] for i in split.test])["tc_K"]
    text = (f"{split.name}: {len(split.train)} train, {len(split.test)} test rows (Tc > 5 K base rate "
            f"{np.mean(tc > 5):.2f})")
    if len(split.calibration):
        text += f", {len(split.calibration)} calibration rows"
    if split.n_left_out_unseen:
        text += f", {split.n_left_out_unseen} test rows left out (element not in training)"
    return text


def baseline_scores(records: Sequence[DatasetRecord], split: ProtocolSplit, k_neighbours: int = 5,
                    ridge_alpha: float = 1.0) -> dict[str, dict]:
    """Scores of the training median, composition kNN, ridge and gradient boosting on the split's test rows."""
    train = [records[i] for i in split.train]
    test = [records[i] for i in split.test]
    x_train = composition_features([r.formula for r in train])
    x_test = composition_features([r.formula for r in test])
    y_train, truth = record_labels(train), record_labels(test)
    predictors = {
        "training median": lambda y: median_predictor(y, len(test)),
        f"composition {k_neighbours}-NN": lambda y: knn_predictor(x_train, y, x_test, k_neighbours),
        "composition ridge": lambda y: ridge_predictor(x_train, y, x_test, ridge_alpha),
        "composition boosting": lambda y: boosting_predictor(x_train, y, x_test),
    }
    return {name: accuracy_scores(truth, {label: predict(y_train[label]) for label in ACCURACY_LABELS})
            for name, predict in predictors.items()}


def _training_set(dataset: Dataset, records: Sequence[DatasetRecord], network: NetworkConfig, cache_dir):
    graphs = variant_graphs(dataset, network.variant, network.r_max, cache_dir, records)
    return graphs, TrainingSet(graphs, Targets.from_records(records, torch.float64), dataset.content_hash,
                               dataset.manifest.source)


def ensemble_scores(dataset: Dataset, records: Sequence[DatasetRecord], split: ProtocolSplit, directory: Path,
                    network: NetworkConfig, training: TrainingConfig, n_members: int, seed: int = 0,
                    cache_dir: Path | None = None) -> dict:
    """Train (or finish) an ensemble on the split's training rows in `directory`, calibrate it on the
    calibration rows when the split has them, and score it on the test rows (`held_out_scores`)."""
    _, data = _training_set(dataset, [records[i] for i in split.train], network, cache_dir)
    ensemble = train_ensemble(directory, data, network=network, training=training, n_members=n_members,
                              seed=seed, workers=1, threads=1, progress=False)
    if len(split.calibration):
        calibration = [records[i] for i in split.calibration]
        calibration_graphs, _ = _training_set(dataset, calibration, network, cache_dir)
        ensemble.calibrate(calibration_graphs, record_labels(calibration))
    return held_out_scores(ensemble, dataset, [records[i] for i in split.test], network, cache_dir)


def held_out_scores(ensemble, dataset: Dataset, test: Sequence[DatasetRecord], network: NetworkConfig,
                    cache_dir: Path | None = None) -> dict:
    """Scores of a trained ensemble on `test` (raw spread coverage always; calibrated coverage when it has
    spread scales), with the members' summed training wall time (s), the mean epochs run and the mean epoch of
    the kept models."""
    test_graphs, _ = _training_set(dataset, test, network, cache_dir)
    raw = ensemble.predict(test_graphs, calibrated=False)
    truth = record_labels(test)
    predicted, spread = values_and_spreads(raw)
    scores = accuracy_scores(truth, predicted, spread)
    if ensemble.std_scales is not None:
        _, calibrated_spread = values_and_spreads(ensemble.predict(test_graphs))
        for label in CALIBRATED:
            scores[f"calibrated_coverage_{label}"] = band_coverage(
                truth[label], np.nan_to_num(predicted[label]), np.nan_to_num(calibrated_spread[label]))
        scores["std_scales"] = ensemble.std_scales
    scores["train_wall_s"] = float(sum(m["wall_s"] for m in ensemble.members))  # summed over members
    scores["epochs_run_mean"] = float(np.mean([m["epochs_run"] for m in ensemble.members]))
    scores["kept_epoch_mean"] = float(np.mean([m["kept_epoch"] for m in ensemble.members]))
    return scores


def scores_header(columns: tuple = SCORE_COLUMNS) -> str:
    names = [label for _, label, _ in columns]
    return "| predictor | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names)


def scores_row(name: str, scores: list[dict], columns: tuple = SCORE_COLUMNS) -> str:
    """One markdown row: a single split's scores, or mean ± standard error over several (folds); — if absent."""
    cells = []
    for key, _, digits in columns:
        values = np.array([s[key] for s in scores if s.get(key) is not None], dtype=float)
        if values.size == 0:
            cells.append("—")
        elif values.size == 1:
            cells.append(f"{values[0]:.{digits}f}")
        else:
            cells.append(f"{values.mean():.{digits}f} ± {values.std(ddof=1) / np.sqrt(values.size):.{digits}f}")
    return f"| {name} | " + " | ".join(cells) + " |"


@dataclass
class HoldoutEvaluation:
    """An ensemble trained, calibrated and scored on the grouped held-out split, beside the baselines."""

    split: ProtocolSplit
    summary: str
    ensemble: dict
    baselines: dict[str, dict]

    def table(self, name: str = "BETE-NET ensemble") -> list[str]:
        columns = SCORE_COLUMNS + COVERAGE_COLUMNS
        rows = [scores_header(columns)]
        rows += [scores_row(base, [scores], columns) for base, scores in self.baselines.items()]
        return rows + [scores_row(name, [self.ensemble], columns)]

    def to_json(self) -> dict:
        return {"split": self.summary, "ensemble": self.ensemble, "baselines": self.baselines,
                "n_train": len(self.split.train), "n_calibration": len(self.split.calibration),
                "n_test": len(self.split.test), "n_left_out_unseen": self.split.n_left_out_unseen}


def holdout_dataset(out: Path, datasets: Sequence[Dataset], *, seed: int = 0, overwrite: bool = False) -> Dataset:
    """`datasets` combined into one at `out`, each row's split that of the grouped held-out split over all rows
    (train / val = calibration / test / None = a test row with an element no training row has)."""
    records = [r for dataset in datasets for r in dataset.records]
    names = split_names(holdout_split(records, seed=seed), len(records))
    return combine_datasets(out, datasets, split_of=lambda i, _: names[i], overwrite=overwrite)


def evaluate_on_holdout(dataset: Dataset, directory: Path, request: TrainingRequest,
                        progress: bool = False) -> HoldoutEvaluation:
    """Train (or finish) the request's ensemble in `directory` on the `train` rows of a `holdout_dataset`,
    calibrate it on the `val` rows, score it on the `test` rows beside the baselines on the same rows."""
    records = list(dataset.records)
    split = holdout_split(records, seed=request.seed)
    if split_names(split, len(records)) != [r.split for r in records]:
        raise ValueError(f"{dataset.directory}: its splits are not the grouped held-out split of seed "
                         f"{request.seed}; build it with holdout_dataset")
    ensemble = train_from_dataset(dataset, directory, replace(request, splits=("train",), calibrate_on=None),
                                  progress=progress)
    calibration_error = None
    try:
        calibrate_on_split(ensemble, dataset, "val", directory / "graph-cache")
    except ValueError as err:  # e.g. most calibration rows with zero spread: keep the raw spread, say why
        calibration_error = str(err)
    network, _ = request_configs(request)
    scores = held_out_scores(ensemble, dataset, [records[i] for i in split.test], network, directory / "graph-cache")
    if calibration_error:
        scores["calibration_error"] = calibration_error
    return HoldoutEvaluation(split, split_summary(split, records), scores, baseline_scores(records, split))
