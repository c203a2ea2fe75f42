"""The physics core against hand calculations (numbers worked out on paper, not by the code under test)."""

import numpy as np
import pytest
import torch

from betenet import physics


def test_model_grid_is_the_seed_grid():
    grid = physics.MODEL_GRID_MEV
    assert grid.size == 51
    assert grid[0] == pytest.approx(0.25) and grid[-1] == pytest.approx(100.25)
    assert np.allclose(np.diff(grid), 2.0)


def test_single_bin_spectrum_moments():
    # α²F = 0.5 in the one bin at ω0 = 20.25 meV (Δω = 2):
    # λ = 2·0.5/20.25·2 = 0.098765..., ω_log = ω2 = ω0.
    a2f = np.zeros(51)
    a2f[10] = 0.5
    m = physics.model_grid_moments(a2f)
    assert m.lambda_ == pytest.approx(2 * 0.5 / 20.25 * 2)
    assert m.omega_log_meV == pytest.approx(20.25)
    assert m.omega_2_meV == pytest.approx(20.25)
    assert m.omega_log_K == pytest.approx(20.25 / 0.08617)


def test_seed_sum_skips_the_first_bin():
    a2f = np.zeros(51)
    a2f[0] = 1.0  # the 0.25 meV bin would add 2·1/0.25·2 = 16 to λ if summed
    a2f[5] = 1.0
    assert physics.model_grid_moments(a2f).lambda_ == pytest.approx(2 * 1.0 / 10.25 * 2)
    assert physics.lambda_from_a2f(physics.MODEL_GRID_MEV, a2f) == pytest.approx(16 + 4 / 10.25)


def test_two_bin_omega_log_is_the_weighted_geometric_mean():
    # Equal λ-contributions from 10.25 and 40.25 meV → ω_log = sqrt(10.25·40.25).
    a2f = np.zeros(51)
    a2f[5] = 10.25
    a2f[20] = 40.25
    m = physics.model_grid_moments(a2f)
    assert m.omega_log_meV == pytest.approx(np.sqrt(10.25 * 40.25))
    # ω2² = Σ(α²F ω)/Σ(α²F/ω) = (10.25² + 40.25²)/2
    assert m.omega_2_meV == pytest.approx(np.sqrt((10.25**2 + 40.25**2) / 2))


def test_allen_dynes_hand_value():
    # λ=1, ω_log=100 K, ω2=120 K, μ*=0.1: f1=1.05068, f2=1.01463, McMillan part 6.96396 K.
    assert physics.allen_dynes_tc(1.0, 100.0, 120.0, 0.1) == pytest.approx(7.42392, rel=1e-5)
    assert physics.mcmillan_tc(1.0, 100.0, 0.1) == pytest.approx(6.96396, rel=1e-5)


def test_allen_dynes_weak_coupling_gives_zero_not_nan():
    # λ = 0.1 < μ*(1+0.62λ) = 0.1062: no superconductivity by the formula.
    assert physics.allen_dynes_tc(0.1, 300.0, 350.0) == 0.0
    tcs = physics.allen_dynes_tc(np.array([0.1, 1.0]), np.array([300.0, 100.0]), np.array([350.0, 120.0]))
    assert tcs[0] == 0.0 and tcs[1] == pytest.approx(7.42392, rel=1e-5)


def test_mu_star_lowers_tc():
    assert physics.allen_dynes_tc(0.8, 200.0, 250.0, 0.13) < physics.allen_dynes_tc(0.8, 200.0, 250.0, 0.10)


def test_torch_and_numpy_agree_and_gradients_flow():
    rng = np.random.default_rng(0)
    a2f = rng.random((3, 51))
    lam_np = physics.lambda_from_a2f(physics.MODEL_GRID_MEV, a2f, first_bin=1)
    wlog_np = physics.omega_log_from_a2f(physics.MODEL_GRID_MEV, a2f, first_bin=1)
    a2f_t = torch.tensor(a2f, requires_grad=True)
    lam_t = physics.lambda_from_a2f(physics.MODEL_GRID_MEV, a2f_t, first_bin=1)
    wlog_t = physics.omega_log_from_a2f(physics.MODEL_GRID_MEV, a2f_t, first_bin=1)
    w2_t = physics.omega_2_from_a2f(physics.MODEL_GRID_MEV, a2f_t, first_bin=1)
    assert np.allclose(lam_t.detach().numpy(), lam_np)
    assert np.allclose(wlog_t.detach().numpy(), wlog_np)
    tc = physics.allen_dynes_tc(lam_t, physics.mev_to_kelvin(wlog_t), physics.mev_to_kelvin(w2_t))
    tc.sum().backward()
    assert torch.isfinite(a2f_t.grad).all() and a2f_t.grad.abs().sum() > 0
    # dλ/dα²F_i = 2Δω/ω_i for i ≥ 1 and 0 for the skipped first bin
    a2f_t.grad = None
    physics.lambda_from_a2f(physics.MODEL_GRID_MEV, a2f_t, first_bin=1).sum().backward()
    expected = 2 * 2.0 / physics.MODEL_GRID_MEV
    expected[0] = 0.0
    assert np.allclose(a2f_t.grad[0].numpy(), expected)


def test_to_model_grid_keeps_a_smooth_spectrum_and_its_lambda():
    omega = np.linspace(0.0, 60.0, 601)
    a2f = 0.6 * np.exp(-((omega - 30.0) ** 2) / (2 * 4.0**2))
    binned = physics.to_model_grid(omega, a2f)
    assert binned.shape == (51,) and np.all(binned >= 0)
    exact = physics.lambda_from_a2f(omega[1:], a2f[1:])
    assert physics.model_grid_moments(binned).lambda_ == pytest.approx(exact, rel=0.02)
    assert np.all(binned[physics.MODEL_GRID_MEV > 60] == 0)


def test_to_model_grid_per_atom_rows_and_negative_clipping():
    omega = np.linspace(0.0, 50.0, 251)
    rows = np.stack([np.sin(omega / 5.0), np.exp(-omega / 10.0)])
    binned = physics.to_model_grid(omega, rows)
    assert binned.shape == (2, 51)
    assert binned.min() >= 0.0  # sin goes negative: clipped, as in the seed
    assert np.allclose(binned[1], physics.to_model_grid(omega, rows[1]))


def test_to_model_grid_rejects_bad_axes():
    with pytest.raises(ValueError, match="does not match"):
        physics.to_model_grid(np.arange(10.0), np.ones(9))
    with pytest.raises(ValueError, match="increasing"):
        physics.to_model_grid(np.array([1.0, 1.0, 2.0]), np.ones(3))


def test_moments_reject_nonuniform_grid():
    with pytest.raises(ValueError, match="uniform"):
        physics.lambda_from_a2f(np.array([1.0, 2.0, 4.0]), np.ones(3))
