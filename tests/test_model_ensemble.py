"""Ensembles: directory round trip, resuming a killed run, damaged checkpoints, bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _model_helpers import records, structures, tiny_config
from ase.build import bulk

import betenet.model.ensemble_training as ensemble_training
from betenet import physics
from betenet.dataset.format import DatasetRecord, read_dataset, write_dataset
from betenet.model.ensemble import Ensemble
from betenet.model.ensemble_training import train_ensemble
from betenet.model.training_set import TrainingSet, training_set_from_dataset
from betenet.model.errors import CheckpointError, EmptyDatasetError, UnseenElementError
from betenet.model.graphs import GraphBatch
from betenet.model.training import TrainingConfig

TRAINING = TrainingConfig(max_epochs=6, patience_descent=2, patience_hump=2, patience_second=2,
                          snapshot_interval_s=0.0)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data") / "ds", records(), structures(), source="tests")


@pytest.fixture(scope="module")
def data(dataset):
    return training_set_from_dataset(dataset, "CPD", splits=("train",))


def _train(directory, data, n_members=3, **kw):
    return train_ensemble(directory, data, network=tiny_config("CPD"), training=TRAINING, n_members=n_members,
                          seed=11, progress=False, workers=1, **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data):
    return _train(tmp_path_factory.mktemp("ens") / "ensemble", data)


def _files(directory):
    return {p.name: p.read_bytes() for p in (directory / "members").iterdir()}


def test_directory_holds_everything_needed(trained, dataset):
    config = json.loads((trained.directory / "ensemble.json").read_text())
    assert config["architecture"] == "betenet-gate-v1" and config["n_members"] == 3
    assert config["dataset"]["content_hash"] == dataset.content_hash
    assert config["normalisation"]["num_neighbors"] == pytest.approx(260 / 14)  # edges / atoms of the set
    assert config["network"]["num_neighbors"] == config["normalisation"]["num_neighbors"]
    assert config["elements"] == ["C", "O", "Na", "Mg", "Al", "Cl", "Nb"]
    assert sorted(p.name for p in (trained.directory / "members").iterdir()) == [
        f"member_00{i}.{ext}" for i in range(3) for ext in ("json", "pt")]
    metrics = json.loads((trained.directory / "metrics.json").read_text())
    assert metrics["n_finished"] == 3 and set(metrics["members"]) == {"0", "1", "2"}


def test_reloaded_checkpoint_gives_identical_predictions(trained, dataset):
    prediction = trained.predict(dataset)
    reloaded = Ensemble.load(trained.directory)
    assert np.array_equal(reloaded.predict(dataset).a2f, prediction.a2f)
    assert np.array_equal(reloaded.predict(dataset, threads=2).a2f, prediction.a2f)  # members on 2 threads
    # the ensemble mean is the mean of the members, each member reloaded on its own
    graphs = trained.graphs_for(dataset)
    batch = GraphBatch.from_graphs(graphs, "CPD")
    with torch.no_grad():
        members = [reloaded.member_network(m).eval()(batch).double().numpy() for m in range(3)]
    assert np.allclose(np.mean(members, axis=0), prediction.a2f, rtol=1e-12, atol=0)
    # moments come from the mean spectrum, spreads from the members
    ref = physics.model_grid_moments(prediction.a2f[0])
    assert prediction.lambda_[0] == pytest.approx(ref.lambda_) and prediction.omega_log_K[0] == pytest.approx(
        ref.omega_log_K)
    lambdas = [physics.model_grid_moments(m[0]).lambda_ for m in members]
    assert prediction.lambda_std[0] == pytest.approx(np.std(lambdas, ddof=1))
    assert prediction.rows()[0]["id"] == "Al"


def test_mu_star_changes_only_tc(trained, dataset):
    default = trained.predict(dataset)
    stronger = trained.predict(dataset, mu_star=0.15)
    assert default.mu_star == trained.training.loss.mu_star and stronger.mu_star == 0.15
    assert np.array_equal(stronger.a2f, default.a2f) and np.array_equal(stronger.lambda_, default.lambda_)
    expected = physics.allen_dynes_tc(default.lambda_, default.omega_log_K, default.omega_2_K, 0.15)
    assert np.allclose(stronger.tc_K, expected, rtol=1e-12, atol=0)
    assert np.all(stronger.tc_K <= default.tc_K)
    with pytest.raises(ValueError, match="mu_star=1.5"):
        trained.predict(dataset, mu_star=1.5)


def test_resuming_a_killed_run_trains_only_the_missing_members(tmp_path, data, trained, monkeypatch):
    directory = tmp_path / "ensemble"
    real = ensemble_training.train_member
    trained_members = []

    def killed_during_member_2(*args, **kwargs):
        member = args[4]
        trained_members.append(member)
        if member == 2:
            def kill(report):
                if report.epoch == 3:
                    raise KeyboardInterrupt  # the run is killed in the middle of member 2
            kwargs["on_epoch"] = kill
        return real(*args, **kwargs)

    monkeypatch.setattr(ensemble_training, "train_member", killed_during_member_2)
    with pytest.raises(KeyboardInterrupt):
        _train(directory, data)
    assert trained_members == [0, 1, 2]
    before = _files(directory)
    assert "member_002.partial.pt" in before and "member_002.json" not in before

    trained_members.clear()
    monkeypatch.setattr(ensemble_training, "train_member", lambda *a, **k: trained_members.append(a[4]) or real(*a, **k))
    resumed = _train(directory, data)
    assert trained_members == [2]  # members 0 and 1 were not touched
    after = _files(directory)
    for name in ("member_000.pt", "member_000.json", "member_001.pt", "member_001.json"):
        assert after[name] == before[name]
    assert "member_002.partial.pt" not in after
    # member 2 continued from its snapshot and ends exactly like an uninterrupted run
    for m in range(3):
        a = torch.load(directory / f"members/member_00{m}.pt", weights_only=True)
        b = torch.load(trained.directory / f"members/member_00{m}.pt", weights_only=True)
        assert torch.equal(a["history"], b["history"])
        assert all(torch.equal(a["state_dict"][k], v) for k, v in b["state_dict"].items())
    assert len(resumed.members) == 3


def test_corrupt_checkpoint_is_reported_and_never_overwritten(tmp_path, trained, data):
    import shutil

    directory = tmp_path / "copy"
    shutil.copytree(trained.directory, directory)
    damaged = directory / "members/member_001.pt"
    damaged.write_bytes(damaged.read_bytes()[:1000])
    before = _files(directory)
    with pytest.raises(CheckpointError, match=r"member_001.pt: SHA-256 .* the file is corrupt"):
        Ensemble.load(directory)
    with pytest.raises(CheckpointError, match="member_001.pt"):
        _train(directory, data)
    assert _files(directory) == before  # nothing overwritten, nothing retrained
    # without the hash check the torch loader itself refuses the truncated file, naming it
    unverified = Ensemble.load(directory, verify=False)
    with pytest.raises(CheckpointError, match=r"member_001.pt: cannot be read"):
        unverified.predict([bulk("Al", "fcc", a=4.05)], site_phdos=[np.ones((1, 51))])


def test_other_settings_in_the_same_directory_are_refused(tmp_path, trained, data):
    import shutil

    directory = tmp_path / "copy"
    shutil.copytree(trained.directory, directory)
    with pytest.raises(CheckpointError, match=r"other \['seed'\]"):
        train_ensemble(directory, data, network=tiny_config("CPD"), training=TRAINING, n_members=3, seed=12,
                       progress=False, workers=1)


def test_bad_inputs_raise_clear_errors(trained, tmp_path):
    with pytest.raises(UnseenElementError, match=r"structure 'GaAs' contains As, an element this ensemble never saw"):
        trained.predict([bulk("GaAs", "zincblende", a=5.65)], ids=["GaAs"], site_phdos=[np.ones((2, 51))])
    with pytest.raises(EmptyDatasetError, match="nothing to predict"):
        trained.predict([])
    with pytest.raises(EmptyDatasetError, match="training set is empty"):
        TrainingSet([], _empty_targets())
    unlabelled = write_dataset(tmp_path / "unlabelled", [DatasetRecord(id="Al", formula="Al", split="train")],
                               {"Al": bulk("Al", "fcc", a=4.05)}, source="t")
    with pytest.raises(EmptyDatasetError, match="no labelled records"):
        training_set_from_dataset(read_dataset(unlabelled.directory), "CSO")
    with pytest.raises(CheckpointError, match="not an ensemble directory"):
        Ensemble.load(tmp_path)


def _empty_targets():
    from betenet.model.loss import Targets

    return Targets.from_records([])


def test_members_trained_in_worker_processes_equal_in_process_ones(tmp_path, data, trained):
    parallel = train_ensemble(tmp_path / "parallel", data, network=tiny_config("CPD"), training=TRAINING,
                              n_members=2, seed=11, progress=False, workers=2, threads=1)
    assert len(parallel.members) == 2
    for m in range(2):
        a = torch.load(parallel.directory / f"members/member_00{m}.pt", weights_only=True)
        b = torch.load(trained.directory / f"members/member_00{m}.pt", weights_only=True)
        assert all(torch.equal(a["state_dict"][k], v) for k, v in b["state_dict"].items())
