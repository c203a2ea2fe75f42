"""The real electron-phonon Flow on fcc Al (preset `test`) into the embedded store and a MongoDB-wire
server; an on-purpose unstable cell; the q-split run; idempotent re-runs."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from betenet.parsers import parse_ph_output, processor_cores
from betenet.qe.pseudo import md5sum
from betenet.settings import override_settings
from betenet.store.stores import get_store
from betenet.workflows.flows import ElectronPhononMaker
from betenet.workflows.local import run_structure
from betenet.workflows.presets import InvalidOptionError
from tests.conftest import require_qe
from tests.test_workflow_handlers import fcc_al

pytestmark = pytest.mark.qe
AL_PSEUDO = Path("/usr/share/espresso/pseudo/Al.pz-vbc.UPF")


def run_al(home: Path, store_uri: str | None = None, structure=None, **overrides):
    require_qe("pw.x", "ph.x", "q2r.x", "matdyn.x", "lambda.x")
    database = f"t{uuid.uuid4().hex[:8]}" if store_uri else "betenet"
    with override_settings(home=home, store_uri=store_uri, database=database):
        maker = ElectronPhononMaker.from_preset("test", **overrides)
        doc = run_structure(structure or fcc_al(), maker)
        with get_store() as store:
            count = store.count()
    return doc, count, database


@pytest.fixture(scope="module")
def al_embedded(tmp_path_factory):
    home = tmp_path_factory.mktemp("embedded")
    first, _, _ = run_al(home)
    second, count, _ = run_al(home)
    return first, second, count, home


def test_al_document_holds_everything(al_embedded):
    doc = al_embedded[1]
    assert doc.status == "ok" and doc.method == "dfpt" and doc.formula_pretty == "Al"
    # no magnetism-prone element: no spin-polarised run, no moment, no spin-orbit flag
    assert "magnetism" not in doc.provenance.run_dirs and doc.quality.magnetic_moment_muB is None
    # the 2³ test q-grid does not resolve the coupling: λ of the interpolated α²F (0.400) vs the direct q-sum
    # (0.329) at 0.020 Ry is 18 % apart; on its 0.005 Ry smearing step λ(σ) is still steep: the document says so
    assert doc.quality.flags == ["interpolation_mismatch", "smearing_sensitive"]
    assert doc.quality.smearing_sensitivity > 0.05
    qsum = next(r.lambda_ for r in doc.lambda_qsum if abs(r.smearing_Ry - 0.020) < 1e-9)
    assert doc.quality.interpolation_mismatch == pytest.approx(abs(doc.lambda_ - qsum) / qsum, rel=1e-12)
    assert 0.15 < doc.quality.interpolation_mismatch < 0.25
    assert doc.stability.cause is None and doc.stability.remedy_attempts == []
    assert doc.symmetry.number == 225 and doc.nsites == 1 and doc.chemsys == "Al"
    # α²F for every smearing (0.005 … 0.050 Ry) and the chosen 0.020 Ry one
    assert [a.smearing_index for a in doc.a2f_all] == list(range(1, 11))
    assert doc.a2f_all[-1].smearing_Ry == pytest.approx(0.05)
    assert doc.a2f.smearing_Ry == pytest.approx(0.020) and doc.lambda_ == doc.a2f.lambda_
    # physics: QE's ph_metal Al is λ ≈ 0.4, ω_log ≈ 300 K; our moments agree with matdyn's own λ
    assert 0.35 < doc.lambda_ < 0.45
    assert 250 < doc.omega_log_K < 350 and doc.omega_2_K > doc.omega_log_K
    assert 0.5 < doc.tc_K < 3.0
    qe_row = next(r for r in doc.qe_lambda if abs(r.smearing_Ry - 0.020) < 1e-9)
    assert doc.lambda_ == pytest.approx(qe_row.lambda_, rel=0.02)
    # phonon DOS, coarse and fine, total and per site, labelled
    for dos in (doc.phonon_dos_coarse, doc.phonon_dos_fine):
        assert dos.site_labels == ["Al1"]
        omega = np.asarray(dos.omega_meV)
        assert np.trapezoid(dos.total_states_per_meV, omega) == pytest.approx(3.0, rel=0.02)
        assert np.allclose(np.sum(dos.projected_states_per_meV, axis=0), dos.total_states_per_meV, rtol=1e-3, atol=1e-6)
        assert 35 < omega.max() < 45  # Al's highest phonon ≈ 40 meV
    assert doc.phonon_dos_coarse.qgrid == (2, 2, 2)
    # stability verdict with phonopy's independent dense-mesh check
    assert doc.stability.stable and doc.stability.lowest_frequency_meV > -0.5
    assert doc.stability.phonopy_lowest_frequency_meV > -0.5
    assert doc.stability.phonopy_pdos_max_deviation == pytest.approx(0.0, abs=1e-6)
    # ph.x's acoustic modes at Γ, before any sum rule, are recorded; for Al they sit near zero
    ph_out = Path(doc.provenance.run_dirs["ph_coarse"]) / "ph.out"
    gamma = next(q for q in parse_ph_output(ph_out).q_points if np.allclose(q.q_cart_2pi_alat, 0.0))
    assert doc.stability.gamma_acoustic_meV == pytest.approx(np.abs(gamma.frequencies_meV).max(), rel=1e-3)
    assert 0.0 < doc.stability.gamma_acoustic_meV < 1.0
    # parameters and provenance
    p = doc.parameters
    assert p.qe_version.startswith("6.7") and p.pseudos[0].md5 == md5sum(AL_PSEUDO)
    assert (p.kgrid_scf, p.kgrid_elph, p.qgrid_elph) == ((8, 8, 8), (16, 16, 16), (2, 2, 2))
    assert (p.el_ph_sigma_Ry, p.el_ph_nsigma, p.ecutwfc_Ry) == (0.005, 10, 15.0)
    steps = {"scf", "ph_coarse", "q2r_coarse", "matdyn_coarse", "scf_la2F", "ph_elph", "q2r_elph", "matdyn_elph"}
    assert steps <= set(doc.provenance.run_dirs) and steps <= set(doc.provenance.job_uuids)
    assert all(Path(d).is_dir() for d in doc.provenance.run_dirs.values())


def test_lambda_x_sums_ph_x_lambdas_over_the_q_stars(al_embedded):
    """lambda.x's λ(σ) is Σ_q w_q Σ_ν λ_qν over ph.x's irreducible q-points, w_q = star size / 8."""
    doc = al_embedded[1]
    ph = parse_ph_output(Path(doc.provenance.run_dirs["ph_elph"]) / "ph.out")
    weights = np.array([q.star_size for q in ph.q_points], dtype=float)
    assert weights.tolist() == [1.0, 4.0, 3.0]  # Γ, L, X of the 2³ grid
    by_hand = weights @ np.array([q.lambda_per_mode.sum(axis=1) for q in ph.q_points]) / weights.sum()
    assert [r.smearing_Ry for r in doc.lambda_qsum] == pytest.approx([a.smearing_Ry for a in doc.a2f_all])
    for row, expected in zip(doc.lambda_qsum, by_hand):
        assert row.lambda_ == pytest.approx(expected, abs=2e-4)  # both read ph.x's 4-decimal λ_qν
        assert 100.0 < row.omega_log_K < 600.0
    # the direct sum over 3 q-points vs matdyn's interpolated α²F: same physics, other q-quadrature
    for row, interpolated in zip(doc.lambda_qsum, doc.qe_lambda):
        if row.smearing_Ry >= 0.015:
            assert row.lambda_ == pytest.approx(interpolated.lambda_, rel=0.25)
    assert "lambda_elph" in doc.provenance.run_dirs


def test_running_twice_leaves_one_document(al_embedded):
    first, second, count, _ = al_embedded
    assert count == 1
    assert first.calc_id == second.calc_id
    assert second.created_at == first.created_at and second.last_updated > first.last_updated


@pytest.mark.mongo
def test_al_into_mongodb_server(secantusdb_uri, tmp_path, al_embedded):
    doc, count, database = run_al(tmp_path, store_uri=secantusdb_uri)
    assert count == 1 and doc.status == "ok"
    assert doc.lambda_ == pytest.approx(al_embedded[1].lambda_, abs=1e-6)  # same physics, other store
    import pymongo

    raw = pymongo.MongoClient(secantusdb_uri)[database]["electron_phonon"].find_one({"chemsys": "Al"})
    assert raw["calc_id"] == doc.calc_id and len(raw["a2f_all"]) == 10
    # jobflow's JobStore went to the same server
    assert pymongo.MongoClient(secantusdb_uri)[database]["jobs"].count_documents({}) >= 10


def test_unstable_cell_is_stored_without_elph(tmp_path):
    """Simple-cubic Al (a = 2.7 Å) has imaginary modes on the 2×2×2 grid."""
    sc_al = Structure(Lattice.cubic(2.7), ["Al"], [[0, 0, 0]])
    doc, count, _ = run_al(tmp_path, structure=sc_al)
    assert count == 1
    assert doc.status == "unstable" and "imaginary" in doc.status_reason
    assert doc.stability.lowest_frequency_meV < -5.0 and not doc.stability.stable
    # genuine: imaginary at the grid's own zone-boundary points, and still so after the ladder's denser k-grid
    assert doc.stability.cause == "genuine" and "directly computed q-point" in doc.status_reason
    (attempt,) = doc.stability.remedy_attempts
    assert attempt.change == {"rung": "denser_k", "kgrid_scf": [16, 16, 16], "kgrid_elph": [16, 16, 16]}
    assert not attempt.stable and attempt.cause == "genuine" and attempt.wall_time_s > 0
    assert doc.parameters.kgrid_scf == (16, 16, 16)  # the document records what ran last
    worst = next(m for m in doc.stability.imaginary_modes if m.direct)
    assert worst.q_norm_invA > 0.5 and max(abs(x) for x in worst.q_crystal) == pytest.approx(0.5)
    assert doc.stability.phonopy_lowest_frequency_meV < -5.0
    assert doc.a2f is None and doc.a2f_all == [] and doc.lambda_ is None and doc.tc_K is None
    assert doc.phonon_dos_coarse is not None and doc.phonon_dos_fine is None
    assert not any(step.startswith(("ph_elph", "scf_la2F", "lambda_elph")) for step in doc.provenance.run_dirs)
    assert doc.lambda_qsum == []


def test_document_records_the_cores_pw_and_ph_ran_on(al_embedded):
    """The campaign's cost is wall time × cores: each pw.x/ph.x step records the cores its banner reports."""
    provenance = al_embedded[0].provenance
    banner = processor_cores((Path(provenance.run_dirs["scf"]) / "pw.out").read_text())
    assert banner is not None and provenance.processor_cores["scf"] == banner
    assert {"scf", "ph_coarse", "scf_la2F", "ph_elph"} <= set(provenance.processor_cores)
    assert set(provenance.processor_cores) <= set(provenance.wall_times_s)
    assert not any(step.startswith(("q2r", "matdyn", "lambda")) for step in provenance.processor_cores)


def test_q_split_gives_the_same_lambda(tmp_path, al_embedded):
    doc, _, _ = run_al(tmp_path, q_split=2)
    assert {"ph_elph_q1-1", "ph_elph_q2-3"} <= set(doc.provenance.run_dirs)
    assert doc.lambda_ == pytest.approx(al_embedded[1].lambda_, abs=1e-3)
    for split, single in zip(doc.a2f_all, al_embedded[1].a2f_all):
        assert split.lambda_ == pytest.approx(single.lambda_, abs=1e-3)
    # lambda.x gathers the el-ph files of every split
    assert [r.lambda_ for r in doc.lambda_qsum] == pytest.approx([r.lambda_ for r in al_embedded[1].lambda_qsum], abs=1e-3)
    assert len(doc.lambda_qsum) == 10


def test_options_are_validated_before_any_job(tmp_path):
    with pytest.raises(InvalidOptionError, match="method"):
        ElectronPhononMaker.from_preset("test", method="x")
    with pytest.raises(InvalidOptionError, match="not one of the el-ph smearings"):
        ElectronPhononMaker.from_preset("test", chosen_smearing_Ry=0.0123)
    with pytest.raises(InvalidOptionError, match="Invalid preset"):
        ElectronPhononMaker.from_preset("huge")
    maker = ElectronPhononMaker.from_preset("test")
    assert maker.with_options(q_split=3).settings.q_split == 3 and maker.settings.q_split is None


def test_failed_flow_is_stored_with_its_reason(tmp_path):
    """pw.x refuses 1 band for Al's 3 electrons: no handler knows this, the document says where."""
    doc, count, _ = run_al(tmp_path, pw_overrides={"system": {"nbnd": 1}})
    assert count == 1 and doc.status == "failed"
    assert doc.status_reason.startswith("scf: ") and "pw.x" in doc.status_reason
    run_root = Path(doc.provenance.run_dirs["flow"])  # the failed pw.x output is findable from the document
    assert run_root.is_relative_to(tmp_path) and list(run_root.rglob("pw.out"))
    assert doc.a2f is None and doc.stability is None and doc.lambda_ is None
    # what the failure cost is recorded: the pw.x run that failed, with its cores
    assert list(doc.provenance.wall_times_s) == ["1 pw"] and doc.provenance.wall_times_s["1 pw"] > 0
    assert doc.provenance.processor_cores["1 pw"] == processor_cores(next(run_root.rglob("pw.out")).read_text())
