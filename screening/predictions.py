"""Ensemble output → per-structure rows: α²F mean ± spread, λ, ω_log, ω₂, Tc ± spread.

The numbers come from `betenet.model.ensemble.Ensemble.predict` (the seed's convention: moments and
Tc of the mean α²F, the members' spread as uncertainty); this module attaches each to its input
(formula, source, DFT labels), ranks them and writes CSV/JSON. Values the model leaves undefined
(ω_log, ω₂, Tc where the predicted λ is 0) become null, never a placeholder number.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from betenet.physics import MODEL_GRID_MEV

SCALARS = ("lambda", "omega_log_K", "omega_2_K", "tc_K")
CSV_COLUMNS = ("rank", "id", "formula", "n_atoms", "lambda", "lambda_std", "omega_log_K", "omega_log_K_std",
               "omega_2_K", "omega_2_K_std", "tc_K", "tc_K_std", "source")


@dataclass(frozen=True)
class Prediction:
    """One structure's prediction. Moments of the mean α²F; `*_std` = spread over the members."""

    id: str
    formula: str
    n_atoms: int
    source: str
    a2f_mean: tuple[float, ...]
    a2f_std: tuple[float, ...]
    values: dict[str, float | None]  # lambda, omega_log_K, omega_2_K, tc_K
    spread: dict[str, float | None]
    mu_star: float
    n_members: int
    labels: dict[str, float | None] | None = None

    def row(self) -> dict:
        """Flat scalars (CSV, store, evaluation)."""
        row = {"id": self.id, "formula": self.formula, "n_atoms": self.n_atoms, "source": self.source}
        for name in SCALARS:
            row[name] = self.values[name]
            row[f"{name}_std"] = self.spread[name]
        return row

    def to_json(self) -> dict:
        return {**self.row(), "mu_star": self.mu_star, "n_members": self.n_members,
                "omega_meV": MODEL_GRID_MEV.tolist(), "a2f_mean": list(self.a2f_mean),
                "a2f_std": list(self.a2f_std), "dft": self.labels}


def to_document(prediction: Prediction, ensemble, structure_fingerprint: str, calc_id: str | None = None):
    """The store's `PredictionDoc` of one prediction by `ensemble` (a `betenet.model.ensemble.Ensemble`)."""
    from betenet.store.predictions import PredictionDoc

    values, spread = prediction.values, prediction.spread
    return PredictionDoc(
        prediction_id=f"{ensemble.id}:{prediction.id}", structure_id=prediction.id, formula=prediction.formula,
        n_atoms=prediction.n_atoms, source=prediction.source, ensemble_id=ensemble.id,
        dataset_hash=ensemble.dataset_hash, variant=ensemble.variant, n_members=prediction.n_members,
        mu_star=prediction.mu_star, omega_meV=MODEL_GRID_MEV.tolist(), a2f_mean=list(prediction.a2f_mean),
        a2f_std=list(prediction.a2f_std), lambda_=values["lambda"], lambda_std=spread["lambda"],
        omega_log_K=values["omega_log_K"], omega_log_K_std=spread["omega_log_K"], omega_2_K=values["omega_2_K"],
        omega_2_K_std=spread["omega_2_K"], tc_K=values["tc_K"], tc_K_std=spread["tc_K"], dft=prediction.labels,
        structure_fingerprint=structure_fingerprint, calc_id=calc_id,
    )


def from_model(prediction, candidates) -> list[Prediction]:
    """Rows of a `betenet.model.ensemble.Prediction` for `candidates` (in the order predicted)."""
    by_id = {c.id: c for c in candidates}
    if list(prediction.ids) != [c.id for c in candidates]:
        raise ValueError("the ensemble's prediction is not in the order of the candidates")
    rows = []
    for g, ident in enumerate(prediction.ids):
        candidate = by_id[ident]
        values = {k: _number(getattr(prediction, _ATTR[k])[g]) for k in SCALARS}
        spread = {k: _number(getattr(prediction, f"{_ATTR[k].rstrip('_')}_std")[g]) for k in SCALARS}
        rows.append(Prediction(
            id=ident, formula=candidate.formula, n_atoms=len(candidate.atoms), source=candidate.source,
            a2f_mean=tuple(np.asarray(prediction.a2f[g], dtype=float).tolist()),
            a2f_std=tuple(np.asarray(prediction.a2f_std[g], dtype=float).tolist()),
            values=values, spread=spread, mu_star=float(prediction.mu_star), n_members=int(prediction.n_members),
            labels=candidate.labels,
        ))
    return rows


_ATTR = {"lambda": "lambda_", "omega_log_K": "omega_log_K", "omega_2_K": "omega_2_K", "tc_K": "tc_K"}


def _number(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def rank_by_tc(predictions: list[Prediction]) -> list[Prediction]:
    """Highest predicted Tc first (undefined Tc last); ties broken by the smaller spread, then by id."""
    def key(p: Prediction):
        tc, spread = p.values["tc_K"], p.spread["tc_K"]
        return (tc is None, -(tc or 0.0), spread if spread is not None else math.inf, p.id)

    return sorted(predictions, key=key)


def write_csv(predictions: list[Prediction], path: Path) -> None:
    with Path(path).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for rank, prediction in enumerate(predictions, start=1):
            row = prediction.row()
            writer.writerow({"rank": rank, **{k: _csv(row[k]) for k in CSV_COLUMNS if k != "rank"}})


def _csv(value):
    return "" if value is None else (f"{value:.6g}" if isinstance(value, float) else value)


def write_json(predictions: list[Prediction], path: Path, rejected=(), meta: dict | None = None) -> None:
    payload = {**(meta or {}), "predictions": [p.to_json() for p in predictions],
               "rejected": [{"id": r.id, "source": r.source, "reason": r.reason} for r in rejected]}
    Path(path).write_text(json.dumps(payload, indent=1) + "\n")
