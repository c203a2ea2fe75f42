"""How good are the predictions: regression metrics per quantity and a screening score.

`evaluate(predicted, labels)` compares predicted λ, ω_log, ω₂, Tc (Allen–Dynes, and Eliashberg: only where
both lie above the solver's 0.1 K floor, so its n is smaller) with DFT labels (only where both exist) —
MAE, RMSE, R² — and scores the Tc ranking as a screening would use it: the average precision
of "Tc ≥ threshold" ranked by predicted Tc, next to what a random ranking gets on average (the
fraction of positives). `write_report` saves the numbers as JSON and parity plots as PNG.

`accuracy_scores` is the held-out accuracy protocol's score of one predictor on one split (arrays in the
split's row order): MAE of λ, ω_log, Tc, Spearman ρ of Tc, the average precision of Tc > 5 K beside the
split's base rate, and — for a predictor with an uncertainty — the coverage of its ±1σ band.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

QUANTITIES = ("lambda", "omega_log_K", "omega_2_K", "tc_K", "tc_eliashberg_K")
LABELS = {"lambda": "λ", "omega_log_K": "ω_log (K)", "omega_2_K": "ω₂ (K)", "tc_K": "Tc (K)",
          "tc_eliashberg_K": "Eliashberg Tc (K)"}


@dataclass(frozen=True)
class RegressionMetrics:
    n: int
    mae: float
    rmse: float
    r2: float | None  # None when the labels have no spread (R² undefined)


@dataclass(frozen=True)
class ScreeningScore:
    tc_threshold_K: float
    n: int
    n_positive: int
    average_precision: float | None  # None without positives (nothing to find)
    random_average_precision: float  # expected AP of a random ranking = fraction of positives


@dataclass(frozen=True)
class EvaluationReport:
    metrics: dict[str, RegressionMetrics]
    screening: ScreeningScore
    ids: tuple[str, ...]

    def to_json(self) -> dict:
        return {"metrics": {k: asdict(v) for k, v in self.metrics.items()},
                "screening": asdict(self.screening), "n_compared": len(self.ids)}


def regression_metrics(y_true, y_pred) -> RegressionMetrics:
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"labels {y_true.shape} and predictions {y_pred.shape} must be 1-D of one length")
    if y_true.size == 0:
        raise ValueError("no (label, prediction) pairs to compare")
    error = y_pred - y_true
    spread = float(np.sum((y_true - y_true.mean()) ** 2))
    r2 = 1.0 - float(np.sum(error**2)) / spread if spread > 0 else None
    return RegressionMetrics(n=int(y_true.size), mae=float(np.mean(np.abs(error))),
                             rmse=float(np.sqrt(np.mean(error**2))), r2=r2)


def average_precision(positive, score) -> float | None:
    """Mean of the precision at the rank of each positive, ranking by descending score.

    Tied scores are ranked pessimistically (negatives first), so a constant predictor gets no credit.
    """
    positive, score = np.asarray(positive, dtype=bool), np.asarray(score, dtype=float)
    if positive.shape != score.shape:
        raise ValueError(f"{positive.shape} labels for {score.shape} scores")
    if not positive.any():
        return None
    order = np.lexsort((positive, -score))  # by score descending, then negatives before positives
    hits = positive[order]
    precision_at_hit = np.cumsum(hits)[hits] / (np.nonzero(hits)[0] + 1)
    return float(precision_at_hit.mean())


def evaluate(predicted: Mapping[str, Mapping[str, float | None]], labels: Mapping[str, Mapping[str, float | None]],
             tc_threshold_K: float = 5.0) -> EvaluationReport:
    """`predicted` / `labels`: id → {quantity: value}; ids present in both are compared."""
    ids = tuple(sorted(set(predicted) & set(labels)))
    if not ids:
        raise ValueError("no id has both a prediction and a label: are the labels for these structures?")
    metrics = {}
    for quantity in QUANTITIES:
        pairs = [(labels[i].get(quantity), predicted[i].get(quantity)) for i in ids]
        pairs = [(t, p) for t, p in pairs if _finite(t) and _finite(p)]
        if pairs:
            metrics[quantity] = regression_metrics(*zip(*pairs))
    tc = [(labels[i].get("tc_K"), predicted[i].get("tc_K")) for i in ids]
    tc = [(t, p) for t, p in tc if _finite(t) and _finite(p)]
    positive = np.array([t >= tc_threshold_K for t, _ in tc], dtype=bool)
    score = np.array([p for _, p in tc], dtype=float)
    screening = ScreeningScore(
        tc_threshold_K=tc_threshold_K, n=len(tc), n_positive=int(positive.sum()),
        average_precision=average_precision(positive, score) if tc else None,
        random_average_precision=float(positive.mean()) if tc else 0.0,
    )
    return EvaluationReport(metrics=metrics, screening=screening, ids=ids)


ACCURACY_LABELS = ("lambda", "omega_log_K", "tc_K")


def spearman(x, y) -> float | None:
    """Spearman rank correlation (ties: average ranks); None when either side is constant."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(spearmanr(x, y).statistic)


def band_coverage(y_true, y_pred, y_std) -> float:
    """Fraction of rows whose error lies within the ±1σ band (|error| ≤ σ)."""
    y_true, y_pred, y_std = (np.asarray(v, dtype=float) for v in (y_true, y_pred, y_std))
    return float(np.mean(np.abs(y_pred - y_true) <= y_std))


def accuracy_scores(truth: Mapping[str, np.ndarray], predicted: Mapping[str, np.ndarray],
                    std: Mapping[str, np.ndarray] | None = None, tc_threshold_K: float = 5.0) -> dict:
    """Scores of one predictor on one split; every array in the same row order, `ACCURACY_LABELS` keys.

    A non-finite prediction (ω_log where the predicted λ is 0) counts as the worst case it can be:
    the row's error is taken against the training-free value 0 — so a model cannot improve its MAE by
    predicting nothing. Tc > `tc_threshold_K` positives are ranked by predicted Tc.
    """
    scores: dict = {"n": int(len(truth["tc_K"]))}
    for label in ACCURACY_LABELS:
        y, p = np.asarray(truth[label], dtype=float), np.nan_to_num(np.asarray(predicted[label], dtype=float))
        scores[f"mae_{label}"] = float(np.mean(np.abs(p - y)))
        if std is not None:
            scores[f"coverage_{label}"] = band_coverage(y, p, np.nan_to_num(std[label], nan=0.0))
    tc_true, tc_pred = np.asarray(truth["tc_K"], dtype=float), np.nan_to_num(np.asarray(predicted["tc_K"], dtype=float))
    positive = tc_true > tc_threshold_K
    scores["spearman_tc"] = spearman(tc_true, tc_pred)
    scores["average_precision_tc"] = average_precision(positive, tc_pred)
    scores["base_rate_tc"] = float(positive.mean())
    return scores


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def write_report(report: EvaluationReport, predicted, labels, directory: Path | str) -> list[Path]:
    """`evaluation.json` + one parity plot per quantity (`parity_<quantity>.png`); returns the paths."""
    from betenet.screening.plots import parity_plot

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "evaluation.json"]
    written[0].write_text(json.dumps(report.to_json(), indent=2) + "\n")
    for quantity, metrics in report.metrics.items():
        pairs = [(labels[i][quantity], predicted[i][quantity], predicted[i].get(f"{quantity}_std"))
                 for i in report.ids if _finite(labels[i].get(quantity)) and _finite(predicted[i].get(quantity))]
        true, pred, std = zip(*pairs)
        path = directory / f"parity_{quantity}.png"
        parity_plot(true, pred, std, LABELS[quantity], metrics, path)
        written.append(path)
    return written
