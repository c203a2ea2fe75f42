"""custodian handlers, each tested by driving the real QE program into the failure it handles."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from betenet.physics import BOHR_TO_ANGSTROM
from betenet.settings import override_settings
from betenet.workflows.makers import WALLTIME_MARGIN, MatdynMaker, PhMaker, PwMaker, Q2rMaker
from tests.conftest import require_qe

pytestmark = pytest.mark.qe

AL_PW = {"system": {"ecutwfc": 15.0, "ecutrho": 60.0, "smearing": "mv", "degauss": 0.05},
         "electrons": {"conv_thr": 1e-10}}


def fcc_al() -> Structure:
    a = 7.5 * BOHR_TO_ANGSTROM
    return Structure(Lattice(a / 2 * np.array([[-1, 0, 1], [0, 1, 1], [-1, 1, 0]])), ["Al"], [[0, 0, 0]])


def run_job(job, tmp_path):
    responses = run_locally(job, create_folders=True, root_dir=tmp_path, log=False, ensure_success=True)
    return responses[job.uuid][1].output


@pytest.fixture(scope="module")
def al_scf(tmp_path_factory):
    require_qe("pw.x", "ph.x")
    return run_job(PwMaker(parameters=AL_PW, kgrid=(8, 8, 8)).make(fcc_al()), tmp_path_factory.mktemp("scf"))


def test_pw_scf_not_converged_gets_more_steps_and_less_mixing(al_scf, tmp_path):
    params = {**AL_PW, "electrons": {**AL_PW["electrons"], "electron_maxstep": 2}}
    out = run_job(PwMaker(parameters=params, kgrid=(8, 8, 8)).make(fcc_al()), tmp_path)
    assert out.attempts == 2
    assert [c["handler"] for c in out.corrections] == ["PwConvergenceHandler"]
    assert out.parameters["electrons"]["electron_maxstep"] >= 100
    assert out.parameters["electrons"]["mixing_beta"] == pytest.approx(0.35)
    assert out.total_energy_Ry == pytest.approx(al_scf.total_energy_Ry, abs=1e-6)


def test_ph_not_converged_gets_more_mixing_history_and_smaller_alpha(al_scf, tmp_path):
    out = run_job(PhMaker(qgrid=(2, 2, 2), parameters={"tr2_ph": 1e-12, "niter_ph": 4}).make(al_scf.dir_name),
                  tmp_path / "bad")
    reference = run_job(PhMaker(qgrid=(2, 2, 2), parameters={"tr2_ph": 1e-12}).make(al_scf.dir_name),
                        tmp_path / "ref")
    handlers = [c["handler"] for c in out.corrections]
    assert handlers and set(handlers) == {"PhConvergenceHandler"}
    assert out.parameters["nmix_ph"] > 4 and float(out.parameters["alpha_mix"]["1"]) < 0.7
    assert out.parameters["niter_ph"] >= 100
    # both converged to tr2_ph = 1e-12 along different mixing paths: measured 0.003 meV apart
    assert out.lowest_frequency_meV == pytest.approx(reference.lowest_frequency_meV, abs=0.01)


def test_walltime_stop_restarts_from_first_unfinished_qpoint(al_scf, tmp_path):
    reference = run_job(PhMaker(qgrid=(2, 2, 2), parameters={"tr2_ph": 1e-12}).make(al_scf.dir_name),
                        tmp_path / "ref")
    # A budget of half the uninterrupted run, measured now on this machine: q1 (Gamma, ~2 % of the run)
    # fits, the last q-point does not. A fixed budget failed on a loaded CI machine, where it missed q1.
    walltime_s = 0.5 * reference.wall_time_s / WALLTIME_MARGIN
    maker = PhMaker(qgrid=(2, 2, 2), parameters={"tr2_ph": 1e-12}, walltime_s=walltime_s, max_errors=10)
    out = run_job(maker.make(al_scf.dir_name), tmp_path / "wall")
    assert out.attempts >= 2, f"ph.x finished within {walltime_s:.2f} s; reference took {reference.wall_time_s:.2f} s"
    assert {c["handler"] for c in out.corrections} == {"WalltimeHandler"}
    assert out.parameters["start_q"] > 1 and "recover" not in out.parameters
    # the pieces add up to the uninterrupted run: same phonon DOS from q2r.x + matdyn.x
    dos = [
        run_job(MatdynMaker(dos_grid=(8, 8, 8), ndos=50).make(
            run_job(Q2rMaker().make([ph.dir_name]), tmp_path / f"q2r{i}"), fcc_al(), (2, 2, 2)),
            tmp_path / f"matdyn{i}").phonon_dos
        for i, ph in enumerate((out, reference))
    ]
    assert dos[0].omega_meV[-1] == pytest.approx(dos[1].omega_meV[-1], rel=1e-3)
    assert np.allclose(dos[0].total_states_per_meV, dos[1].total_states_per_meV, atol=2e-3 * max(dos[1].total_states_per_meV))


def test_s_matrix_failure_switches_to_cg(tmp_path):
    """Two ultrasoft O atoms 0.05 Å apart: Davidson stops with 'S matrix not positive definite'."""
    require_qe("pw.x")
    pseudo_dir = tmp_path / "pseudo"
    pseudo_dir.mkdir()
    (pseudo_dir / "O.pz-rrkjus.UPF").symlink_to("/usr/share/espresso/pseudo/O.pz-rrkjus.UPF")
    o2 = Structure(Lattice.cubic(8 * BOHR_TO_ANGSTROM), ["O", "O"], [[0, 0, 0], [0, 0, 0.05 / (8 * BOHR_TO_ANGSTROM)]])
    params = {"system": {"ecutwfc": 25.0, "ecutrho": 100.0, "degauss": 0.02}, "electrons": {"conv_thr": 1e-8}}
    with override_settings(pseudo_dir=pseudo_dir):
        out = run_job(PwMaker(parameters=params, kgrid=(2, 2, 2), max_errors=2).make(o2), tmp_path / "run")
    assert [c["handler"] for c in out.corrections] == ["DiagonalizationHandler"]
    assert out.parameters["electrons"]["diagonalization"] == "cg"
    first_attempt = (tmp_path / "run").rglob("custodian.json")
    assert any("S matrix" in p.read_text() or "Cholesky" in p.read_text() for p in first_attempt)
