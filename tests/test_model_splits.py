"""Grouped splits keep every chemical system on one side; the composition baselines do what they say."""

from __future__ import annotations

import numpy as np
import pytest

from betenet.model.baselines import (boosting_predictor, composition_features, knn_predictor, median_predictor, ridge_predictor,
                                     MAX_Z)
from betenet.model.splits import chemical_system, grouped_holdout, grouped_kfold

FORMULAS = ["MgB2", "Mg2B4", "MgB4", "Nb", "Nb2", "NbSe2", "Nb3Se6", "NaCl", "Na2Cl2", "Al", "AlNb", "Al3Nb",
            "V", "V3Si", "Pd", "PdH", "Pd2H2", "Cu", "MoC", "Mo2C"]


def test_chemical_system_sorts_the_elements():
    assert chemical_system("MgB2") == "B-Mg" == chemical_system("B4Mg2")
    assert chemical_system("Nb") == "Nb"


def test_grouped_holdout_never_splits_a_chemical_system():
    groups = np.array([chemical_system(f) for f in FORMULAS])
    train, test = grouped_holdout(groups, 0.3, seed=4)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(FORMULAS)))
    assert not set(groups[train]) & set(groups[test])
    assert 0.3 * len(groups) <= len(test) < 0.3 * len(groups) + 3  # whole systems, stops once reached
    again = grouped_holdout(groups, 0.3, seed=4)
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])
    assert not np.array_equal(test, grouped_holdout(groups, 0.3, seed=5)[1])


def test_grouped_kfold_puts_each_system_in_exactly_one_test_fold():
    groups = np.array([chemical_system(f) for f in FORMULAS])
    folds = grouped_kfold(groups, 3, seed=1)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(FORMULAS)))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert len(train) + len(test) == len(FORMULAS)
    sizes = [len(test) for _, test in folds]
    assert max(sizes) - min(sizes) <= 2  # largest systems first, each to the emptiest fold


def test_bad_split_requests_are_refused():
    with pytest.raises(ValueError, match="fraction"):
        grouped_holdout(["A", "B"], 1.0)
    with pytest.raises(ValueError, match="at least 2 chemical systems"):
        grouped_holdout(["A", "A"], 0.5)
    with pytest.raises(ValueError, match="k=5"):
        grouped_kfold(["A", "B", "C"], 5)


def test_composition_features_are_fractions_then_property_moments():
    x = composition_features(["MgB2", "Nb"])
    assert x.shape == (2, MAX_Z + 14)
    assert x[0, 11] == pytest.approx(1 / 3) and x[0, 4] == pytest.approx(2 / 3)  # Mg (Z=12), B (Z=5)
    assert x[0, :MAX_Z].sum() == pytest.approx(1.0)
    assert x[0, MAX_Z] == pytest.approx((12 + 2 * 5) / 3)  # fraction-weighted mean Z
    assert x[0, MAX_Z + 7] == pytest.approx(np.sqrt((1 / 3) * (12 - 22 / 3) ** 2 + (2 / 3) * (5 - 22 / 3) ** 2))
    assert np.all(x[1, MAX_Z + 7:] == 0)  # an element alone has no spread


def test_baselines_recover_what_the_features_contain():
    train = ["MgB2", "Nb", "NbSe2", "NaCl", "Al", "AlNb", "V3Si", "PdH", "Cu", "MoC"]
    x = composition_features(train)
    y = 3.0 * x[:, 40] + 2.0 * x[:, 11] + 1.0  # Nb (Z=41) and Mg fractions
    assert np.allclose(knn_predictor(x, y, x, k=1), y)  # each row is its own nearest neighbour
    fitted = ridge_predictor(x, y, composition_features(["Nb3Se6", "Mg2B4"]), alpha=1e-6)
    assert fitted == pytest.approx([3.0 * 1 / 3 + 1.0, 2.0 * 1 / 3 + 1.0], abs=1e-3)  # same compositions
    assert np.all(median_predictor(y, 4) == np.median(y))
    with pytest.raises(ValueError, match="k=11"):
        knn_predictor(x, y, x, k=11)


def test_boosting_learns_a_threshold_rule_and_ignores_outliers():
    """A step in the Nb fraction (Tc-like: 8 K above one third Nb, 1 K below), two labels corrupted to 40 K: the
    absolute-error trees recover the step on unseen compositions; a constant cannot."""
    formulas = [f"Nb{n}{partner}{20 - n}" for partner in ("Al", "Mg", "Cu", "Pd") for n in range(1, 20)]
    x = composition_features(formulas)
    y = np.where(x[:, 40] > 1 / 3, 8.0, 1.0)
    y[[3, 45]] = 40.0
    test = ["Nb23Al17", "Nb3Al37", "Nb27Mg13", "Nb7Pd33"]  # Nb fractions 0.575, 0.075, 0.675, 0.175
    predicted = boosting_predictor(x, y, composition_features(test))
    assert predicted == pytest.approx([8.0, 1.0, 8.0, 1.0], abs=1.0)
