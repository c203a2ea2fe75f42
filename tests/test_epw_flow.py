"""The real EPW flow on fcc Al (preset 'test': coarse k 6³, q 3³, fine k 12³, fine q 6³ → 16 irreducible
points, Al:s;p;d Wannier functions), an epwread restart that must reproduce α²F, and the document's
verdict when a check fails. Wall time of this module: benchmarks/RESULTS.md, section EPW."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from ase.io import read

from betenet.parsers.epw import parse_wannier_hr
from betenet.settings import override_settings
from betenet.store.stores import get_job_store
from betenet.workflows.documents import build_document
from betenet.workflows.epw import EpwElectronPhononMaker, epw_route
from betenet.workflows.epw_checks import compare_bands, wannier_eigenvalues_eV
from betenet.workflows.epw_makers import EpwTaskDoc, band_check_kpoints
from betenet.workflows.local import run_structure
from betenet.workflows.outputs import QETaskDoc
from conftest import FIXTURES
from tests.conftest import require_qe
from tests.test_workflow_handlers import fcc_al, run_job

pytestmark = pytest.mark.qe
PARALLEL = {"mpi_command": "mpirun -np 2", "npool": 2} if shutil.which("mpirun") else {}


@pytest.fixture(scope="module")
def al_epw(tmp_path_factory):
    require_qe("pw.x", "ph.x", "q2r.x", "matdyn.x", "epw.x")
    home = tmp_path_factory.mktemp("epw")
    with override_settings(home=home, **PARALLEL):
        maker = EpwElectronPhononMaker.from_preset("test")
        doc = run_structure(fcc_al(), maker)
        store = get_job_store()
        store.connect()
        outputs = {step: store.get_output(doc.provenance.job_uuids[step]) for step in ("epw", "nscf")}
    return doc, maker, home, EpwTaskDoc.model_validate(outputs["epw"]), QETaskDoc.model_validate(outputs["nscf"])


def test_document_is_an_epw_result_with_every_smearing(al_epw):
    doc, *_ = al_epw
    assert doc.status == "ok", doc.status_reason
    assert doc.method == "epw" and doc.formula_pretty == "Al"
    assert [a.smearing_index for a in doc.a2f_all] == list(range(1, 11))
    assert doc.a2f.smearing_Ry == pytest.approx(0.020) and doc.lambda_ == doc.a2f.lambda_
    # fcc Al: λ ≈ 0.4–0.5 (test grids), ω_log ≈ 300 K, a Kelvin-scale Tc
    assert 0.35 < doc.lambda_ < 0.6
    assert 250 < doc.omega_log_K < 380 and doc.omega_2_K > doc.omega_log_K and 0.3 < doc.tc_K < 5
    # EPW's own q-sum of λ_qν agrees with the λ integrated from the stored α²F (0.5 meV phonon smearing)
    for spectrum, row in zip(doc.a2f_all, doc.qe_lambda):
        assert row.smearing_Ry == spectrum.smearing_Ry
        assert spectrum.lambda_ == pytest.approx(row.lambda_, rel=0.03)
    p = doc.parameters
    assert (p.kgrid_scf, p.qgrid_elph, p.kgrid_elph) == ((6, 6, 6), (3, 3, 3), (12, 12, 12))
    assert doc.epw.fine_qgrid == (6, 6, 6) and doc.epw.n_fine_qpoints == 16 and "epw" not in p.extra
    # coarse (2³) and fine (3³, the EPW ph.x run) phonon DOS, per site
    for dos, qgrid in ((doc.phonon_dos_coarse, (2, 2, 2)), (doc.phonon_dos_fine, (3, 3, 3))):
        assert dos.site_labels == ["Al1"] and dos.qgrid == qgrid
        assert np.trapezoid(dos.total_states_per_meV, dos.omega_meV) == pytest.approx(3.0, rel=0.02)
    assert {"scf", "ph_elph", "nscf", "epw", "band_check"} <= set(doc.provenance.run_dirs)


def test_wannier_and_phonon_interpolation_checks_passed(al_epw):
    doc, _, _, epw, _ = al_epw
    checks = doc.epw
    band = checks.band_check
    assert band.passed and band.max_abs_error_eV < band.tolerance_eV and band.n_kpoints >= 10
    assert len(checks.wannier_spreads_A2) == 9 and checks.disentanglement_converged
    phonons = checks.interpolated_phonons
    assert phonons.passed and phonons.n_qpoints == 16 and phonons.lowest_frequency_meV > -0.01
    # the el-ph-grid stability check of the DFPT route: the EPW ph.x q-grid's phonons are real
    assert doc.stability.stable and doc.stability.elph_qgrid == (3, 3, 3)
    assert doc.stability.elph_lowest_frequency_meV == pytest.approx(doc.phonon_dos_fine.omega_meV[0])
    # N(E_F) at 0.05 Ry: Al's free-electron-like ≈ 0.2 states/spin/eV
    assert 0.15 < epw.dos_states_per_spin_eV[-1] < 0.25


def test_sp3_projections_would_fail_the_band_check():
    """The recorded Al:sp3 Wannierisation of the same nscf misses DFT by > 0.1 eV near E_F."""
    epw_fixtures = FIXTURES / "qe-6.7" / "epw" / "al"
    kpoints = band_check_kpoints(fcc_al(), (6, 6, 6), 30)
    calc = read(epw_fixtures / "bands_check.out", format="espresso-out", index=-1).calc
    dft = np.array([calc.get_eigenvalues(kpt=i) for i in range(len(kpoints))])
    fermi = float(next(line.split("=")[1] for line in (epw_fixtures / "sp3.epw.in").read_text().splitlines()
                       if "dis_froz_max" in line)) - 3.0
    sp3 = parse_wannier_hr(epw_fixtures / "sp3_hr.dat", epw_fixtures / "sp3_wsvec.dat")
    check = compare_bands(dft, wannier_eigenvalues_eV(sp3, kpoints), fermi_energy_eV=fermi, window_eV=1.0,
                          tolerance_eV=0.1)
    assert not check.passed and check.max_abs_error_eV > 0.15


def test_restart_from_the_wannier_representation_reproduces_a2f(al_epw, tmp_path):
    doc, maker, home, epw, nscf = al_epw
    with override_settings(home=home, **PARALLEL):
        job = maker.makers(fcc_al())["epw"].make(fcc_al(), nscf, restart_dir=epw.dir_name)
        again = EpwTaskDoc.model_validate(run_job(job, tmp_path))
    assert again.restart and not epw.restart and again.wannier_spreads_A2 == []
    for first, second in zip(epw.a2f_all, again.a2f_all):
        assert second.smearing_index == first.smearing_index
        assert np.allclose(second.a2f, first.a2f, rtol=1e-6, atol=1e-9)
        assert second.lambda_ == pytest.approx(first.lambda_, rel=1e-6)
    assert [r.lambda_ for r in again.epw_lambda] == [r.lambda_ for r in epw.epw_lambda]


def test_failed_checks_leave_no_lambda_in_the_document(al_epw):
    doc, maker, _, epw, _ = al_epw
    tasks = {k: QETaskDoc(program="x", label=k, dir_name=d, wall_time_s=0.0) for k, d in doc.provenance.run_dirs.items()
             if k not in ("epw", "band_check")}
    tasks["scf"] = tasks["scf"].model_copy(update={"kgrid": (6, 6, 6), "qe_version": "6.7MaX"})
    tasks["ph_elph"] = tasks["ph_elph"].model_copy(update={"qgrid": (3, 3, 3)})
    tasks["matdyn_coarse"] = tasks["matdyn_coarse"].model_copy(update={"phonon_dos": doc.phonon_dos_coarse})
    tasks["matdyn_elph"] = tasks["matdyn_elph"].model_copy(update={"phonon_dos": doc.phonon_dos_fine})
    from betenet.workflows.epw_checks import InterpolatedPhononCheck

    good_band = doc.epw.band_check
    poor_band = good_band.model_copy(update={"max_abs_error_eV": 0.4, "passed": False})
    imaginary = epw.model_copy(update={"phonons": InterpolatedPhononCheck(
        n_qpoints=16, lowest_frequency_meV=-4.2, threshold_meV=0.5, n_imaginary_modes=3, passed=False)})
    args = (maker.settings, fcc_al(), fcc_al(), doc.calc_id, [p.model_dump() for p in doc.parameters.pseudos], tasks,
            doc.stability)
    ok = build_document(*args, route=epw_route(epw, good_band))
    assert ok.status == "ok" and ok.lambda_ == pytest.approx(doc.lambda_)
    for bad_epw, bad_band, words in ((epw, poor_band, "Wannier interpolation poor"),
                                     (imaginary, good_band, "interpolated phonons imaginary")):
        failed = build_document(*args, route=epw_route(bad_epw, bad_band))
        assert failed.status == "failed" and words in failed.status_reason
        assert failed.lambda_ is None and failed.a2f is None and failed.a2f_all == [] and failed.tc_K is None
        assert failed.qe_lambda == []  # nor EPW's own λ table
        assert failed.phonon_dos_fine is not None  # the phonons themselves are still reported
