"""The EPW trust checks on models with known answers: Wannier band interpolation of a tight-binding
Hamiltonian, the two-way band comparison, and the imaginary-frequency check."""

from __future__ import annotations

import numpy as np
import pytest

from betenet.parsers.epw import EpwLinewidths, WannierHamiltonian
from betenet.workflows.epw_checks import check_interpolated_phonons, compare_bands, wannier_eigenvalues_eV

EPS0, HOP = 1.5, -0.7  # on-site energy and nearest-neighbour hopping, eV


def cubic_s_band(ws_shifts=None) -> WannierHamiltonian:
    """One s orbital on a simple-cubic lattice: E(k) = ε0 + 2t Σ_i cos 2πk_i."""
    vectors = np.array([[0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
    values = np.array([EPS0] + [HOP] * 6, dtype=complex).reshape(-1, 1, 1)
    return WannierHamiltonian(lattice_vectors=vectors, degeneracy=np.ones(7, dtype=int), hamiltonian_eV=values,
                              ws_shifts=ws_shifts)


def analytic(k: np.ndarray) -> np.ndarray:
    return EPS0 + 2 * HOP * np.cos(2 * np.pi * k).sum(axis=1)


def test_tight_binding_band_is_reproduced_at_any_k():
    k = np.random.default_rng(1).random((25, 3))
    assert np.allclose(wannier_eigenvalues_eV(cubic_s_band(), k)[:, 0], analytic(k))


def test_wigner_seitz_shifts_move_each_term_by_a_lattice_vector():
    k = np.random.default_rng(2).random((10, 3))
    zero = {(*r, 1, 1): np.zeros((1, 3), dtype=int) for r in cubic_s_band().lattice_vectors.tolist()}
    assert np.allclose(wannier_eigenvalues_eV(cubic_s_band(zero), k), wannier_eigenvalues_eV(cubic_s_band(), k))
    # moving the ±x hoppings to ±2x (T = ±x) turns cos 2πk_x into cos 4πk_x: the shifts are applied
    moved = dict(zero)
    moved[(1, 0, 0, 1, 1)], moved[(-1, 0, 0, 1, 1)] = np.array([[1, 0, 0]]), np.array([[-1, 0, 0]])
    expected = analytic(k) + 2 * HOP * (np.cos(4 * np.pi * k[:, 0]) - np.cos(2 * np.pi * k[:, 0]))
    assert np.allclose(wannier_eigenvalues_eV(cubic_s_band(moved), k)[:, 0], expected)
    # averaging over two equivalent images (weight 1/2 each) of the same term leaves the band unchanged
    split = dict(zero)
    split[(1, 0, 0, 1, 1)] = np.array([[0, 0, 0], [0, 0, 0]])
    assert np.allclose(wannier_eigenvalues_eV(cubic_s_band(split), k)[:, 0], analytic(k))


def test_band_comparison_both_ways_inside_the_window():
    dft = np.array([[-5.0, 0.1, 0.3, 4.0], [-4.0, -0.2, 0.5, 6.0]])
    same = compare_bands(dft, dft, fermi_energy_eV=0.0, window_eV=1.0, tolerance_eV=0.05)
    assert same.passed and same.max_abs_error_eV == 0.0 and same.n_levels_compared == 8
    # a Wannier level off by 0.2 eV inside the window fails; one off outside the window does not count
    wannier = dft + np.array([[0.0, 0.2, 0.0, 3.0], [0.0, 0.0, 0.0, -1.0]])
    check = compare_bands(dft, wannier, fermi_energy_eV=0.0, window_eV=1.0, tolerance_eV=0.05)
    assert not check.passed and check.max_abs_error_eV == pytest.approx(0.2)
    # a spurious Wannier level in the window (DFT has none there) is caught by the reverse direction
    spurious = compare_bands(dft[:, [0, 1, 3]], dft, fermi_energy_eV=0.0, window_eV=1.0, tolerance_eV=0.05)
    assert not spurious.passed and spurious.max_abs_error_eV == pytest.approx(0.7)  # 0.5 at k2 vs −0.2
    with pytest.raises(ValueError, match="no band within"):
        compare_bands(dft, dft, fermi_energy_eV=2.0, window_eV=0.5, tolerance_eV=0.05)
    with pytest.raises(ValueError, match="k-points"):
        compare_bands(dft, dft[:1], fermi_energy_eV=0.0, window_eV=1.0, tolerance_eV=0.05)


def linewidths(omega_meV) -> EpwLinewidths:
    omega = np.asarray(omega_meV, dtype=float)
    n = len(omega)
    return EpwLinewidths(q_index=np.repeat(np.arange(1, n // 3 + 1), 3), mode=np.tile([1, 2, 3], n // 3),
                         omega_meV=omega, linewidth_meV=np.zeros(n))


def test_imaginary_interpolated_modes_are_counted_beyond_the_threshold():
    fine = check_interpolated_phonons(linewidths([1e-6, 2e-6, -1e-6, 10.0, 10.0, 20.0]), threshold_meV=0.5)
    assert fine.passed and fine.n_qpoints == 2 and fine.lowest_frequency_meV == pytest.approx(-1e-6)
    bad = check_interpolated_phonons(linewidths([0.0, 0.0, 0.0, -3.0, -0.4, 20.0]), threshold_meV=0.5)
    assert not bad.passed and bad.n_imaginary_modes == 1 and bad.lowest_frequency_meV == -3.0
