"""k-grid convergence of λ(σ) (`converge`): the step logic as pure functions, the options, the identity,
the smearing-sensitivity flag, and one real two-grid run on fcc Al (preset `test`, 8³ then 16³)."""

from __future__ import annotations

from pathlib import Path

import pytest

from betenet.store.documents import A2FData, ConvergenceStep
from betenet.workflows.convergence import (
    SMEARING_SENSITIVE,
    UNCONVERGED,
    converged_smearing_index,
    convergence_verdict,
    next_kgrid,
    smearing_sensitivity,
    step_differences,
)
from betenet.workflows.flows import ElectronPhononMaker
from betenet.workflows.presets import InvalidOptionError, resolve_settings
from betenet.workflows.quality import quality_of
from tests.test_workflow_cli import assert_one_line_error, assert_store_unchanged, betenet, home_with_one_document
from tests.test_workflow_electron_phonon import run_al
from tests.test_workflow_handlers import fcc_al

__all__ = ["home_with_one_document"]  # the fixture, for the CLI test

SIGMAS = [0.01, 0.02, 0.03, 0.04]


def step(lambdas, omega_logs=(300.0,) * 4, kgrid=(16, 16, 16), wall=10.0) -> ConvergenceStep:
    return ConvergenceStep(kgrid=kgrid, smearing_Ry=SIGMAS, lambda_=list(lambdas), omega_log_K=list(omega_logs),
                           wall_time_s=wall)


def test_agreement_is_the_larger_of_the_lambda_and_omega_log_differences():
    a = step([0.50, 0.40, 0.40, 0.40], [300, 300, 300, 300])
    b = step([0.40, 0.41, 0.40, 0.40], [300, 330, 300, 300], kgrid=(24, 24, 24))
    assert step_differences(a, b) == pytest.approx([0.2, 30 / 330, 0.0, 0.0])


def test_smallest_smearing_from_which_on_the_grids_agree():
    coarse = step([0.20, 0.35, 0.39, 0.40])
    fine = step([0.30, 0.37, 0.40, 0.40], kgrid=(24, 24, 24))
    assert converged_smearing_index(coarse, fine, 0.06) == 1  # 0.35 vs 0.37: 5.4 %
    assert converged_smearing_index(coarse, fine, 0.05) == 2
    assert converged_smearing_index(coarse, fine, 0.01) == 3
    # a chance crossing at a small σ with disagreement above it is not convergence
    crossing = step([0.20, 0.45, 0.39, 0.40], kgrid=(24, 24, 24))
    assert converged_smearing_index(coarse, crossing, 0.05) == 2
    assert converged_smearing_index(coarse, step([0.1, 0.1, 0.1, 0.1]), 0.05) is None


def test_verdict_waits_for_a_second_grid_then_chooses_or_gives_up():
    first = step([0.20, 0.35, 0.39, 0.40], kgrid=(8, 8, 8), wall=5.0)
    assert convergence_verdict([first], 0.05, 3, 0.02) is None
    apart = step([0.30, 0.45, 0.50, 0.52], kgrid=(16, 16, 16), wall=7.0)
    assert convergence_verdict([first, apart], 0.05, 3, 0.02) is None  # a third grid is due
    given_up = convergence_verdict([first, apart], 0.05, 2, 0.02)
    assert not given_up.converged and given_up.chosen_smearing_Ry == 0.02  # the default, never a made-up choice
    assert "16×16×16" in given_up.reason and "23.1%" in given_up.reason
    assert given_up.wall_time_s == 12.0 and len(given_up.steps) == 2
    close = step([0.28, 0.44, 0.51, 0.52], kgrid=(24, 24, 24), wall=9.0)
    done = convergence_verdict([first, apart, close], 0.05, 3, 0.02)
    assert done.converged and done.chosen_smearing_Ry == 0.02 and done.wall_time_s == 21.0
    assert "16×16×16 and 24×24×24" in done.reason


def test_next_grid_stays_a_multiple_of_the_scf_grid():
    assert next_kgrid((16, 16, 16), (8, 8, 8), 1) == (24, 24, 24)
    assert next_kgrid((12, 12, 6), (6, 6, 3), 2) == (24, 24, 12)


def a2f(index: int, lambda_: float) -> A2FData:
    return A2FData(smearing_Ry=0.005 * index, smearing_index=index, omega_meV=[1.0], a2f=[0.0], lambda_=lambda_,
                   omega_log_K=300.0, omega_2_K=310.0, tc_K=1.0, mu_star=0.1)


def test_smearing_sensitivity_flag_at_the_reported_smearing():
    steep = [a2f(i, lam) for i, lam in enumerate([0.20, 0.30, 0.40, 0.42], start=1)]
    assert smearing_sensitivity(steep, 3) == pytest.approx(0.25)  # towards 0.30
    assert smearing_sensitivity(steep, 4) == pytest.approx(0.02 / 0.42)  # one neighbour at the end
    al = fcc_al()
    quality = quality_of(resolve_settings("test"), al, None, None, steep[2], [], a2f_all=steep)
    assert quality.smearing_sensitivity == pytest.approx(0.25) and quality.flags == [SMEARING_SENSITIVE]
    assert quality_of(resolve_settings("test"), al, None, None, steep[3], [], a2f_all=steep).flags == []


def test_converge_options_fail_before_any_job_naming_the_option():
    for option, value in [("converge_tolerance", 0.0), ("converge_tolerance", 1.5), ("converge_max_steps", 1),
                          ("converge_k_step", 0)]:
        with pytest.raises(InvalidOptionError, match=f"Invalid {option}={value}"):
            ElectronPhononMaker.from_preset("test", converge=True, **{option: value})
    with pytest.raises(InvalidOptionError, match="Invalid converge=True with q_split=2"):
        ElectronPhononMaker.from_preset("test", converge=True, q_split=2)


@pytest.mark.parametrize("verb", [("run",), ("submit", "--engine", "fireworks")])
def test_cli_converge_flag_maps_onto_the_option(verb, home_with_one_document, tmp_path):
    al = tmp_path / "Al.cif"
    fcc_al().to(filename=str(al))
    result = betenet(*verb, al, "--preset", "test", "--converge", "--set", "q_split=2", home=home_with_one_document)
    assert_one_line_error(result, "Invalid converge=True with q_split=2")
    assert_store_unchanged(home_with_one_document)


def test_identity_is_the_requested_protocol_not_the_steps():
    plain = ElectronPhononMaker.from_preset("test").settings
    assert not {"converge", "converge_tolerance", "converge_max_steps", "converge_k_step"} & set(plain.physics())
    converge = ElectronPhononMaker.from_preset("test", converge=True).settings
    more_steps = ElectronPhononMaker.from_preset("test", converge=True, converge_max_steps=5, converge_k_step=2)
    assert converge.physics() == more_steps.settings.physics() != plain.physics()
    assert converge.physics()["converge_tolerance"] == 0.05


@pytest.mark.qe
def test_two_grid_run_on_al(tmp_path):
    """8³ then 16³ dense grids (scf 8³, q 2³): every step stored, the choice follows the pure verdict."""
    # tolerance 8.5 %: the 8³ and 16³ grids part by 7.2–7.9 % at σ = 0.045 Ry and 9.2–10.2 % at 0.040 Ry (the
    # range: serial vs 2 pools), so the choice sits between them whatever the parallelisation
    doc, count, _ = run_al(tmp_path, kgrid_elph=(8, 8, 8), converge=True, converge_max_steps=2,
                           converge_tolerance=0.085)
    conv = doc.quality.convergence
    assert count == 1 and doc.status == "ok"
    assert [s.kgrid for s in conv.steps] == [(8, 8, 8), (16, 16, 16)]
    assert doc.parameters.kgrid_elph == (16, 16, 16)  # the document reports the last grid
    # the 16³ step is the plain test-preset run: λ(0.020 Ry) = 0.401 there
    assert conv.steps[1].lambda_[3] == pytest.approx(0.401, abs=2e-3)
    assert conv.steps[1].lambda_ == pytest.approx([a.lambda_ for a in doc.a2f_all])
    expected = convergence_verdict(conv.steps, 0.085, 2, 0.020)
    assert (conv.converged, conv.chosen_smearing_Ry) == (expected.converged, expected.chosen_smearing_Ry)
    # 8³ resolves only the largest smearings (λ 0.404 vs 0.374 at 0.045 Ry, 0.353 vs 0.400 at 0.020 Ry)
    assert conv.converged and conv.chosen_smearing_Ry == pytest.approx(0.045)
    assert doc.a2f.smearing_Ry == pytest.approx(0.045) == doc.parameters.chosen_smearing_Ry
    assert doc.lambda_ == pytest.approx(conv.steps[1].lambda_[-2]) and UNCONVERGED not in doc.quality.flags
    # every step's runs are in the provenance; the cost is their QE wall time
    assert {"scf_la2F step1", "ph_elph step1", "matdyn_elph step1", "scf_la2F", "ph_elph"} <= set(
        doc.provenance.run_dirs)
    assert all(Path(d).is_dir() for d in doc.provenance.run_dirs.values())
    assert conv.wall_time_s == pytest.approx(sum(s.wall_time_s for s in conv.steps)) and conv.wall_time_s > 0
