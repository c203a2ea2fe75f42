"""Calibrated ensemble spread: the scale fit, its storage with the ensemble, and its use by predict."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from _model_helpers import records, structures, tiny_config

from betenet.dataset.format import write_dataset
from betenet.model.calibration import CALIBRATED, fit_std_scales, values_and_spreads
from betenet.model.ensemble import Ensemble
from betenet.model.ensemble_training import train_ensemble
from betenet.model.training import TrainingConfig
from betenet.model.training_request import calibrate_on_split
from betenet.model.training_set import training_set_from_dataset
from betenet.screening.evaluation import band_coverage

TRAINING = TrainingConfig(lr=0.02, max_epochs=4, patience_descent=2, patience_hump=2, patience_second=2)


def test_scale_restores_the_coverage_of_an_over_confident_spread():
    rng = np.random.default_rng(0)
    n = 4000
    true_sigma = rng.uniform(0.5, 2.0, size=(2, n))  # per-row noise, known to the "ensemble" up to a factor 3
    truth = {label: np.zeros(n) for label in CALIBRATED}
    predicted = {label: rng.normal(0.0, true_sigma[0]) for label in CALIBRATED}
    spread = {label: true_sigma[0] / 3.0 for label in CALIBRATED}
    raw = band_coverage(truth["tc_K"], predicted["tc_K"], spread["tc_K"])
    assert raw == pytest.approx(0.26, abs=0.03)  # a 1/3σ band of a normal distribution
    scales = fit_std_scales({k: v[: n // 2] for k, v in truth.items()},
                            {k: v[: n // 2] for k, v in predicted.items()}, {k: v[: n // 2] for k, v in spread.items()})
    assert scales["tc_K"] == pytest.approx(3.0, rel=0.08)
    # on rows the scale was not fitted on, the scaled band holds ≈ 68 %
    fresh = band_coverage(truth["tc_K"][n // 2:], predicted["tc_K"][n // 2:], scales["tc_K"] * spread["tc_K"][n // 2:])
    assert fresh == pytest.approx(0.6827, abs=0.03)


def test_spread_that_cannot_be_scaled_is_refused():
    truth = {label: np.zeros(10) for label in CALIBRATED}
    predicted = {label: np.ones(10) for label in CALIBRATED}
    zero = {label: np.zeros(10) for label in CALIBRATED}
    with pytest.raises(ValueError, match="zero spread"):
        fit_std_scales(truth, predicted, zero)
    with pytest.raises(ValueError, match="coverage=1.5"):
        fit_std_scales(truth, predicted, zero, coverage=1.5)
    nan = {label: np.full(10, np.nan) for label in CALIBRATED}
    with pytest.raises(ValueError, match="usable rows"):
        fit_std_scales(truth, nan, zero)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data") / "ds", records(), structures(), source="tests")


def _train(directory, dataset, n_members: int, seed: int):
    torch.set_num_threads(1)
    data = training_set_from_dataset(dataset, "CPD", splits=("train",))
    return train_ensemble(directory, data, network=tiny_config("CPD"), training=TRAINING, n_members=n_members,
                          seed=seed, progress=False, workers=1)


def test_calibration_travels_with_the_ensemble_and_is_applied_by_predict(tmp_path, dataset):
    directory = tmp_path / "ensemble"
    ensemble = _train(directory, dataset, n_members=3, seed=2)
    assert ensemble.std_scales is None
    raw = ensemble.predict(dataset)
    assert not raw.calibrated
    # rows whose members disagree on every quantity (insulators here get Tc = 0 from every member)
    rows = [i for i in range(len(raw.ids)) if raw.tc_K_std[i] > 0 and raw.lambda_std[i] > 0]
    assert len(rows) >= 4
    graphs = [ensemble.graphs_for(dataset)[i] for i in rows]
    # "labels" that miss the prediction by known multiples of the member spread: 0.5σ, 1.5σ, 2.5σ, …
    multiples = np.arange(len(rows)) + 0.5
    predicted, spread = values_and_spreads(raw)
    truth = {label: predicted[label][rows] + multiples * spread[label][rows] for label in CALIBRATED}

    scales = ensemble.calibrate(graphs, truth)
    expected = float(np.quantile(multiples, 0.6827, method="higher"))  # the rank that covers ≥ 68.27 %
    assert scales == pytest.approx({label: expected for label in CALIBRATED})
    stored = json.loads((directory / "ensemble.json").read_text())["calibration"]
    assert stored["std_scale"] == scales and stored["n_rows"] == len(rows)

    reloaded = Ensemble.load(directory)
    calibrated = reloaded.predict(dataset)
    assert calibrated.calibrated and reloaded.std_scales == scales
    assert np.allclose(calibrated.lambda_std, raw.lambda_std * scales["lambda"])
    assert np.allclose(calibrated.tc_K_std, raw.tc_K_std * scales["tc_K"])
    assert np.array_equal(calibrated.omega_2_K_std, raw.omega_2_K_std)  # no label: left as the members give it
    assert np.array_equal(calibrated.lambda_, raw.lambda_)  # the values themselves do not change

    # the same labels as a held-out split of a dataset: train-ensemble --calibrate-on fits the same scales
    held_out = [dataclasses.replace(dataset.records[i], split="val", a2f=None, lambda_=float(truth["lambda"][k]),
                                    omega_log_K=float(truth["omega_log_K"][k]), tc_K=float(truth["tc_K"][k]))
                for k, i in enumerate(rows)]
    val = write_dataset(tmp_path / "val", held_out, structures(), source="tests")
    assert calibrate_on_split(reloaded, val, "val") == pytest.approx(scales)
    with pytest.raises(ValueError, match="0 of its 0 records"):
        calibrate_on_split(reloaded, val, "test")
    assert np.array_equal(reloaded.predict(dataset, calibrated=False).lambda_std, raw.lambda_std)

    # finishing the run without new members keeps the calibration; training more members would drop it
    again = _train(directory, dataset, n_members=3, seed=2)
    assert again.std_scales == scales


def test_an_ensemble_written_before_calibration_existed_still_loads(tmp_path, dataset):
    directory = tmp_path / "ensemble"
    trained = _train(directory, dataset, n_members=2, seed=3)
    expected = trained.predict(dataset)
    config = json.loads((directory / "ensemble.json").read_text())
    del config["training"]["lr_schedule"]  # the configuration as the previous version wrote it
    (directory / "ensemble.json").write_text(json.dumps(config))
    old = Ensemble.load(directory)
    assert old.std_scales is None and old.training.lr_schedule == "constant"
    assert np.array_equal(old.predict(dataset).lambda_std, expected.lambda_std)


def test_calibrating_on_a_trained_split_is_refused_before_training(tmp_path, dataset):
    from betenet.model.training_request import TrainingRequest, train_from_dataset

    for splits in (("train",), None):
        request = TrainingRequest(variant="CPD", n_members=2, max_epochs=2, splits=splits, calibrate_on="train")
        with pytest.raises(ValueError, match="cannot calibrate on split 'train': it is trained on"):
            train_from_dataset(dataset, tmp_path / "ensemble", request, progress=False)
    assert not (tmp_path / "ensemble").exists()  # nothing was started
