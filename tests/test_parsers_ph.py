"""parse_ph_output on real ph.x runs: the fcc-Al el-ph run, a partial, a stalled and an unstable run."""

from __future__ import annotations

import numpy as np
import pytest

from betenet.parsers import ParseError, parse_lambda_output, parse_ph_output
from betenet.physics import CM1_TO_MEV
from conftest import FIXTURES

AL = FIXTURES / "qe-6.7" / "al"
BROKEN = FIXTURES / "broken"
RY_TO_THZ = 3289.841960250  # QE's constants.f90: Ry/h in THz (1 GHz = 1e-3 THz)
LAMBDA_CUTOFF_CM1 = 20.0  # elphsum sets λ = 0 for modes below 20 cm⁻¹


@pytest.fixture(scope="module")
def elph():
    return parse_ph_output(AL / "elph.out")


def test_run_summary(elph):
    assert elph.qe_version.startswith("6.7")
    assert elph.ok and elph.complete and elph.has_elph
    assert elph.n_atoms == 1
    assert elph.q_grid == (2, 2, 2)
    assert len(elph.q_points) == len(elph.grid_q_points_cart_2pi_alat) == 3
    assert [q.index for q in elph.q_points] == [1, 2, 3]
    # The stars of the irreducible q-points tile the whole 2×2×2 grid.
    assert sum(q.star_size for q in elph.q_points) == 8
    assert elph.wall_time_s > 0


def test_frequencies_are_physical(elph):
    gamma = elph.q_points[0]
    assert np.allclose(gamma.q_cart_2pi_alat, 0)
    # Acoustic modes at Γ vanish up to the ASR violation ph.x leaves (a few cm⁻¹).
    assert np.all(np.abs(gamma.frequencies_cm1) < 10)
    for q in elph.q_points:
        assert q.frequencies_cm1.shape == (3,) and q.converged
        assert np.allclose(q.frequencies_meV, q.frequencies_cm1 * CM1_TO_MEV)
        assert np.allclose(q.frequencies_thz * 1e12 / 2.99792458e10, q.frequencies_cm1, rtol=1e-5)
    # Al's phonons end near 40 meV (Debye temperature ≈ 430 K).
    assert 35 < max(q.frequencies_meV.max() for q in elph.q_points) < 45
    assert elph.lowest_frequency_cm1 == pytest.approx(gamma.frequencies_cm1.min())


def test_elph_blocks_per_smearing(elph):
    for q in elph.q_points:
        assert np.allclose(q.sigmas_ry, 0.005 * np.arange(1, 11))
        assert q.lambda_per_mode.shape == q.gamma_per_mode_GHz.shape == (10, 3)
        assert all(block.ngauss == 0 and 7 < block.fermi_energy_ev < 9 for block in q.elph)
    # λ of Γ's acoustic modes is zeroed by ph.x (below its 20 cm⁻¹ threshold).
    assert np.all(elph.q_points[0].lambda_per_mode == 0)


def test_lambda_follows_from_gamma_frequency_and_dos(elph):
    """λ_qν = γ_qν / (π N(E_F) ω_qν²) in Ry units, within the printed rounding."""
    checked = 0
    for q in elph.q_points:
        omega_ry = q.frequencies_thz / RY_TO_THZ
        for block in q.elph:
            for omega, lam, gamma in zip(omega_ry, block.lambda_per_mode, block.gamma_per_mode_GHz):
                if omega * RY_TO_THZ * 33.35641 < LAMBDA_CUTOFF_CM1:
                    continue
                expected = (gamma / 1e3 / RY_TO_THZ) / (np.pi * block.dos_ef_states_per_spin_ry * omega**2)
                assert lam == pytest.approx(expected, abs=6e-4, rel=0.02)
                checked += 1
    assert checked == 2 * 3 * 10


def test_star_weighted_lambda_is_what_lambda_x_reports(elph):
    """Σ_q w_q Σ_ν λ_qν / Σ_q w_q with the parsed star sizes = lambda.x's λ per smearing."""
    weights = np.array([q.star_size for q in elph.q_points], dtype=float)
    per_q = np.array([q.lambda_per_mode.sum(axis=1) for q in elph.q_points])  # (n_q, n_sigma)
    lam = weights @ per_q / weights.sum()
    reported = parse_lambda_output(AL / "lambda.out").lambdas
    assert np.allclose(lam, reported, atol=3e-4)


def test_partial_run_keeps_grid_positions():
    part = parse_ph_output(BROKEN / "ph_partial_q2-3.out")  # real run, start_q=2, last_q=3
    assert part.ok and not part.complete and not part.has_elph
    assert len(part.grid_q_points_cart_2pi_alat) == 3
    assert [q.index for q in part.q_points] == [2, 3]
    for q in part.q_points:
        assert np.allclose(q.q_cart_2pi_alat, part.grid_q_points_cart_2pi_alat[q.index - 1])
        assert q.frequencies_cm1.shape == (3,) and q.frequencies_cm1.min() > 100


def test_stalled_linear_response_is_not_converged():
    stalled = parse_ph_output(BROKEN / "ph_not_converged.out")  # real run, niter_ph = 1
    assert stalled.job_done and not stalled.converged and not stalled.ok
    (q,) = stalled.q_points
    assert q.index is None and np.allclose(q.q_cart_2pi_alat, [0, 0, 0.5])
    assert [irrep.converged for irrep in q.irreps] == [False]
    assert q.frequencies_cm1.size == 0


def test_imaginary_modes_keep_their_sign():
    unstable = parse_ph_output(BROKEN / "ph_unstable_sc_al.out")  # simple-cubic Al, 2×2×2 q
    assert unstable.ok
    assert unstable.lowest_frequency_cm1 < -100
    negative = {q.index: int((q.frequencies_cm1 < 0).sum()) for q in unstable.q_points}
    assert negative[1] == 0 and sum(negative.values()) >= 2
    assert np.all(np.sign(unstable.q_points[1].frequencies_meV) == np.sign(unstable.q_points[1].frequencies_cm1))


def test_partial_irrep_run_has_no_frequencies_and_is_incomplete():
    part = parse_ph_output(BROKEN / "ph_partial_irr1_of_q2.out")  # real run, start_irr=last_irr=1
    assert part.ok and not part.complete
    (q,) = part.q_points
    assert q.index == 2 and q.converged and not q.complete
    assert [irrep.index for irrep in q.irreps] == [1] and q.irreps_not_done == (2,)
    assert q.frequencies_cm1.size == 0  # ph.x does not diagonalise an incomplete dynamical matrix


def test_walltime_stop_mid_qpoint_leaves_it_incomplete():
    stopped = parse_ph_output(BROKEN / "ph_walltime_stop_in_q2.out")  # real run cut by max_seconds
    assert stopped.ok and not stopped.complete
    first, second = stopped.q_points
    assert first.index == 1 and first.complete and first.frequencies_cm1.size == 3
    # irrep 1 of q 2 converged, irrep 2 was cut off: no dynamical matrix, so no frequencies
    assert second.index == 2 and not second.complete and second.frequencies_cm1.size == 0
    assert [irrep.index for irrep in second.irreps] == [1] and second.irreps_to_do == (1, 2)


def test_full_run_lists_every_irrep_as_to_be_done(elph):
    for q in elph.q_points:
        assert q.complete and q.irreps_not_done == () and q.irreps_done_before == ()
        assert sorted(m for irrep in q.irreps for m in irrep.modes) == [1, 2, 3]


def test_a_killed_run_is_read_up_to_the_qpoint_it_was_computing():
    # fixtures/broken/ph_truncated.out: the recorded Al el-ph run cut 40 lines into its third q-point
    killed = parse_ph_output(BROKEN / "ph_truncated.out", truncated_ok=True)
    whole = parse_ph_output(FIXTURES / "qe-6.7" / "al" / "elph.out")
    assert not killed.job_done
    assert [q.index for q in killed.q_points] == [1, 2]  # q3 was running: not final, left out
    for ours, theirs in zip(killed.q_points, whole.q_points[:2]):
        assert np.array_equal(ours.frequencies_cm1, theirs.frequencies_cm1)
        assert len(ours.elph) == len(theirs.elph) == 10
    with pytest.raises(ParseError, match="truncated ph.x output"):
        parse_ph_output(BROKEN / "ph_truncated.out")  # without the flag a cut output is refused
