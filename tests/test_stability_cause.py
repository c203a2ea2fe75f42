"""The cause of imaginary phonon modes, on real outputs of this repository's runs (no QE is started:
phonopy reads the committed q2r.x force constants, the parser the committed ph.x outputs)."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from betenet.parsers.ph import parse_ph_output
from betenet.physics import BOHR_TO_ANGSTROM
from betenet.qe.structure import qe_symmetric_cell
from betenet.store.documents import StabilityData
from betenet.workflows.instability import (
    CauseThresholds,
    ModeSample,
    classify,
    force_constant_samples,
    sample_from_ph_output,
)
from betenet.workflows.presets import resolve_settings
from betenet.workflows.remedy import next_remedy
from betenet.workflows.stability import phonopy_from_q2r
from tests.conftest import FIXTURES

CAUSES = FIXTURES / "qe-6.7" / "stability-causes"
THRESHOLDS = CauseThresholds(threshold_meV=0.5)


def _classify_fc(cif: str, fc, qgrid, mesh=(16, 16, 16)):
    """`cif`: the structure the force constants `fc` were computed for, kept in the same fixture folder."""
    structure = qe_symmetric_cell(Structure.from_file(fc.parent / cif))
    return classify(force_constant_samples(phonopy_from_q2r(structure, fc), qgrid, mesh), THRESHOLDS)


def test_simple_cubic_al_is_genuinely_unstable_at_the_zone_boundary():
    """ph.x on sc Al (a = 5 bohr, 2×2×2): imaginary at the directly computed M and X points."""
    ph = parse_ph_output(FIXTURES / "broken" / "ph_unstable_sc_al.out")
    assert ph.alat_bohr == 5.0
    finding = classify([sample_from_ph_output(ph, Lattice.cubic(5.0 * BOHR_TO_ANGSTROM))], THRESHOLDS)
    assert finding.cause == "genuine" and "directly computed" in finding.reason
    worst = finding.modes[0]
    assert worst.direct and worst.branch == 0 and worst.frequency_meV == pytest.approx(-22.25, abs=0.01)
    assert sorted(abs(x) for x in worst.q_crystal) == [0.0, 0.5, 0.5]  # M = (0, ½, ½)·2π/a
    assert worst.q_norm_invA == pytest.approx(np.sqrt(2) * np.pi / (5.0 * BOHR_TO_ANGSTROM), rel=1e-6)
    assert {round(m.frequency_meV, 2) for m in finding.modes} >= {-22.25, -14.05}  # X = (0, 0, ½) too


def test_the_q_grid_points_of_q2r_force_constants_are_what_ph_x_computed():
    """The 'direct' evidence from force constants: the Fourier sum reproduces ph.x's frequencies at the
    grid's own points (fcc Al fixture, 2×2×2: within 0.002 meV, Γ's sum-rule residual included)."""
    from tests.al_chain import al_structure

    ph = parse_ph_output(FIXTURES / "qe-6.7" / "al" / "elph.out")
    direct = sample_from_ph_output(ph, al_structure().lattice)
    from betenet.workflows.instability import sample_from_phonopy

    again = sample_from_phonopy(phonopy_from_q2r(al_structure(), FIXTURES / "qe-6.7" / "al" / "al.fc"),
                                direct.q_frac, "fc", direct=True)
    assert np.abs(again.frequencies_meV - direct.frequencies_meV).max() < 0.002
    assert np.allclose(again.q_norm_invA, direct.q_norm_invA, atol=1e-9)


@pytest.mark.parametrize("element,cif,gamma_meV", [("Ag", "Ag_fcc.cif", -1.85), ("In", "In_bct.cif", -0.82),
                                                    ("Pd", "Pd_fcc.cif", -1.61)])
def test_preset_fast_metals_stored_unstable_are_a_gamma_residual(element, cif, gamma_meV):
    """Ag, In, Pd (preset fast, stored 'unstable' by < 1.6 meV): only the acoustic modes at Γ itself are
    imaginary — ph.x's sum-rule residual — every other grid and mesh point is real."""
    finding = _classify_fc(cif, CAUSES / f"{element}_coarse.fc", (2, 2, 2))
    assert finding.cause == "acoustic_gamma", finding.reason
    assert {m.q_norm_invA for m in finding.modes} == {0.0} and {m.branch for m in finding.modes} == {0}
    assert finding.modes[0].frequency_meV == pytest.approx(gamma_meV, abs=0.01)


def test_fcc_pb_el_ph_grid_is_imaginary_at_its_own_points():
    """fcc Pb, preset fast, 3×3×3 el-ph force constants: −4.83 meV at q = (⅓, 0, ⅓)-type grid points, so
    genuine at these settings (the remedy ladder's denser k-grid decides)."""
    finding = _classify_fc("Pb_seed21.cif", FIXTURES / "qe-6.7" / "pb-elph-unstable" / "force_constants.fc", (3, 3, 3))
    assert finding.cause == "genuine"
    direct = [m for m in finding.modes if m.direct]
    assert direct[0].frequency_meV == pytest.approx(-4.83, abs=0.01) and direct[0].branch == 0
    assert sorted(abs(round(3 * x)) for x in direct[0].q_crystal) == [0, 1, 1]
    assert finding.modes[0].frequency_meV == pytest.approx(-4.91, abs=0.01)  # the mesh finds a little lower


def test_bcc_nb_el_ph_grid_dips_only_between_its_points():
    """bcc Nb, preset fast (74 Ry, el-ph q 4³), regenerated at the campaign's settings: every one of the 64 grid
    points is real (lowest: Γ's 0.59 meV residual), but the interpolation dips to −3.31 meV at
    q = (−1/16, 1/16, 1/8), |q| = 0.38 Å⁻¹ — the q-grid, not the physics (Nb is stable; Tc 9.3 K)."""
    finding = _classify_fc("Nb_seed305.cif", CAUSES / "Nb_elph.fc", (4, 4, 4))
    assert finding.cause == "interpolation" and "every directly computed q-point is real" in finding.reason
    assert not any(m.direct for m in finding.modes)
    worst = finding.modes[0]
    assert worst.frequency_meV == pytest.approx(-3.31, abs=0.01) and worst.branch == 0
    assert worst.q_norm_invA == pytest.approx(0.379, abs=0.001)
    ph = parse_ph_output(CAUSES / "Nb_elph_ph.out")  # ph.x's own frequencies at the 8 irreducible points
    assert len(ph.q_points) == 8 and min(q.frequencies_meV.min() for q in ph.q_points) > 0


@pytest.mark.parametrize("cif,fc", [("Ba_seed15.cif", "Ba_bcc.fc"), ("Mo_seed610.cif", "Mo_bcc.fc")])
def test_stable_preset_fast_metals_have_no_cause(cif, fc):
    finding = _classify_fc(cif, FIXTURES / "qe-6.7" / "matdyn-nan" / fc, (2, 2, 2))
    assert finding.cause is None and finding.modes == ()


def _near_gamma(omegas_meV, q_norms_invA) -> ModeSample:
    """One acoustic branch imaginary at the given |q| (the other two and the optical ones real)."""
    n = len(q_norms_invA)
    frequencies = np.column_stack([omegas_meV, np.full(n, 5.0), np.full(n, 6.0)])
    q_frac = np.column_stack([np.asarray(q_norms_invA) / 10, np.zeros(n), np.zeros(n)])
    return ModeSample("mesh", False, q_frac, np.asarray(q_norms_invA), frequencies)


def test_an_acoustic_branch_growing_with_q_is_an_elastic_instability():
    real_grid = ModeSample("q-grid", True, np.zeros((1, 3)), np.zeros(1), np.array([[0.0, 0.0, 0.0]]))
    growing = _near_gamma([-1.0, -2.0, -3.1], [0.05, 0.10, 0.15])  # |ω| ∝ |q|: a negative elastic constant
    assert classify([real_grid, growing], THRESHOLDS).cause == "genuine"
    residual = _near_gamma([-3.0, -2.0, -1.0], [0.05, 0.10, 0.15])  # largest next to Γ, decaying away
    assert classify([real_grid, residual], THRESHOLDS).cause == "acoustic_gamma"
    far = _near_gamma([-1.0, -1.0, -1.0], [0.5, 0.6, 0.7])  # beyond the Γ radius: between the grid points
    assert classify([real_grid, far], THRESHOLDS).cause == "interpolation"


def test_threshold_options_out_of_range_fail_before_any_job():
    from betenet.workflows import ElectronPhononMaker
    from betenet.workflows.presets import InvalidOptionError

    for option, value in (("gamma_radius_invA", 0.0), ("born_growth_ratio", 1.0), ("remedy_max_attempts", 9),
                          ("remedy_k_factor", 1), ("gamma_residual_max_fraction", 0.0)):
        with pytest.raises(InvalidOptionError, match=option):
            ElectronPhononMaker.from_preset("test", **{option: value})
    with pytest.raises(ValueError, match="gamma_radius_invA"):
        CauseThresholds(threshold_meV=0.5, gamma_radius_invA=-1.0)


def _verdict(cause, stable, gamma_meV=0.5) -> StabilityData:
    return StabilityData(stable=stable, lowest_frequency_meV=-3.0 if not stable else 0.0, threshold_meV=0.5,
                         qgrid=(2, 2, 2), cause=cause, cause_reason="test", gamma_acoustic_meV=gamma_meV)


def test_the_ladder_tries_denser_k_then_gives_a_final_verdict():
    settings = resolve_settings("test")
    ran = {"kgrid_scf": (8, 8, 8), "qgrid_coarse": (2, 2, 2), "ecutrho_Ry": 60.0}
    rung, overrides, why = next_remedy(_verdict("genuine", False), settings, None, ran, [])
    assert rung == "denser_k" and overrides == {"kgrid_scf": (16, 16, 16), "kgrid_elph": (16, 16, 16)}
    from betenet.workflows.remedy import attempt_record

    tried = [attempt_record(1, rung, overrides, why, _verdict("genuine", False), 12.0)]
    assert next_remedy(_verdict("genuine", False), settings, None, ran, tried) is None  # survives: genuine
    rung, overrides, _ = next_remedy(_verdict("interpolation", False), settings, None, ran, [])
    assert (rung, overrides) == ("denser_q", {"qgrid_coarse": (3, 3, 3)})
    two = tried * settings.remedy_max_attempts
    assert next_remedy(_verdict("interpolation", False), settings, None, ran, two) is None  # bounded
    assert next_remedy(_verdict(None, True), settings, None, ran, []) is None  # nothing to remedy


def test_the_ladder_raises_ecutrho_for_a_large_gamma_residual():
    from betenet.store.documents import PhononDosData

    settings = resolve_settings("test")
    dos = PhononDosData(omega_meV=[0.0, 10.0, 21.0], total_states_per_meV=[0, 1, 0],
                        projected_states_per_meV=[[0, 1, 0]], site_labels=["Na1"], qgrid=(2, 2, 2))
    ran = {"kgrid_scf": (8, 8, 8), "qgrid_coarse": (2, 2, 2), "ecutrho_Ry": 60.0}
    na_like = _verdict(None, True, gamma_meV=14.56)  # bcc Na in the campaign: 69 % of the top frequency
    rung, overrides, why = next_remedy(na_like, settings, dos, ran, [])
    assert (rung, overrides) == ("higher_ecutrho", {"ecutrho_Ry": 120.0}) and "69 %" in why
    assert next_remedy(_verdict(None, True, gamma_meV=1.0), settings, dos, ran, []) is None  # 5 %: fine


def test_preset_fast_reruns_carry_their_causes_and_attempts():
    """Li, Pb, α-Hg, V rerun at preset fast's settings (fixtures/stability-reruns): every non-ok document says
    why with a cause, the ladder's attempts are recorded, and only 'ok' has numbers."""
    from betenet.store.transfer import read_documents

    docs = {d.formula_pretty: d for d in read_documents(FIXTURES / "stability-reruns" / "documents.json.gz")}
    assert {f: (d.status, d.stability.cause) for f, d in docs.items()} == {
        "Li": ("ok", None), "Pb": ("unstable", "genuine"), "Hg": ("unstable", "genuine"), "V": ("unresolved", "interpolation")}
    for formula in ("Li", "Pb"):
        (attempt,) = docs[formula].stability.remedy_attempts
        assert attempt.change["rung"] == "higher_ecutrho" and attempt.stable and attempt.wall_time_s > 0
    assert docs["Li"].lambda_ == pytest.approx(0.42, abs=0.01) and docs["Li"].a2f is not None
    for formula in ("Pb", "Hg", "V"):
        doc = docs[formula]
        assert doc.a2f is None and doc.lambda_ is None and doc.stability.cause_grid == "elph"
        assert doc.stability.cause in doc.status_reason and doc.stability.imaginary_modes
    assert any(m.direct for m in docs["Hg"].stability.imaginary_modes)
    assert not any(m.direct for m in docs["V"].stability.imaginary_modes)
