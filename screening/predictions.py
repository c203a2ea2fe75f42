"""Ensemble output → per-structure rows: α²F mean ± spread, λ, ω_log, ω₂, Tc (Allen–Dynes, Eliashberg) ± spread.

The numbers come from `betenet.model.ensemble.Ensemble.predict` (the seed's convention: moments and
Tc of the mean α²F, the members' spread as uncertainty); this module attaches each to its input
(formula, source, DFT labels), ranks them by either Tc and writes CSV/JSON. Values the model leaves
undefined (ω_log, ω₂, Tc where the predicted λ is 0; an Eliashberg Tc below the lowest temperature solved,
or its spread where it was not computed) become null, never a placeholder number.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from betenet.physics import MODEL_GRID_MEV

SCALARS = ("lambda", "omega_log_K", "omega_2_K", "tc_K", "tc_eliashberg_K")
CSV_COLUMNS = ("rank", "id", "formula", "n_atoms", "lambda", "lambda_std", "omega_log_K", "omega_log_K_std",
               "omega_2_K", "omega_2_K_std", "tc_K", "tc_K_std", "tc_eliashberg_K", "tc_eliashberg_K_std",
               "tc_eliashberg_below_K", "source")
# --tc-method → the value a screening is ranked by
TC_METHODS = {"allen-dynes": "tc_K", "eliashberg": "tc_eliashberg_K"}


@dataclass(frozen=True)
class Prediction:
    """One structure's prediction. Moments of the mean α²F; `*_std` = spread over the members."""

    id: str
    formula: str
    n_atoms: int
    source: str
    a2f_mean: tuple[float, ...]
    a2f_std: tuple[float, ...]
    values: dict[str, float | None]  # lambda, omega_log_K, omega_2_K, tc_K, tc_eliashberg_K
    spread: dict[str, float | None]
    mu_star: float
    n_members: int
    tc_eliashberg_below_K: float | None  # the Eliashberg Tc lies below this (tc_eliashberg_K is None)
    tc_eliashberg_reason: str | None  # why tc_eliashberg_K is None
    labels: dict[str, float | None] | None = None

    def row(self) -> dict:
        """Flat scalars (CSV, store, evaluation)."""
        row = {"id": self.id, "formula": self.formula, "n_atoms": self.n_atoms, "source": self.source}
        for name in SCALARS:
            row[name] = self.values[name]
            row[f"{name}_std"] = self.spread[name]
        row["tc_eliashberg_below_K"] = self.tc_eliashberg_below_K
        return row

    def tc_eliashberg_text(self, fmt) -> str:
        """`fmt(value, spread)` of the Eliashberg Tc, or '< 0.1' where it lies below the lowest temperature solved."""
        if self.values["tc_eliashberg_K"] is None and self.tc_eliashberg_below_K is not None:
            return f"< {self.tc_eliashberg_below_K:g}"
        return fmt(self.values["tc_eliashberg_K"], self.spread["tc_eliashberg_K"])

    def to_json(self) -> dict:
        return {**self.row(), "tc_eliashberg_reason": self.tc_eliashberg_reason, "mu_star": self.mu_star,
                "n_members": self.n_members,
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
        omega_2_K_std=spread["omega_2_K"], tc_K=values["tc_K"], tc_K_std=spread["tc_K"],
        tc_eliashberg_K=values["tc_eliashberg_K"], tc_eliashberg_K_std=spread["tc_eliashberg_K"],
        tc_eliashberg_below_K=prediction.tc_eliashberg_below_K, tc_eliashberg_reason=prediction.tc_eliashberg_reason,
        dft=prediction.labels,
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
            tc_eliashberg_below_K=_number(prediction.tc_eliashberg_below_K[g]),
            tc_eliashberg_reason=prediction.tc_eliashberg_reason[g], labels=candidate.labels,
        ))
    return rows


_ATTR = {"lambda": "lambda_", "omega_log_K": "omega_log_K", "omega_2_K": "omega_2_K", "tc_K": "tc_K",
         "tc_eliashberg_K": "tc_eliashberg_K"}


def _number(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def check_tc_method(tc_method: str) -> str:
    if tc_method not in TC_METHODS:
        raise ValueError(f"Invalid tc_method={tc_method!r}, use one of {tuple(TC_METHODS)}")
    return tc_method


def rank_by_tc(predictions: list[Prediction], tc_method: str = "allen-dynes") -> list[Prediction]:
    """Highest predicted Tc of `tc_method` first (undefined Tc last). Allen–Dynes ties: the smaller spread
    first. Eliashberg ties (all that lie below the lowest temperature solved among them): the higher
    Allen–Dynes Tc first — its spread is computed after ranking, for the best-ranked only. Then by id."""
    name = TC_METHODS[check_tc_method(tc_method)]

    def key(p: Prediction):
        tc = p.values[name]
        if name == "tc_K":
            spread = p.spread["tc_K"]
            return (tc is None, -(tc or 0.0), spread if spread is not None else math.inf, p.id)
        allen_dynes = p.values["tc_K"]
        return (tc is None, -(tc or 0.0), allen_dynes is None, -(allen_dynes or 0.0), p.id)

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
