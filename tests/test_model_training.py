"""Training: tempered early stopping, bootstrap, mixed-supervision loss and its gradients, resuming."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _model_helpers import graphs, records, tiny_config

from betenet import physics
from betenet.model.early_stopping import TemperedEarlyStopping
from betenet.model.errors import EmptyDatasetError
from betenet.model.graphs import GraphBatch
from betenet.model.loss import LossConfig, Targets, mixed_loss, moments_of
from betenet.model.network import BeteNet
from betenet.model.training import TrainingConfig, bootstrap, train_member


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_tempered_early_stopping_walks_the_three_regions():
    stopper = TemperedEarlyStopping(patience_descent=2, patience_hump=3, patience_second=2)
    # descent to 1.0 (epoch 2), plateau → hump rises to 3.0, stays below for 3 epochs,
    # then a second descent to 0.5 (epoch 12), no further improvement → stop
    curve = [2.0, 1.5, 1.0, 1.1, 1.2, 2.0, 3.0, 2.9, 2.8, 2.7, 1.0, 0.7, 0.5, 0.6, 0.8]
    decisions = [stopper.update(v) for v in curve]
    kept = [(epoch, d.region) for epoch, d in enumerate(decisions) if d.keep]
    assert kept == [(0, 1), (1, 1), (2, 1), (10, 3), (11, 3), (12, 3)]
    assert [d.region for d in decisions][:5] == [1, 1, 1, 1, 1] and decisions[5].region == 2
    assert decisions[-1].stop and not any(d.stop for d in decisions[:-1])
    assert stopper.best_descent == 1.0 and stopper.best_second == 0.5
    assert stopper.kept_region() == 3
    with pytest.raises(RuntimeError, match="already said stop"):
        stopper.update(0.1)
    with pytest.raises(ValueError, match="diverged"):
        TemperedEarlyStopping().update(float("nan"))


def test_a_second_descent_that_ends_higher_is_not_kept():
    """Cut by the epoch cap above the first minimum, region 3's best would only be worse."""
    stopper = TemperedEarlyStopping(patience_descent=1, patience_hump=1, patience_second=100)
    for v in [1.0, 1.2, 2.0, 1.9, 1.5, 1.4]:
        stopper.update(v)
    assert stopper.region == 3 and stopper.best_second == 1.4
    assert stopper.kept_region() == 1
    fresh = TemperedEarlyStopping()
    fresh.update(1.0)
    assert fresh.kept_region() == 1  # region 3 never reached


def test_bootstrap_is_seeded_with_out_of_bag_rest():
    counts = bootstrap(50, seed=3, member=7)
    assert counts.sum() == 50 and (counts == 0).any()
    assert np.array_equal(counts, bootstrap(50, seed=3, member=7))
    assert not np.array_equal(counts, bootstrap(50, seed=3, member=8))
    assert all((bootstrap(2, 0, m) == 0).any() for m in range(20))  # tiny sets still validate
    with pytest.raises(EmptyDatasetError, match="at least 2 samples"):
        bootstrap(1, 0, 0)


def _coupled_spectra(g: int) -> torch.Tensor:
    """Smooth positive α²F with λ ≈ 0.5–1.5, so Allen–Dynes Tc is in its non-zero branch."""
    grid = torch.as_tensor(physics.MODEL_GRID_MEV)
    centres = torch.linspace(12.0, 40.0, g)[:, None]
    return (0.6 + 0.1 * torch.arange(g))[:, None] * torch.exp(-((grid - centres) / 7.0) ** 2)


def _mixed_targets(g: int = 6) -> Targets:
    targets = Targets.from_records(records()[:g], torch.float64)
    targets.a2f[targets.has_a2f] = targets.a2f[targets.has_a2f] * 0.5
    return targets


def test_moments_are_the_physics_core_moments():
    a2f = _coupled_spectra(3).double()
    m = moments_of(a2f, LossConfig(a2f_floor=0.0))
    for g in range(3):
        ref = physics.model_grid_moments(a2f[g].numpy())
        assert float(m.lambda_[g]) == pytest.approx(ref.lambda_, rel=1e-12)
        assert float(m.omega_log_K[g]) == pytest.approx(ref.omega_log_K, rel=1e-12)
        tc = physics.allen_dynes_tc(ref.lambda_, ref.omega_log_K, ref.omega_2_K)
        assert float(m.tc_K[g]) == pytest.approx(tc, rel=1e-12) and tc > 0.5


def test_mixed_loss_uses_only_the_labels_present():
    targets = _mixed_targets()
    pred = _coupled_spectra(6).double()
    total, terms = mixed_loss(pred, targets)
    spectrum = ((pred - targets.a2f)[targets.has_a2f] ** 2).mean()
    assert terms["spectrum"] == pytest.approx(float(spectrum))
    assert set(terms) == {"spectrum", "lambda", "omega_log", "tc"}
    # moments of the spectrum samples are not compared (seed behaviour) unless asked for
    m = moments_of(pred)
    moment_rows = ~targets.has_a2f
    huber = torch.nn.functional.huber_loss(torch.log(m.lambda_[moment_rows] + 0.01),
                                           torch.log(targets.lambda_[moment_rows] + 0.01))
    assert terms["lambda"] == pytest.approx(float(huber))
    assert float(total) == pytest.approx(sum(terms.values()))
    # a sample drawn twice counts twice
    weight = torch.ones(6, dtype=torch.float64)
    weight[0] = 2.0
    _, weighted = mixed_loss(pred, targets, weight)
    per_sample = ((pred - targets.a2f) ** 2).mean(-1)[targets.has_a2f]
    assert weighted["spectrum"] == pytest.approx(float((per_sample.sum() + per_sample[0]) / 4))
    # undefined ω_log labels (≤ 0 K, i.e. λ ≤ 0) are not used
    from betenet.dataset.format import DatasetRecord

    bad = Targets.from_records([DatasetRecord(id="x", formula="Si", lambda_=-0.05, omega_log_K=0.0, tc_K=0.0)])
    assert bool(bad.has_lambda[0]) and not bool(bad.has_omega_log[0])


def test_moment_loss_gradients_match_finite_differences():
    """The loss as a function of the predicted α²F, including the Allen–Dynes Tc branch."""
    targets = _mixed_targets()
    config = LossConfig(moments_with_spectrum=True, huber_delta=0.05)  # both Huber branches in play
    pred = _coupled_spectra(6).double().requires_grad_()
    assert torch.autograd.gradcheck(lambda p: mixed_loss(p, targets, None, config)[0], (pred,), eps=1e-6,
                                    atol=1e-6, rtol=1e-4)


def test_network_loss_gradients_match_finite_differences():
    """End to end on a tiny float64 network, on a batch mixing spectra and moment-only samples."""
    torch.manual_seed(0)
    net = BeteNet(tiny_config("CPD")).double()
    batch = GraphBatch.from_graphs(graphs("CPD")[:6], "CPD", dtype=torch.float64)
    targets = _mixed_targets()
    weight = torch.tensor([1.0, 2.0, 1.0, 0.0, 3.0, 1.0], dtype=torch.float64)

    def loss():
        return mixed_loss(net(batch), targets, weight)[0]

    value = loss()
    params = dict(net.named_parameters())
    grads = dict(zip(params, torch.autograd.grad(value, list(params.values()))))
    rng = np.random.default_rng(0)
    checked = 0
    for name in ["em.weight", "em.bias", "layers.0.first.sc.weight", "layers.0.first.fc.layer0.weight",
                 "layers.1.first.lin2.weight", "layers.2.lin1.weight", "layers.2.fc.layer1.weight"]:
        p = params[name]
        for flat in rng.choice(p.numel(), 3, replace=False):
            with torch.no_grad():
                original = p.view(-1)[flat].item()
                p.view(-1)[flat] = original + 1e-6
                up = loss().item()
                p.view(-1)[flat] = original - 1e-6
                down = loss().item()
                p.view(-1)[flat] = original
            numeric = (up - down) / 2e-6
            analytic = grads[name].view(-1)[flat].item()
            assert analytic == pytest.approx(numeric, rel=1e-4, abs=1e-10), name
            checked += abs(analytic) > 1e-8
    assert checked >= 10  # most probed derivatives are not trivially zero


@pytest.mark.parametrize("schedule", [dict(), dict(batch_size=2, lr_schedule="cosine")],
                         ids=["full batch, constant lr", "mini-batches, cosine lr"])
def test_member_resumes_exactly_from_a_snapshot(schedule):
    network = tiny_config("CPD")
    training = TrainingConfig(max_epochs=8, patience_descent=100, snapshot_interval_s=0.0, **schedule)
    items = graphs("CPD")
    targets = Targets.from_records(records(), torch.float64)
    snapshots = []
    full = train_member(network, training, items, targets, member=1, seed=5, snapshot=snapshots.append)
    assert len(snapshots) == 8 and full.metrics["stopped_by"] == "epoch cap"
    state_at_3 = snapshots[3]  # taken after epoch 3
    resumed = train_member(network, training, items, targets, member=1, seed=5, resume_from=state_at_3)
    assert np.array_equal(resumed.history, full.history)
    for key, value in full.state_dict.items():
        assert torch.equal(resumed.state_dict[key], value), key
    assert resumed.metrics["kept_epoch"] == full.metrics["kept_epoch"]


def test_mini_batches_step_once_per_batch_and_one_batch_is_the_full_batch():
    network = tiny_config("CPD")
    items, targets = graphs("CPD"), Targets.from_records(records(), torch.float64)
    epochs = dict(max_epochs=5, patience_descent=100, snapshot_interval_s=0.0)
    full = train_member(network, TrainingConfig(**epochs), items, targets, member=0, seed=1)
    one_batch = train_member(network, TrainingConfig(batch_size=100, **epochs), items, targets, member=0, seed=1)
    assert np.array_equal(one_batch.history, full.history)
    snapshots = []
    mini = train_member(network, TrainingConfig(batch_size=2, **epochs), items, targets, member=0, seed=1,
                        snapshot=snapshots.append)
    n_drawn = mini.metrics["n_drawn"]
    steps = snapshots[-1]["optimizer"]["state"][0]["step"]
    assert int(steps) == 5 * round(n_drawn / 2)  # every epoch one AdamW step per batch of ≈ 2 drawn samples
    assert not np.array_equal(mini.history[:, 2], full.history[:, 2])
    with pytest.raises(ValueError, match="batch_size=0"):
        TrainingConfig(batch_size=0)
    with pytest.raises(ValueError, match="lr_schedule='linear'"):
        TrainingConfig(lr_schedule="linear")
