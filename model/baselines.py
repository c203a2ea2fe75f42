"""What a model must beat: predictors that know only the composition, or nothing at all.

    median       the training labels' median, for every material
    kNN          mean label of the k nearest training compositions (standardised features below)
    ridge        linear regression on the same features with an L2 penalty
    boosting     gradient-boosted trees on the same features (scikit-learn's histogram GBM, absolute-error
                 loss): the strongest composition-only predictor tried here, so a structure model that does
                 not beat it has learned nothing a formula does not already say

Features of a formula: its element fractions (one column per element, Z = 1…103) followed by the
fraction-weighted mean and standard deviation of a few elemental properties from pymatgen's
`Element` (Z, Mendeleev number, group, row, atomic mass, Pauling electronegativity, atomic radius).
A property pymatgen does not know for an element (e.g. the electronegativity of a noble gas) counts
as the mean over the elements that have it. numpy for the median, kNN and ridge (small dense problems).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

MAX_Z = 103
ELEMENT_PROPERTIES = ("Z", "mendeleev_no", "group", "row", "atomic_mass", "X", "atomic_radius")


@lru_cache(maxsize=1)
def _property_table() -> np.ndarray:
    """(MAX_Z + 1, n_properties) elemental properties, row Z; gaps filled with the column mean."""
    import warnings

    from pymatgen.core import Element

    table = np.full((MAX_Z + 1, len(ELEMENT_PROPERTIES)), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns for every property it lacks
        for z in range(1, MAX_Z + 1):
            element = Element.from_Z(z)
            for j, name in enumerate(ELEMENT_PROPERTIES):
                value = getattr(element, name, None)
                table[z, j] = float(value) if value is not None and np.isfinite(float(value)) else np.nan
    means = np.nanmean(table[1:], axis=0)
    gaps = np.isnan(table)
    table[gaps] = np.broadcast_to(means, table.shape)[gaps]
    return table


def composition_features(formulas: Sequence[str]) -> np.ndarray:
    """(n, MAX_Z + 2·n_properties) feature rows of the formulas (see the module docstring)."""
    from pymatgen.core import Composition

    table = _property_table()
    rows = np.zeros((len(formulas), MAX_Z + 2 * table.shape[1]))
    for i, formula in enumerate(formulas):
        amounts = Composition(formula).fractional_composition.get_el_amt_dict()
        z = np.array([Composition(el).elements[0].Z for el in amounts])
        if z.max() > MAX_Z:
            raise ValueError(f"formula {formula!r}: element Z={z.max()} beyond the feature table (Z ≤ {MAX_Z})")
        w = np.array(list(amounts.values()))
        rows[i, z - 1] = w
        props = table[z]
        mean = w @ props
        rows[i, MAX_Z:MAX_Z + table.shape[1]] = mean
        rows[i, MAX_Z + table.shape[1]:] = np.sqrt(np.maximum(w @ (props - mean) ** 2, 0.0))
    return rows


def _standardise(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = x_train.mean(0), x_train.std(0)
    std[std == 0] = 1.0
    return (x_train - mean) / std, (x_test - mean) / std


def median_predictor(y_train: np.ndarray, n_test: int) -> np.ndarray:
    return np.full(n_test, float(np.median(y_train)))


def knn_predictor(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, k: int = 5) -> np.ndarray:
    """Mean label of the k nearest training rows (Euclidean, standardised features)."""
    if not 1 <= k <= len(x_train):
        raise ValueError(f"Invalid k={k!r} for {len(x_train)} training rows")
    a, b = _standardise(x_train, x_test)
    distance = ((b[:, None, :] - a[None, :, :]) ** 2).sum(-1)
    return np.asarray(y_train)[np.argsort(distance, axis=1)[:, :k]].mean(1)


def ridge_predictor(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Ridge regression on standardised features; `alpha` is the penalty per training row."""
    a, b = _standardise(x_train, x_test)
    y_train = np.asarray(y_train, dtype=float)
    offset = y_train.mean()
    coef = np.linalg.solve(a.T @ a + alpha * len(a) * np.eye(a.shape[1]), a.T @ (y_train - offset))
    return b @ coef + offset


def boosting_predictor(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, seed: int = 0) -> np.ndarray:
    """Gradient-boosted regression trees (absolute-error loss: the labels are heavy-tailed, λ up to 18)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(loss="absolute_error", max_iter=300, learning_rate=0.05, random_state=seed)
    return model.fit(x_train, np.asarray(y_train, dtype=float)).predict(x_test)
