"""Ensemble output → per-structure predictions: α²F mean ± spread, λ, ω_log, ω₂, Tc ± spread.

The seed's convention: the prediction is the mean α²F of the members and the moments and Tc are
computed from that mean (bins 1..50 of the model grid); the uncertainty is the spread (standard
deviation) of the same numbers computed member by member. Where a spectrum has no weight (λ = 0),
ω_log and ω₂ are undefined and reported as null, and Allen–Dynes gives Tc = 0 K.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from betenet.physics import (
    DEFAULT_MU_STAR,
    MEV_PER_K,
    MODEL_GRID_MEV,
    allen_dynes_tc,
    lambda_from_a2f,
    omega_2_from_a2f,
    omega_log_from_a2f,
)

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


def moments_51(a2f: np.ndarray, mu_star: float) -> dict[str, np.ndarray]:
    """λ, ω_log (K), ω₂ (K), Tc (K) of α²F rows on the model grid (bins 1..50), NaN where undefined."""
    a2f = np.atleast_2d(np.asarray(a2f, dtype=float))
    lam = lambda_from_a2f(MODEL_GRID_MEV, a2f, first_bin=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        omega_log = np.where(lam > 0, omega_log_from_a2f(MODEL_GRID_MEV, a2f, first_bin=1), np.nan) / MEV_PER_K
        omega_2 = np.where(lam > 0, omega_2_from_a2f(MODEL_GRID_MEV, a2f, first_bin=1), np.nan) / MEV_PER_K
        safe = lam > 0
        tc = np.zeros_like(lam)
        if safe.any():
            tc[safe] = allen_dynes_tc(lam[safe], omega_log[safe], omega_2[safe], mu_star)
    return {"lambda": lam, "omega_log_K": omega_log, "omega_2_K": omega_2, "tc_K": tc}


def summarise(member_a2f: np.ndarray, candidates, mu_star: float = DEFAULT_MU_STAR) -> list[Prediction]:
    """`member_a2f`: (n_members, n_structures, 51) from the ensemble, candidates in the same order."""
    member_a2f = np.asarray(member_a2f, dtype=float)
    if member_a2f.ndim != 3 or member_a2f.shape[1] != len(candidates) or member_a2f.shape[2] != MODEL_GRID_MEV.size:
        raise ValueError(f"member α²F of shape {member_a2f.shape}; expected (members, {len(candidates)}, "
                         f"{MODEL_GRID_MEV.size})")
    mean = member_a2f.mean(axis=0)
    std = member_a2f.std(axis=0)
    of_mean = moments_51(mean, mu_star)
    n_members, n = member_a2f.shape[:2]
    per_member = moments_51(member_a2f.reshape(n_members * n, -1), mu_star)
    per_member = {k: v.reshape(n_members, n) for k, v in per_member.items()}
    predictions = []
    for j, candidate in enumerate(candidates):
        values = {k: _number(of_mean[k][j]) for k in SCALARS}
        spread = {k: _spread(per_member[k][:, j]) for k in SCALARS}
        predictions.append(Prediction(
            id=candidate.id, formula=candidate.formula, n_atoms=len(candidate.atoms), source=candidate.source,
            a2f_mean=tuple(mean[j].tolist()), a2f_std=tuple(std[j].tolist()), values=values, spread=spread,
            mu_star=mu_star, n_members=n_members, labels=candidate.labels,
        ))
    return predictions


def _number(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _spread(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.std()) if finite.size else None


def rank_by_tc(predictions: list[Prediction]) -> list[Prediction]:
    """Highest predicted Tc first; ties broken by the smaller spread, then by id."""
    return sorted(predictions, key=lambda p: (-(p.values["tc_K"] or 0.0), p.spread["tc_K"] or 0.0, p.id))


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
