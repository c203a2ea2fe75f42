"""matdyn.x 6.7 writes an all-NaN DOS with some acoustic sum rules: the Maker tries the next rule."""

import shutil

import numpy as np
import pytest
from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from betenet.workflows.makers import MatdynMaker
from betenet.workflows.outputs import QETaskDoc
from tests.conftest import FIXTURES, require_qe

pytestmark = pytest.mark.qe
CASES = {"Ba_bcc.fc": ("Ba", 5.02, "simple"), "Mo_bcc.fc": ("Mo", 3.16, "crystal")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matdyn_dos_falls_back_to_a_working_sum_rule(name, tmp_path):
    require_qe("matdyn.x")
    element, a, expected_asr = CASES[name]
    q2r_dir = tmp_path / "q2r"
    q2r_dir.mkdir()
    shutil.copy(FIXTURES / "qe-6.7" / "matdyn-nan" / name, q2r_dir / "force_constants.fc")
    q2r = QETaskDoc(program="q2r", label="q2r", dir_name=str(q2r_dir), wall_time_s=0.0)
    structure = Structure.from_spacegroup("Im-3m", Lattice.cubic(a), [element], [[0, 0, 0]]).get_primitive_structure()
    job = MatdynMaker(dos_grid=(12, 12, 12), ndos=200).make(q2r, structure, (2, 2, 2))
    out = run_locally(job, create_folders=True, root_dir=tmp_path, log=False, ensure_success=True)[job.uuid][1].output
    assert out.parameters["asr"] == expected_asr  # the rule that gave a finite DOS is the one recorded
    omega = np.asarray(out.phonon_dos.omega_meV)
    total = np.asarray(out.phonon_dos.total_states_per_meV)
    assert np.isfinite(total).all() and total.max() > 0
    assert np.trapezoid(total, omega) == pytest.approx(3.0, rel=0.05)  # 3 modes per atom
