"""The remedy ladder in a real run: an artefact of too coarse a k-grid is repaired and stored 'ok'."""

from __future__ import annotations

import pytest
from ase.build import bulk
from pymatgen.io.ase import AseAtomsAdaptor

from betenet.settings import override_settings
from betenet.workflows.flows import ElectronPhononMaker
from betenet.workflows.local import run_structure
from tests.conftest import DEBIAN_PSEUDO_DIR, require_qe

pytestmark = pytest.mark.qe


def test_fcc_pb_on_a_coarse_k_grid_is_repaired_by_a_denser_one(tmp_path):
    """fcc Pb (a = 4.88 Å, Debian's ultrasoft LDA Pb.pz-d-van.UPF at a cheap 20/80 Ry) on a 4³ scf k-grid with 0.01 Ry
    smearing: ph.x finds −13.8 meV at X, a directly computed point. The ladder's first rung doubles the k-grid;
    on 8³ every mode is real, so the material goes on to α²F and is stored 'ok' with the attempt recorded.
    (The experimentally stable Pb phonons need a k-grid that resolves its Fermi surface; 4³ does not.)"""
    require_qe("pw.x", "ph.x", "q2r.x", "matdyn.x", "lambda.x")
    pb = AseAtomsAdaptor.get_structure(bulk("Pb", "fcc", a=4.88))
    with override_settings(home=tmp_path, pseudo_dir=DEBIAN_PSEUDO_DIR):
        maker = ElectronPhononMaker.from_preset("test", ecutwfc_Ry=20.0, ecutrho_Ry=80.0, kgrid_scf=(4, 4, 4),
                                                kgrid_elph=(8, 8, 8), degauss_Ry=0.01)
        requested_id, _ = maker.identity(pb)
        doc = run_structure(pb, maker)
    assert doc.status == "ok", doc.status_reason
    assert doc.calc_id == requested_id  # identity: the requested protocol, not the attempt that succeeded
    (attempt,) = doc.stability.remedy_attempts
    assert attempt.change == {"rung": "denser_k", "kgrid_scf": [8, 8, 8], "kgrid_elph": [8, 8, 8]}
    assert "imaginary at a directly computed q-point" in attempt.why and "-13.8" in attempt.why
    assert attempt.stable and attempt.cause is None and attempt.wall_time_s > 0
    assert doc.stability.stable and doc.stability.cause is None and doc.stability.lowest_frequency_meV > -0.5
    assert doc.parameters.kgrid_scf == (8, 8, 8)
    # the first attempt's runs stay in the provenance beside the ones the document's numbers come from
    assert {"before_remedy1_scf", "before_remedy1_ph_coarse", "scf", "ph_coarse", "ph_elph"} <= set(doc.provenance.run_dirs)
    assert doc.lambda_ > 0 and doc.tc_K is not None
    assert "spin_orbit_neglected" in doc.quality.flags
