"""The isotropic Eliashberg Tc wired through: documents (both routes) → dataset → predictions → screen.

No QE: the DFPT spectra are QE's own `ph_metal` a2F.dosN files read by the matdyn maker, the EPW document is
rebuilt from the recorded one (tests/test_document_routes.py), the campaign's Al supplies a spectrum the
solver refuses.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from betenet.eliashberg import LOWEST_TEMPERATURE_K
from betenet.store.documents import EliashbergData, ElectronPhononDoc
from betenet.store.transfer import read_documents
from betenet.workflows.makers import MatdynMaker, a2f_data
from tests.conftest import FIXTURES

CAMPAIGN = FIXTURES / "campaign" / "documents.json.gz"


@pytest.fixture(scope="module")
def campaign_al() -> ElectronPhononDoc:
    return next(d for d in read_documents(CAMPAIGN) if d.status == "ok" and d.formula_pretty == "Al")


@pytest.fixture(scope="module")
def version1_al() -> ElectronPhononDoc:
    """fcc Al through EPW, stored before documents had an Eliashberg Tc (document version 1)."""
    (doc,) = read_documents(FIXTURES / "epw-al-v1" / "documents.json.gz")
    return doc


# ---------------------------------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------------------------------


def test_the_dfpt_maker_stores_an_eliashberg_tc_beside_allen_dynes_for_every_smearing():
    """QE's ph_metal Al (λ 0.29–0.43 over σ = 0.005–0.050 Ry) through MatdynMaker's α²F reader."""
    spectra = MatdynMaker(el_ph_sigma_Ry=0.005)._a2f_batch(FIXTURES / "qe-6.7" / "al", batch=0, ndos=100)  # its matdyn_dos.in
    assert [s.smearing_index for s in spectra] == list(range(1, 11))
    for spectrum in spectra[3:]:  # from 0.020 Ry on: Allen–Dynes above 1 K
        e = spectrum.eliashberg
        assert e.mu_star == spectrum.mu_star == 0.10 and e.mu_star_c > e.mu_star
        assert e.omega_c_meV == pytest.approx(10 * e.omega_ref_meV) and 0 <= e.negative_fraction < 0.1
        # weak coupling: within 20 % of Allen–Dynes (the stored Al's 0.020 Ry spectrum: +16 %, RESULTS.md)
        assert e.tc_K == pytest.approx(spectrum.tc_K, rel=0.2), spectrum.smearing_Ry
        assert e.below_K is None and e.reason is None
    assert spectra[3].eliashberg.tc_K == pytest.approx(1.289, rel=1e-3)  # benchmarks/RESULTS.md, a2F.dos4


def test_a_refused_spectrum_is_stored_as_none_with_the_reason(campaign_al):
    """The campaign's Al at 0.002 Ry dips below zero by more than 10 % of λ: no number, the solver's words."""
    smallest = min(campaign_al.a2f_all, key=lambda a: a.smearing_Ry)
    spectrum = a2f_data(smallest.omega_meV, smallest.a2f, smallest.smearing_index, 0.002, 0.10)
    e = spectrum.eliashberg
    assert spectrum.tc_K == smallest.tc_K and e.tc_K is None and e.below_K is None
    assert e.reason.startswith("refused: α²F has negative weight") and "above the tolerated 10%" in e.reason
    assert e.mu_star == 0.10 and e.mu_star_c is None and e.omega_c_meV is None
    # below the lowest temperature solved: None, the temperature it lies below, the reason
    au_like = a2f_data(smallest.omega_meV, 0.3 * np.clip(smallest.a2f, 0, None), 1, 0.002, 0.10).eliashberg
    assert au_like.tc_K is None and au_like.below_K == LOWEST_TEMPERATURE_K and "lowest temperature" in au_like.reason
    with pytest.raises(ValueError, match="needs the reason"):
        EliashbergData(tc_K=None, mu_star=0.1)


@pytest.fixture(scope="module")
def epw_document() -> ElectronPhononDoc:
    """The EPW route's task output rebuilt through the route's α²F code (`a2f_data`) → `build_document`."""
    from tests.test_document_routes import build, recorded_epw

    doc, epw, tasks = recorded_epw()
    sigma = doc.parameters.el_ph_sigma_Ry
    epw = epw.model_copy(update={"a2f_all": [a2f_data(a.omega_meV, a.a2f, a.smearing_index, sigma, a.mu_star)
                                             for a in epw.a2f_all]})
    return build(doc, epw, tasks)


def test_the_document_carries_the_chosen_spectrum_s_eliashberg_tc(epw_document):
    again = epw_document
    assert again.status == "ok" and again.document_version == 2
    assert again.tc_eliashberg_K is not None and again.tc_eliashberg_K == again.a2f.eliashberg.tc_K
    assert again.tc_eliashberg_K == pytest.approx(again.tc_K, rel=0.25)
    # stored and read back: the typed block survives the store's JSON
    assert ElectronPhononDoc.model_validate(again.to_store()).a2f.eliashberg == again.a2f.eliashberg


@pytest.mark.qe
def test_the_real_dfpt_workflow_stores_the_eliashberg_tc(tmp_path):
    """fcc Al through pw.x → ph.x → q2r.x → matdyn.x (preset test): every smearing and the document."""
    from tests.test_workflow_electron_phonon import run_al

    doc, _, _ = run_al(tmp_path)
    assert doc.status == "ok" and all(a.eliashberg is not None for a in doc.a2f_all)
    assert doc.tc_eliashberg_K == doc.a2f.eliashberg.tc_K and doc.a2f.eliashberg.mu_star == doc.parameters.mu_star
    # measured 2026-12-01: λ 0.400, Allen–Dynes 1.274 K, Eliashberg 1.271 K (no negative weight to clip)
    assert doc.tc_eliashberg_K == pytest.approx(doc.tc_K, rel=0.02) and doc.a2f.eliashberg.negative_fraction == 0


def test_documents_of_version_1_load_without_an_eliashberg_tc(version1_al):
    assert version1_al.document_version == 2  # migrated on reading
    assert version1_al.tc_eliashberg_K is None and version1_al.a2f.eliashberg is None
    assert all(a.eliashberg is None for a in version1_al.a2f_all)


# ---------------------------------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------------------------------


def test_build_dataset_exports_the_eliashberg_tc_of_the_51_bin_spectrum(version1_al, tmp_path):
    from betenet.dataset.build import record_from_document
    from betenet.dataset.format import read_dataset
    from betenet.eliashberg import eliashberg_tc
    from betenet.physics import MODEL_GRID_MEV

    record = record_from_document(version1_al)
    # solved here for a version-1 document, on the label the model is compared with (bins 1..50, doc's μ*)
    expected = eliashberg_tc(MODEL_GRID_MEV, record.a2f, mu_star=0.10, first_bin=1).tc_K
    assert record.tc_eliashberg_K == expected and record.tc_eliashberg_K == pytest.approx(record.tc_K, rel=0.2)
    assert record.extra["tc_eliashberg_reason"] is None and record.extra["dft"]["tc_eliashberg_K"] is None
    assert record.to_json()["tc_eliashberg_K"] == expected
    committed = read_dataset(FIXTURES / "campaign" / "dataset")
    by_formula = {r.formula: r for r in committed}
    assert committed.manifest.counts["with_tc_eliashberg"] == sum(r.tc_eliashberg_K is not None for r in committed)
    # Ta: 8.63 K on the 51 bins, 8.59 K on the raw spectrum its document stores; Ba (λ 0.30) below 0.1 K
    assert by_formula["Ta"].tc_eliashberg_K == pytest.approx(8.634, rel=1e-3)
    assert by_formula["Ta"].extra["dft"]["tc_eliashberg_K"] == pytest.approx(8.590, rel=1e-3)
    ba = by_formula["Ba"]
    assert ba.tc_eliashberg_K is None and "lowest temperature solved, 0.1 K" in ba.extra["tc_eliashberg_reason"]
    # a dataset written before the field existed reads as null, and the field round-trips
    old = {k: v for k, v in by_formula["Ta"].to_json().items() if k not in ("tc_eliashberg_K", "tc_eliashberg_reason")}
    from betenet.dataset.format import DatasetRecord

    assert DatasetRecord.from_json(old).tc_eliashberg_K is None
    assert DatasetRecord.from_json(by_formula["Ta"].to_json()) == by_formula["Ta"]


# ---------------------------------------------------------------------------------------------------
# Predictions and screening
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_ensemble(tmp_path_factory):
    import torch
    from _model_helpers import records, structures, tiny_config

    from betenet.dataset.format import write_dataset
    from betenet.model.ensemble_training import train_ensemble
    from betenet.model.training import TrainingConfig
    from betenet.model.training_set import training_set_from_dataset

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("eliashberg-ensemble")
    dataset = write_dataset(root / "ds", records(), structures(), source="tests")
    training = TrainingConfig(max_epochs=6, patience_descent=2, patience_hump=2, patience_second=2,
                              snapshot_interval_s=0.0)
    ensemble = train_ensemble(root / "ens", training_set_from_dataset(dataset, "CPD", splits=("train",)),
                              network=tiny_config("CPD"), training=training, n_members=3, seed=11, progress=False,
                              workers=1)
    yield ensemble, dataset
    torch.set_num_threads(before)


def _solve(a2f, mu_star=0.10):
    from betenet.physics import MODEL_GRID_MEV

    return EliashbergData.from_spectrum(MODEL_GRID_MEV, a2f, mu_star, first_bin=1)


def test_the_ensemble_mean_gets_an_eliashberg_tc_and_the_members_spread_where_asked(tiny_ensemble):
    ensemble, dataset = tiny_ensemble
    prediction = ensemble.predict(dataset)
    assert prediction.member_a2f.shape == (3, len(dataset), 51)
    assert np.allclose(prediction.member_a2f.mean(axis=0), prediction.a2f, rtol=1e-12, atol=0)
    for g in range(len(dataset)):
        mean = _solve(prediction.a2f[g])
        got = prediction.tc_eliashberg_K[g]
        assert (np.isnan(got) and mean.tc_K is None) or got == mean.tc_K
        assert prediction.tc_eliashberg_reason[g] == mean.reason
        assert (np.isnan(prediction.tc_eliashberg_below_K[g]) and mean.below_K is None) or \
            prediction.tc_eliashberg_below_K[g] == mean.below_K
    assert np.all(np.isnan(prediction.tc_eliashberg_K_std))  # not computed until asked for
    # a six-epoch network predicts next to no coupling: members with real Tc show what the spread is
    from betenet.physics import MODEL_GRID_MEV

    peaks = np.exp(-((MODEL_GRID_MEV - 20.0) / 5.0) ** 2)
    members = np.stack([np.tile(amplitude * peaks, (len(dataset), 1)) for amplitude in (1.0, 1.2, 0.2)])
    strong = dataclasses.replace(prediction, member_a2f=members)
    spread = strong.with_eliashberg_spread([0, 2])
    solved = [_solve(a) for a in members[:, 0]]
    assert solved[0].tc_K > 1 and solved[2].tc_K is None and solved[2].below_K == LOWEST_TEMPERATURE_K
    # the member below 0.1 K counts as 0 K
    assert spread.tc_eliashberg_K_std[0] == pytest.approx(np.std([solved[0].tc_K, solved[1].tc_K, 0.0], ddof=1))
    assert spread.tc_eliashberg_K_std[2] == spread.tc_eliashberg_K_std[0] and np.isnan(spread.tc_eliashberg_K_std[1])
    assert np.array_equal(spread.tc_eliashberg_K, prediction.tc_eliashberg_K, equal_nan=True)
    # a member spectrum the solver refuses (no weight at all) leaves the spread undefined
    refused = dataclasses.replace(prediction, member_a2f=members * np.array([1.0, 1.0, 0.0])[:, None, None])
    assert np.isnan(refused.with_eliashberg_spread([0]).tc_eliashberg_K_std[0])
    # μ* moves the Eliashberg Tc the same way as Allen–Dynes, never up
    stronger = ensemble.predict(dataset, mu_star=0.15)
    assert np.all(np.nan_to_num(stronger.tc_eliashberg_K) <= np.nan_to_num(prediction.tc_eliashberg_K))


def _rows(values):
    """Screening rows with chosen (Allen–Dynes, Eliashberg, Eliashberg below_K) Tc."""
    from betenet.screening.predictions import Prediction

    return [Prediction(id=ident, formula="Al", n_atoms=1, source="test", a2f_mean=(0.0,) * 51, a2f_std=(0.0,) * 51,
                       values={"lambda": 0.5, "omega_log_K": 200.0, "omega_2_K": 220.0, "tc_K": ad,
                               "tc_eliashberg_K": el},
                       spread={"lambda": 0.1, "omega_log_K": 5.0, "omega_2_K": 6.0, "tc_K": 0.5,
                               "tc_eliashberg_K": None},
                       mu_star=0.1, n_members=4, tc_eliashberg_below_K=below,
                       tc_eliashberg_reason=None if el is not None else "below")
            for ident, (ad, el, below) in values.items()]


def test_ranking_by_either_tc_and_its_validation():
    from betenet.screening.predictions import rank_by_tc

    rows = _rows({"a": (5.0, 4.0, None), "b": (3.0, None, 0.1), "c": (4.0, 6.0, None), "d": (3.5, None, 0.1)})
    assert [p.id for p in rank_by_tc(rows)] == ["a", "c", "d", "b"]  # the default keeps Allen–Dynes
    # Eliashberg: highest first; those below the lowest temperature solved last, by Allen–Dynes among them
    assert [p.id for p in rank_by_tc(rows, "eliashberg")] == ["c", "a", "d", "b"]
    assert rows[1].tc_eliashberg_text(lambda v, s: f"{v}") == "< 0.1"
    assert rows[0].tc_eliashberg_text(lambda v, s: f"{v} ± {s}") == "4.0 ± None"
    with pytest.raises(ValueError, match=r"Invalid tc_method='mcmillan', use one of \('allen-dynes', 'eliashberg'\)"):
        rank_by_tc(rows, "mcmillan")


def test_screen_ranks_by_the_eliashberg_tc_and_spreads_only_the_best(tiny_ensemble, tmp_path, monkeypatch):
    from _model_helpers import phdos, structures

    import betenet.screening.plots as plots
    from betenet.screening.campaign import run_and_report
    from betenet.screening.inputs import Candidate
    from betenet.screening.predictions import rank_by_tc, to_document
    from betenet.screening.screen import screen

    ensemble, _ = tiny_ensemble
    candidates = [Candidate(id=name, atoms=atoms, source=f"{name}.cif", site_phdos={"cpd": phdos(len(atoms), k)})
                  for k, (name, atoms) in enumerate(structures().items())]
    result = screen(ensemble, candidates, tc_method="eliashberg", eliashberg_spread=2)
    assert [p.id for p in result.ranked] == [p.id for p in rank_by_tc(result.ranked, "eliashberg")]
    spreads = [p.spread["tc_eliashberg_K"] for p in result.ranked]
    assert all(s is not None for s in spreads[:2]) and all(s is None for s in spreads[2:])
    assert "eliashberg_spread_s" in result.timings_s
    default = screen(ensemble, candidates)  # Allen–Dynes order, every row's spread
    assert [p.id for p in default.ranked] == [p.id for p in rank_by_tc(default.ranked)]
    assert all(p.spread["tc_eliashberg_K"] is not None for p in default.ranked)
    with pytest.raises(ValueError, match="Invalid tc_method"):
        screen(ensemble, candidates, tc_method="AD")

    # files, store document and plot titles carry both
    titles = []
    monkeypatch.setattr(plots, "a2f_plot", lambda omega, mean, std, title, path, dft=None: titles.append(title))
    campaign = run_and_report(ensemble, candidates, [], None, out=tmp_path / "out", save=False, top=3,
                              tc_method="eliashberg", eliashberg_spread=1)
    import csv
    import json

    table = list(csv.DictReader((tmp_path / "out" / "predictions.csv").open()))
    assert [r["id"] for r in table] == [p.id for p in campaign.ranked]
    first = campaign.ranked[0]
    assert table[0]["tc_eliashberg_K"] == ("" if first.values["tc_eliashberg_K"] is None
                                           else f"{first.values['tc_eliashberg_K']:.6g}")
    saved = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert saved["tc_method"] == "eliashberg"
    assert saved["predictions"][0]["tc_eliashberg_reason"] == first.tc_eliashberg_reason
    assert len(titles) == 3 and all("(Allen–Dynes)" in t and "(Eliashberg)" in t for t in titles)
    doc = to_document(first, ensemble, "fingerprint")
    assert (doc.tc_eliashberg_K, doc.tc_eliashberg_K_std, doc.tc_eliashberg_below_K) == (
        first.values["tc_eliashberg_K"], first.spread["tc_eliashberg_K"], first.tc_eliashberg_below_K)


def test_the_screen_command_refuses_an_unknown_tc_method_before_any_work(tmp_path):
    from typer.testing import CliRunner

    from betenet.cli import app

    result = CliRunner().invoke(app, ["screen", str(tmp_path), "--ensemble", str(tmp_path / "none"), "--out",
                                      str(tmp_path / "out"), "--tc-method", "mcmillan", "--home", str(tmp_path)])
    assert result.exit_code == 2 and "Invalid tc_method='mcmillan'" in result.output
    assert not (tmp_path / "out").exists()


def test_the_pipeline_summary_shows_both_tc(epw_document):
    from rich.console import Console

    from betenet.cli.pipeline import PipelineReport, _material_row, _print_summary

    material = _material_row(epw_document, "computed", source="al.cif")
    below = {"id": "x", "formula": "Al", "lambda": 0.1, "lambda_std": 0.01, "omega_log_K": 300.0,
             "omega_log_K_std": 3.0, "tc_K": 0.0, "tc_K_std": 0.0, "tc_eliashberg_K": None,
             "tc_eliashberg_K_std": None, "tc_eliashberg_below_K": 0.1}
    strong = {**below, "id": "y", "tc_eliashberg_K": 7.25, "tc_eliashberg_K_std": 1.5, "tc_eliashberg_below_K": None}
    console = Console(record=True, width=250)
    _print_summary(PipelineReport(materials=[material], screened=[strong, below]), Path("out"), console)
    text = console.export_text()
    assert text.count("Tc Eliashberg (K)") == 2 and f"{epw_document.tc_eliashberg_K:.2f}" in text
    assert "7.25 ± 1.50" in text and "< 0.1" in text


def test_the_evaluation_compares_the_eliashberg_tc_where_both_have_one(campaign_al, tmp_path):
    from ase.build import bulk

    from betenet.dataset.build import record_from_document
    from betenet.screening.evaluation import evaluate, write_report
    from betenet.screening.inputs import candidate_from_record

    labels = candidate_from_record(record_from_document(campaign_al), bulk("Al"), "al", campaign_al.calc_id).labels
    assert labels["tc_eliashberg_K"] == pytest.approx(1.339, rel=1e-3)  # the committed dataset's 51-bin value
    predicted = {"al": {"tc_K": 1.5, "tc_eliashberg_K": 1.25}, "au": {"tc_K": 0.2, "tc_eliashberg_K": None}}
    report = evaluate(predicted, {"al": labels, "au": {"tc_K": 0.0, "tc_eliashberg_K": None}})
    assert report.metrics["tc_eliashberg_K"].n == 1 and report.metrics["tc_K"].n == 2
    assert report.metrics["tc_eliashberg_K"].mae == pytest.approx(abs(1.25 - labels["tc_eliashberg_K"]))
    paths = write_report(report, predicted, {"al": labels, "au": {"tc_K": 0.0, "tc_eliashberg_K": None}}, tmp_path)
    assert tmp_path / "parity_tc_eliashberg_K.png" in paths
