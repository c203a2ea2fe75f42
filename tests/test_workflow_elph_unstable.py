"""A material that passes the coarse gate but whose el-ph force constants have imaginary modes (fcc Pb)."""

import shutil

import numpy as np
import pytest
from jobflow import run_locally
from pymatgen.core import Structure

from betenet.store.documents import PhononDosData, StabilityData
from betenet.workflows.flows import build_document
from betenet.workflows.makers import MatdynMaker
from betenet.workflows.outputs import QETaskDoc
from betenet.workflows.presets import resolve_settings
from betenet.workflows.stability import confirm_on_elph_grid, unstable_status
from tests.conftest import FIXTURES, require_qe

pytestmark = pytest.mark.qe
PB = FIXTURES / "qe-6.7" / "pb-elph-unstable"


def coarse_pass() -> StabilityData:
    return StabilityData(stable=True, lowest_frequency_meV=0.0, threshold_meV=0.5, qgrid=(2, 2, 2))


def test_fine_grid_imaginary_modes_revoke_stability_and_skip_a2f(tmp_path):
    require_qe("matdyn.x")
    batch = tmp_path / "q2r" / "sigma_batch_0"
    shutil.copytree(PB, batch)
    q2r = QETaskDoc(program="q2r", label="q2r", dir_name=str(batch.parent), wall_time_s=0.0,
                    extra_dirs=[str(batch)])
    pb = Structure.from_file(FIXTURES / "qe-6.7" / "pb-elph-unstable" / "Pb_seed21.cif").get_primitive_structure()
    job = MatdynMaker(la2F=True, dos_grid=(12, 12, 12), ndos=200, imaginary_limit_meV=0.5).make(q2r, pb, (3, 3, 3))
    out = run_locally(job, create_folders=True, root_dir=tmp_path, log=False, ensure_success=True)[job.uuid][1].output
    omega = np.asarray(out.phonon_dos.omega_meV)
    assert -8.0 < omega[0] < -3.0  # matdyn interpolates to about −5 meV
    assert out.a2f_all == [] and out.qe_lambda == []  # QE's α²F of these modes (λ < 0) is never read

    verdict = confirm_on_elph_grid(coarse_pass(), out.phonon_dos)
    assert not verdict.stable and verdict.elph_qgrid == (3, 3, 3) and verdict.cause is None  # no force constants
    assert verdict.elph_lowest_frequency_meV == pytest.approx(omega[0])
    status, reason = unstable_status(verdict)
    assert status == "unstable" and "el-ph (3, 3, 3) q-grid" in reason and f"{omega[0]:.2f} meV" in reason

    # with the el-ph grid's force constants the modes get a cause: these are imaginary at the 3×3×3 grid's own
    # points (−4.83 meV at q = (1/3, 0, 1/3), as ph.x computed them), so genuine at these settings
    doc = build_document(resolve_settings("fast"), pb, pb, "pb-test", [], {"matdyn_elph": out, "q2r_elph": q2r},
                         coarse_pass())
    assert doc.status == "unstable" and doc.stability.cause == "genuine" and doc.stability.cause_grid == "elph"
    assert "el-ph (3, 3, 3) q-grid" in doc.status_reason and "directly computed q-point" in doc.status_reason
    worst = doc.stability.imaginary_modes[0]
    direct = [m for m in doc.stability.imaginary_modes if m.direct]
    assert direct and direct[0].frequency_meV == pytest.approx(-4.83, abs=0.01) and direct[0].branch == 0
    assert sorted(abs(round(3 * x)) for x in direct[0].q_crystal) == [0, 1, 1]
    assert worst.frequency_meV <= direct[0].frequency_meV
    assert doc.a2f is None and doc.lambda_ is None and doc.tc_K is None  # no made-up numbers
    assert doc.phonon_dos_fine.omega_meV[0] == pytest.approx(omega[0]) and not doc.stability.stable


def test_fine_grid_check_keeps_a_stable_verdict_and_the_coarse_reason():
    omega = np.linspace(0.0, 40.0, 50)
    states = np.sin(np.pi * omega / 40.0)
    fine = PhononDosData(omega_meV=omega.tolist(), total_states_per_meV=states.tolist(),
                         projected_states_per_meV=[states.tolist()], site_labels=["Al1"], qgrid=(3, 3, 3),
                         dos_grid=(12, 12, 12))
    verdict = confirm_on_elph_grid(coarse_pass(), fine)
    assert verdict.stable and verdict.elph_lowest_frequency_meV == 0.0
    coarse_fail = coarse_pass().model_copy(update={"stable": False, "lowest_frequency_meV": -3.0})
    assert not confirm_on_elph_grid(coarse_fail, fine).stable  # never turns unstable into stable
    assert unstable_status(coarse_fail)[0] == "unstable" and "coarse (2, 2, 2) q-grid" in unstable_status(coarse_fail)[1]
