"""Calibrating the ensemble spread: one scale per quantity so that ±(scale·spread) holds the target share
of errors on data the ensemble did not train on.

The raw member spread of a bootstrap ensemble is over-confident on new chemistry (on held-out JARVIS
systems only ≈ 25–30 % of the errors lay within one spread, where a 1σ band should hold ≈ 68 %). The
scale is the `coverage` quantile of |error| / spread over calibration rows — split-conformal in spirit,
with the spread as the per-row width — so on exchangeable data the band holds ≈ `coverage` of the errors.
Rows without a finite prediction or label are not used; a row with zero spread and a nonzero error
needs an infinite scale and counts as such (it pushes the quantile up rather than being dropped).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

# the quantities the scales apply to: evaluation label → Prediction attributes of the value and its spread
CALIBRATED = {"lambda": ("lambda_", "lambda_std"), "omega_log_K": ("omega_log_K", "omega_log_K_std"),
              "tc_K": ("tc_K", "tc_K_std")}
ONE_SIGMA = 0.6827


def record_labels(records) -> dict[str, np.ndarray]:
    """label → the `CALIBRATED` labels of dataset records (NaN where a record has none)."""
    attribute = {"lambda": "lambda_", "omega_log_K": "omega_log_K", "tc_K": "tc_K"}
    return {label: np.array([np.nan if getattr(r, attribute[label]) is None else getattr(r, attribute[label])
                             for r in records], dtype=float) for label in CALIBRATED}


def values_and_spreads(prediction) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """label → predicted values, label → spreads, of a `Prediction`, for the `CALIBRATED` labels."""
    return ({label: getattr(prediction, value) for label, (value, _) in CALIBRATED.items()},
            {label: getattr(prediction, spread) for label, (_, spread) in CALIBRATED.items()})


def fit_std_scales(truth: Mapping[str, np.ndarray], predicted: Mapping[str, np.ndarray],
                   spread: Mapping[str, np.ndarray], coverage: float = ONE_SIGMA) -> dict[str, float]:
    """Scale per `CALIBRATED` label: the `coverage` quantile of |predicted − truth| / spread."""
    if not 0 < coverage < 1:
        raise ValueError(f"Invalid coverage={coverage!r}, must lie strictly between 0 and 1")
    scales = {}
    for label in CALIBRATED:
        y, p, s = (np.asarray(m[label], dtype=float) for m in (truth, predicted, spread))
        usable = np.isfinite(y) & np.isfinite(p) & np.isfinite(s)
        if usable.sum() < 2:
            raise ValueError(f"calibrating {label}: {usable.sum()} usable rows, need at least 2 with a label, "
                             "a prediction and a spread")
        error, s = np.abs(p[usable] - y[usable]), s[usable]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(s > 0, error / s, np.where(error > 0, np.inf, 0.0))
        scale = float(np.quantile(ratio, coverage, method="higher"))
        if not np.isfinite(scale):
            raise ValueError(f"calibrating {label}: more than {1 - coverage:.0%} of the rows have zero spread "
                             "but an error; the ensemble's spread cannot be scaled to cover them")
        scales[label] = scale
    return scales
