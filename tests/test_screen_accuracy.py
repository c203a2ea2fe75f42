"""The held-out accuracy protocol: its scores by hand, and splits that never leak a chemical system."""

from __future__ import annotations

import numpy as np
import pytest

from betenet.dataset.format import DatasetRecord
from betenet.model.splits import chemical_system
from betenet.model.calibration import record_labels
from betenet.screening.accuracy import HOLDOUT, LEADERBOARD, baseline_scores, protocol_splits
from betenet.screening.evaluation import accuracy_scores, band_coverage, spearman


def test_scores_by_hand():
    assert spearman([1, 2, 3, 4], [10, 20, 40, 30]) == pytest.approx(0.8)  # 1 − 6·2 / (4·15)
    assert spearman([1, 2, 3], [5, 5, 5]) is None  # a constant prediction has no ranking
    assert band_coverage([0, 0, 0, 0], [0.5, -1.0, 2.0, 0.1], [1, 1, 1, 0]) == pytest.approx(0.5)
    truth = {"lambda": np.array([0.2, 1.0, 0.5]), "omega_log_K": np.array([300.0, 100.0, 200.0]),
             "tc_K": np.array([0.5, 12.0, 3.0])}
    predicted = {"lambda": np.array([0.3, 0.8, 0.5]), "omega_log_K": np.array([250.0, np.nan, 210.0]),
                 "tc_K": np.array([1.0, 8.0, 4.0])}
    scores = accuracy_scores(truth, predicted, {k: np.full(3, 0.15) for k in truth})
    assert scores["mae_lambda"] == pytest.approx(0.1)
    assert scores["mae_omega_log_K"] == pytest.approx((50 + 100 + 10) / 3)  # NaN prediction counts as 0 K
    assert scores["mae_tc_K"] == pytest.approx((0.5 + 4 + 1) / 3)
    assert scores["spearman_tc"] == pytest.approx(1.0) and scores["average_precision_tc"] == 1.0
    assert scores["base_rate_tc"] == pytest.approx(1 / 3)
    assert scores["coverage_lambda"] == pytest.approx(2 / 3)  # errors 0.1, 0.2, 0 against ±0.15


def _records():
    # every element in several chemical systems, so held-out systems keep their test rows
    pool = ["Mg", "B", "Nb", "Se", "Al", "V"]
    formulas = pool + [f"{a}{b}2" for i, a in enumerate(pool) for b in pool[i + 1:]] + ["Mg2B4", "Nb3Se"]
    rng = np.random.default_rng(0)
    return [DatasetRecord(id=f"r{i}", formula=f, lambda_=float(rng.uniform(0.1, 1.5)),
                          omega_log_K=float(rng.uniform(50, 400)), tc_K=float(rng.uniform(0, 20)),
                          split=("val" if i % 6 == 5 else "train"))
            for i, f in enumerate(formulas)]


def test_protocol_splits_hold_out_whole_chemical_systems():
    records = _records()
    groups = np.array([chemical_system(r.formula) for r in records])
    splits = protocol_splits(records, holdout_fraction=0.25, calibration_fraction=0.2, k=3, seed=1)
    assert [s.name for s in splits] == [HOLDOUT, LEADERBOARD, "fold 1 of 3", "fold 2 of 3", "fold 3 of 3"]
    holdout = splits[0]
    parts = [set(groups[holdout.train]), set(groups[holdout.calibration]), set(groups[holdout.test])]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert len(holdout.test) + holdout.n_left_out_unseen >= 0.25 * len(records)
    # test rows only with elements the training rows have (a CSO network has no embedding for others)
    seen = {e for i in holdout.train for e in chemical_system(records[i].formula).split("-")}
    assert all(set(chemical_system(records[i].formula).split("-")) <= seen for i in holdout.test)
    for fold in splits[2:]:  # folds cover the held-in part only: the held-out systems are never used
        assert not set(groups[fold.test]) & set(groups[holdout.test])
        assert not set(groups[fold.train]) & set(groups[fold.test])
    leaderboard = splits[1]
    assert {records[i].split for i in leaderboard.test} == {"val"}
    baselines = baseline_scores(records, holdout)
    assert set(baselines) == {"training median", "composition 5-NN", "composition ridge", "composition boosting"}
    median_tc = np.median(record_labels([records[i] for i in holdout.train])["tc_K"])
    truth_tc = record_labels([records[i] for i in holdout.test])["tc_K"]
    assert baselines["training median"]["mae_tc_K"] == pytest.approx(np.mean(np.abs(truth_tc - median_tc)))


def test_protocol_needs_all_three_labels():
    records = _records()
    records[3] = DatasetRecord(id="x", formula="Nb", lambda_=0.5)
    with pytest.raises(ValueError, match="λ, ω_log and Tc"):
        protocol_splits(records)
