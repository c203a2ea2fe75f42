"""pw.x's FFT grid and the crystal's rotations: bct In at the remedy ladder's doubled ecutrho (560 Ry), where
pw.x's own grid (48, 48, 50) made ph.x stop in phq_setup (campaign, 2026-12-01), now runs with (50, 50, 50)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pymatgen.core import Structure

from betenet.qe.grids import symmetric_fft_grid
from betenet.qe.structure import qe_symmetric_cell
from betenet.settings import override_settings
from betenet.workflows.makers import PwMaker
from betenet.workflows.outputs import QETaskDoc
from tests.conftest import SHARED, require_qe
from tests.test_workflow_handlers import run_job

IN_BCT = Path(__file__).resolve().parents[1] / "fixtures" / "campaign" / "structures" / "In_bct.cif"
DOJO = SHARED / "pseudo" / "pseudodojo-nc-sr-pbe-standard-0.4.1"
# ph.x at Γ, one representation only (seconds): its setup checks the FFT grid against the symmetry
PH_SETUP_ONLY = """&inputph
  prefix = 'betenet', outdir = 'out', fildyn = 'dyn', tr2_ph = 1e-12, start_irr = 1, last_irr = 1
/
0.0 0.0 0.0
"""


def indium():
    return qe_symmetric_cell(Structure.from_file(IN_BCT))


def test_coupled_directions_get_one_size_and_cubic_cells_are_left_to_pw():
    assert symmetric_fft_grid(indium(), 560.0) == (50, 50, 50)  # pw.x chose (48, 48, 50)
    assert symmetric_fft_grid(indium(), 280.0) is None  # pw.x's (36, 36, 36) is already symmetric
    cubic = qe_symmetric_cell(Structure.from_file(IN_BCT.with_name("Al_fcc.cif")))
    assert symmetric_fft_grid(cubic, 160.0) is None


def _pw_then_ph_setup(tmp_path, system_extra: dict) -> tuple[str, str]:
    params = {"system": {"ecutwfc": 70.0, "ecutrho": 560.0, "occupations": "smearing", "smearing": "mv",
                         "degauss": 0.02, **system_extra}, "electrons": {"conv_thr": 1e-8}}
    with override_settings(pseudo_dir=DOJO):
        scf = QETaskDoc.model_validate(run_job(PwMaker(parameters=params, kgrid=(2, 2, 2)).make(indium()), tmp_path))
    pw_out = (Path(scf.dir_name) / "pw.out").read_text()
    (Path(scf.dir_name) / "ph.in").write_text(PH_SETUP_ONLY)
    ph = subprocess.run(["ph.x", "-in", "ph.in"], cwd=scf.dir_name, capture_output=True, text=True, timeout=600)
    return pw_out, ph.stdout + ph.stderr


@pytest.mark.qe
def test_ph_x_accepts_the_symmetric_grid_and_refuses_pw_x_s_own(tmp_path):
    require_qe("pw.x", "ph.x")
    pw_out, ph_out = _pw_then_ph_setup(tmp_path / "fixed", {})
    assert "FFT dimensions: (  50,  50,  50)" in pw_out
    assert "FFT grid incompatible with symmetry" not in ph_out
    assert "Convergence has been achieved" in ph_out and "JOB DONE" in ph_out
    # the grid pw.x picks by itself, given explicitly: ph.x stops, as in the campaign
    _, ph_out = _pw_then_ph_setup(tmp_path / "pw_choice", {"nr1": 48, "nr2": 48, "nr3": 50})
    assert "FFT grid incompatible with symmetry" in ph_out
