"""What the workflow must not compute silently: magnetic metals (a real spin-polarised check on bcc Fe stores
'unsupported' and runs no phonons) and spin–orbit coupling (the `spin_orbit_neglected` flag on Pb)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from betenet.dataset.query import StoreQuery
from betenet.settings import override_settings
from betenet.store.documents import StabilityData
from betenet.store.stores import get_store
from betenet.workflows.flows import ElectronPhononMaker, build_document, magnetism_gate
from betenet.workflows.local import run_structure
from betenet.workflows.outputs import QETaskDoc
from betenet.workflows.presets import InvalidOptionError, resolve_settings
from betenet.workflows.spin import MAGNETISM_TASK, SPIN_ORBIT_FLAG, magnetic_reason
from tests.conftest import DEBIAN_PSEUDO_DIR, require_qe
from tests.test_workflow_handlers import fcc_al

FE_PSEUDO = "Fe.pz-nd-rrkjus.UPF"  # LDA ultrasoft: the cheapest Debian Fe that runs at 25 Ry


def bcc_fe() -> Structure:
    return Structure(Lattice.cubic(2.87), ["Fe", "Fe"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def fcc_pb() -> Structure:
    return Structure(Lattice.cubic(4.95), ["Pb"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])


def unstable() -> StabilityData:
    return StabilityData(stable=False, lowest_frequency_meV=-3.0, threshold_meV=0.5, qgrid=(2, 2, 2))


def spin_check(total_muB: float, absolute_muB: float) -> QETaskDoc:
    return QETaskDoc(program="pw", label="pw", dir_name="/runs/magnetism", wall_time_s=1.0, kgrid=(8, 8, 8),
                     parameters={"system": {"ecutwfc": 25.0, "ecutrho": 200.0, "nspin": 2}},
                     total_magnetization_muB=total_muB, absolute_magnetization_muB=absolute_muB)


@pytest.mark.parametrize("bad", [0.0, -0.1, 0.6])
def test_an_out_of_range_threshold_fails_before_any_job(bad):
    with pytest.raises(InvalidOptionError, match="magnetic_moment_threshold_muB"):
        ElectronPhononMaker.from_preset("test", magnetic_moment_threshold_muB=bad)
    with pytest.raises(InvalidOptionError, match="magnetic_moment_threshold_muB"):
        ElectronPhononMaker.from_preset("test").with_options(magnetic_moment_threshold_muB=bad)


def test_the_threshold_leaves_the_document_identity_alone():
    al = fcc_al()
    with override_settings(pseudo_dir=DEBIAN_PSEUDO_DIR):
        ids = {ElectronPhononMaker.from_preset("test", magnetic_moment_threshold_muB=t).identity(al)[0]
               for t in (0.05, 0.1, 0.5)}
    assert len(ids) == 1


def test_a_non_magnetic_structure_gets_no_spin_polarised_run():
    with override_settings(pseudo_dir=DEBIAN_PSEUDO_DIR):
        maker = ElectronPhononMaker.from_preset("test")
        flow = maker.make(fcc_al())
    assert MAGNETISM_TASK not in maker.makers(fcc_al())
    names = [job.name for job, _ in flow.iterflow()]
    assert not any("spin" in name or "magnetism" in name for name in names), names
    assert names[0] == "scf"  # the Flow starts with the ordinary scf


def test_a_magnetic_structure_starts_with_the_spin_check(tmp_path):
    (tmp_path / FE_PSEUDO).symlink_to(DEBIAN_PSEUDO_DIR / FE_PSEUDO)
    with override_settings(pseudo_dir=tmp_path):
        flow = ElectronPhononMaker.from_preset("test", ecutwfc_Ry=25.0, ecutrho_Ry=200.0).make(bcc_fe())
    assert [job.name for job in flow.jobs] == ["scf spin-polarised", "magnetism_gate"]  # phonons come later
    check = flow.jobs[0].maker
    assert check.starting_magnetization == {"Fe": 0.5} and check.kgrid == (8, 8, 8)  # the scf's k-grid


def test_the_gate_continues_below_the_threshold_and_the_document_records_the_moment(tmp_path):
    fe = bcc_fe().get_primitive_structure()
    settings = resolve_settings("test", {"ecutwfc_Ry": 25.0, "ecutrho_Ry": 200.0})
    weak = spin_check(0.04, 0.05)
    assert magnetic_reason(fe, weak, settings.magnetic_moment_threshold_muB) is None
    with override_settings(pseudo_dir=tmp_path):
        (tmp_path / FE_PSEUDO).symlink_to(DEBIAN_PSEUDO_DIR / FE_PSEUDO)
        maker = ElectronPhononMaker(settings=settings)
        response = magnetism_gate.original(maker, fe, fe, "fe-weak", [], {MAGNETISM_TASK: weak})
    assert [job.name for job in response.replace.jobs][:2] == ["scf", "ph coarse"]  # the phonons run
    doc = build_document(settings, fe, fe, "fe-weak", [], {MAGNETISM_TASK: weak}, unstable())
    assert doc.status == "unstable"  # the moment is recorded, not a verdict
    assert (doc.quality.magnetic_moment_muB, doc.quality.absolute_magnetic_moment_muB) == (0.04, 0.05)
    assert doc.parameters.ecutwfc_Ry == 25.0 and doc.parameters.kgrid_scf == (8, 8, 8)


def test_the_absolute_moment_decides_even_when_the_total_cancels():
    fe = bcc_fe()  # two Fe sites: the threshold is per magnetism-prone atom
    reason = magnetic_reason(fe, spin_check(0.0, 3.0), 0.1)
    assert reason is not None and "1.50 μB per Fe atom" in reason and "total 0.00 μB per cell" in reason
    assert "magnetic_moment_threshold_muB=0.1" in reason
    assert magnetic_reason(fe, spin_check(0.1, 0.18), 0.1) is None  # 0.09 μB per atom


def test_spin_orbit_sensitive_elements_flag_the_document():
    settings = resolve_settings("fast")
    pb = build_document(settings, fcc_pb(), fcc_pb(), "pb", [], {}, unstable())
    assert pb.quality.flags == [SPIN_ORBIT_FLAG] and pb.quality.magnetic_moment_muB is None
    al = build_document(settings, fcc_al(), fcc_al(), "al", [], {}, unstable())
    assert al.quality.flags == []


@pytest.mark.qe
def test_bcc_fe_is_stored_unsupported_with_its_moment_and_no_phonons(tmp_path):
    require_qe("pw.x")
    pseudo = tmp_path / "pseudo"
    pseudo.mkdir()
    (pseudo / FE_PSEUDO).symlink_to(DEBIAN_PSEUDO_DIR / FE_PSEUDO)
    home = tmp_path / "home"
    with override_settings(home=home, pseudo_dir=pseudo):
        maker = ElectronPhononMaker.from_preset("test", ecutwfc_Ry=25.0, ecutrho_Ry=200.0)
        doc = run_structure(bcc_fe(), maker)
        with get_store() as store:
            stored = list(store.query(StoreQuery(status="unsupported", stable_only=False).criteria()))
    assert doc.status == "unsupported" and doc.nsites == 1
    # LDA at a = 2.87 Å, k 8³, 0.05 Ry smearing: 2.29 μB (bcc Fe measures ≈ 2.2 μB per atom)
    assert 2.0 < doc.quality.magnetic_moment_muB <= doc.quality.absolute_magnetic_moment_muB < 2.6
    assert f"total {doc.quality.magnetic_moment_muB:.2f} μB per cell" in doc.status_reason
    assert "magnetic_moment_threshold_muB=0.1" in doc.status_reason
    assert SPIN_ORBIT_FLAG not in doc.quality.flags
    # no phonons: only the spin-polarised scf ran, and no ph.x anywhere under the run folders
    assert set(doc.provenance.run_dirs) == {MAGNETISM_TASK}
    assert doc.stability is None and doc.phonon_dos_coarse is None and doc.a2f is None
    assert not list(home.rglob("ph.out")) and not list(home.rglob("ph.in"))
    assert doc.parameters.ecutwfc_Ry == 25.0 and doc.parameters.qe_version.startswith("6.7")
    spin_input = (Path(doc.provenance.run_dirs[MAGNETISM_TASK]) / "pw.in").read_text()
    assert "nspin = 2" in spin_input and "starting_magnetization(1) = 0.5" in spin_input
    assert [d["calc_id"] for d in stored] == [doc.calc_id]  # the store and a status query accept it
