"""Evaluation numbers against hand calculations; the report's files are real figures."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest

from betenet.screening.evaluation import average_precision, evaluate, regression_metrics, write_report


def test_regression_metrics_by_hand():
    m = regression_metrics([1.0, 2.0, 3.0], [1.5, 2.0, 2.0])
    assert m.n == 3
    assert m.mae == pytest.approx(0.5)  # (0.5 + 0 + 1) / 3
    assert m.rmse == pytest.approx(np.sqrt(1.25 / 3))
    assert m.r2 == pytest.approx(1 - 1.25 / 2.0)  # SS_res 1.25, SS_tot 2
    assert regression_metrics([2.0, 2.0], [1.0, 3.0]).r2 is None  # no spread: R² undefined, not 0 or −inf
    with pytest.raises(ValueError, match="no .* pairs"):
        regression_metrics([], [])


def test_average_precision_by_hand():
    # ranks 1 and 3 are positive: AP = (1/1 + 2/3) / 2
    assert average_precision([1, 0, 1, 0], [4, 3, 2, 1]) == pytest.approx(5 / 6)
    assert average_precision([0, 0, 1, 1], [4, 3, 2, 1]) == pytest.approx((1 / 3 + 2 / 4) / 2)
    # a constant score earns nothing over the worst ranking (ties rank negatives first)
    assert average_precision([1, 1, 0, 0], [1, 1, 1, 1]) == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert average_precision([0, 0], [1, 2]) is None


def test_evaluate_and_report(tmp_path):
    labels = {"a": {"lambda": 0.5, "omega_log_K": 260.0, "tc_K": 3.8},
              "b": {"lambda": 1.1, "omega_log_K": 180.0, "tc_K": 15.1},
              "c": {"lambda": 0.4, "omega_log_K": 300.0, "tc_K": 1.3},
              "only-label": {"lambda": 0.2, "tc_K": 0.0}}
    predicted = {"a": {"lambda": 0.6, "lambda_std": 0.1, "omega_log_K": 250.0, "tc_K": 6.0, "tc_K_std": 2.0},
                 "b": {"lambda": 0.9, "lambda_std": 0.2, "omega_log_K": 200.0, "tc_K": 9.0, "tc_K_std": 3.0},
                 "c": {"lambda": 0.3, "lambda_std": 0.1, "omega_log_K": None, "tc_K": 0.5, "tc_K_std": 0.5},
                 "only-prediction": {"lambda": 2.0, "tc_K": 30.0}}
    report = evaluate(predicted, labels, tc_threshold_K=5.0)
    assert report.ids == ("a", "b", "c")
    assert report.metrics["lambda"].mae == pytest.approx((0.1 + 0.2 + 0.1) / 3)
    assert report.metrics["omega_log_K"].n == 2  # c has no ω_log prediction
    assert "omega_2_K" not in report.metrics  # no labels at all
    # only b has Tc ≥ 5 K and it has the highest predicted Tc: AP 1, a random ranking 1/3 on average
    assert report.screening.n_positive == 1
    assert report.screening.average_precision == pytest.approx(1.0)
    assert report.screening.random_average_precision == pytest.approx(1 / 3)
    paths = write_report(report, predicted, labels, tmp_path / "eval")
    assert sorted(p.name for p in paths) == ["evaluation.json", "parity_lambda.png", "parity_omega_log_K.png",
                                             "parity_tc_K.png"]
    saved = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert saved["metrics"]["tc_K"]["mae"] == pytest.approx((2.2 + 6.1 + 0.8) / 3)
    image = matplotlib.image.imread(tmp_path / "eval" / "parity_lambda.png")
    assert image.ndim == 3 and image.shape[0] > 200 and image.std() > 0.05  # a drawn figure, not a blank
    with pytest.raises(ValueError, match="no id has both"):
        evaluate({"x": {"tc_K": 1.0}}, {"y": {"tc_K": 1.0}})
