"""One document builder for both routes to α²F: the EPW route's part is data (`epw_route`), and an EPW
document gets the DFPT route's el-ph-grid stability check. No QE: the recorded EPW document of
`fixtures/epw-al-v1` supplies the task outputs."""

from __future__ import annotations

from jobflow import Flow

from betenet.store.transfer import read_documents
from betenet.workflows.documents import build_document
from betenet.workflows.epw import EpwElectronPhononMaker, epw_route
from betenet.workflows.epw_makers import EpwTaskDoc
from betenet.workflows.flows import ElectronPhononMaker
from betenet.workflows.outputs import QETaskDoc
from tests.conftest import FIXTURES
from tests.test_workflow_handlers import fcc_al

EPW_V1 = FIXTURES / "epw-al-v1" / "documents.json.gz"


def recorded_epw():
    """(document, its EPW task output, its tasks) rebuilt from the recorded EPW document."""
    (doc,) = read_documents(EPW_V1)
    diagnostics, p = doc.epw, doc.parameters
    epw = EpwTaskDoc(
        dir_name=doc.provenance.run_dirs["epw"], job_uuid=doc.provenance.job_uuids["epw"],
        epw_version=diagnostics.epw_version, wall_time_s=doc.provenance.wall_times_s["epw"], restart=False,
        parameters=diagnostics.inputepw, coarse_kgrid=diagnostics.coarse_kgrid, coarse_qgrid=p.qgrid_elph,
        fine_kgrid=p.kgrid_elph, fine_qgrid=diagnostics.fine_qgrid, n_fine_qpoints=diagnostics.n_fine_qpoints,
        fermi_energy_nscf_eV=diagnostics.fermi_energy_nscf_eV, n_wannier=diagnostics.n_wannier,
        wannier_spreads_A2=diagnostics.wannier_spreads_A2, wannier_omega_total_A2=diagnostics.wannier_omega_total_A2,
        disentanglement_converged=diagnostics.disentanglement_converged,
        dos_states_per_spin_eV=diagnostics.dos_states_per_spin_eV, a2f_all=doc.a2f_all, epw_lambda=doc.qe_lambda,
        phonon_smearing_meV=diagnostics.phonon_smearing_meV, phonons=diagnostics.interpolated_phonons,
    )
    common = dict(label="recorded", wall_time_s=0.0, qe_version=p.qe_version)
    tasks = {
        "scf": QETaskDoc(program="pw", dir_name=doc.provenance.run_dirs["scf"], kgrid=p.kgrid_scf,
                         parameters={"system": {"ecutwfc": p.ecutwfc_Ry, "ecutrho": p.ecutrho_Ry}}, **common),
        "ph_elph": QETaskDoc(program="ph", dir_name=doc.provenance.run_dirs["ph_elph"], qgrid=p.qgrid_elph, **common),
        "matdyn_coarse": QETaskDoc(program="matdyn", dir_name="coarse", phonon_dos=doc.phonon_dos_coarse, **common),
        "matdyn_elph": QETaskDoc(program="matdyn", dir_name="fine", phonon_dos=doc.phonon_dos_fine, **common),
    }
    return doc, epw, tasks


def build(doc, epw, tasks):
    settings = EpwElectronPhononMaker.from_preset("test").settings
    pseudos = [p.model_dump() for p in doc.parameters.pseudos]
    coarse_verdict = doc.stability.model_copy(update={"elph_qgrid": None, "elph_lowest_frequency_meV": None})
    return build_document(settings, doc.structure, doc.input_structure, doc.calc_id, pseudos, tasks, coarse_verdict,
                          route=epw_route(epw, doc.epw.band_check))


def test_the_shared_builder_reproduces_the_recorded_epw_document():
    doc, epw, tasks = recorded_epw()
    again = build(doc, epw, tasks)
    assert again.status == "ok" and again.method == "epw"
    assert again.epw == doc.epw  # the typed diagnostics from epw.x's output = the migrated ones
    assert (again.lambda_, again.tc_K, again.qe_lambda) == (doc.lambda_, doc.tc_K, doc.qe_lambda)
    assert again.parameters.kgrid_elph == (12, 12, 12) and again.parameters.q_split is None
    assert again.stability.stable and again.stability.elph_qgrid == (3, 3, 3)
    assert {"epw", "band_check", "scf", "ph_elph"} <= set(again.provenance.run_dirs)
    assert again.provenance.job_uuids["epw"] == epw.job_uuid


def test_imaginary_modes_on_the_el_ph_grid_make_an_epw_document_unstable():
    doc, epw, tasks = recorded_epw()
    fine = doc.phonon_dos_fine
    imaginary = fine.model_copy(update={"omega_meV": [-3.0, *fine.omega_meV[1:]]})
    tasks["matdyn_elph"] = tasks["matdyn_elph"].model_copy(update={"phonon_dos": imaginary})
    unstable = build(doc, epw, tasks)
    assert unstable.status == "unstable" and "el-ph (3, 3, 3) q-grid" in unstable.status_reason
    assert "-3.00 meV" in unstable.status_reason and not unstable.stability.stable
    assert unstable.a2f is None and unstable.a2f_all == [] and unstable.lambda_ is None and unstable.qe_lambda == []
    assert unstable.phonon_dos_fine.omega_meV[0] == -3.0 and unstable.epw == doc.epw  # what was found stays


def test_both_routes_share_the_gate_and_the_epw_maker_only_adds_its_branch():
    dfpt = ElectronPhononMaker.from_preset("test").make(fcc_al())
    epw = EpwElectronPhononMaker.from_preset("test").make(fcc_al())
    assert [j.name for j in epw.jobs] == [j.name for j in dfpt.jobs]  # no Job found by name and replaced
    gate = epw.jobs[-1]
    assert gate.name == "stability_gate" and isinstance(gate.function_args[0], EpwElectronPhononMaker)
    assert epw.output.uuid == gate.uuid
    again = Flow.from_dict(epw.as_dict())
    assert isinstance(again.jobs[-1].function_args[0], EpwElectronPhononMaker)
    assert "make" not in EpwElectronPhononMaker.__dict__
    assert EpwElectronPhononMaker.elph_branch is not ElectronPhononMaker.elph_branch
