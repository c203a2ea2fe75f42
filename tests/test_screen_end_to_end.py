"""The must-show chain on real documents, through the CLI, on the embedded store and on the
MongoDB-wire server: store → build-dataset → train-ensemble (tiny CPD) → predict → screen.

The ensemble is deliberately tiny (2 members, 3 epochs, a narrow network): the test checks that each
step hands the right content to the next — the dataset hash recorded in the ensemble, the predictions
equal to the ensemble's own, the DFT labels and PhDOS taken from the store, rejections with reasons,
metrics computed from the written numbers, rows in the predictions collection — not accuracy.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write
from typer.testing import CliRunner

from betenet.cli import app
from betenet.dataset.format import read_dataset
from betenet.model.ensemble import Ensemble
from betenet.store.documents import structure_fingerprint
from betenet.store.predictions import get_predictions_store
from tests.al_documents import TEST_GRID_FLAGS

TINY = ["--members", "2", "--max-epochs", "3", "--network", "mul=4", "--network", "radial_neurons=16",
        "--network", "em_dim=8", "--variant", "CPD"]


def _store_args(settings) -> list[str]:
    args = ["--home", str(settings.home), "--database", settings.database]
    return args + (["--store", settings.store_uri] if settings.store_uri else [])


def _invoke(*args, code: int = 0):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result.output


ALLOW = [arg for flag in TEST_GRID_FLAGS for arg in ("--allow-flag", flag)]


def test_store_to_screen(documents_settings, documents, tmp_path):
    store = _store_args(documents_settings)
    ok = {d.calc_id: d for d in documents if d.status == "ok"}
    unstable = next(d for d in documents if d.status == "unstable")

    # 1. build-dataset: the three stable materials, one of them held out
    _invoke("build-dataset", tmp_path / "ds", "--test-fraction", "0.34", "--split-seed", "2", *ALLOW, *store)
    dataset = read_dataset(tmp_path / "ds")
    assert {r.id for r in dataset} == set(ok)
    assert dataset.manifest.counts["splits"] == {"train": 2, "val": 0, "test": 1, "null": 0}

    # 2. train-ensemble straight from the store: same query → same dataset, its hash in the ensemble
    out = _invoke("train-ensemble", tmp_path / "ens", *TINY, "--test-fraction", "0.34", "--split-seed", "2", *ALLOW,
                  *store)
    ensemble = Ensemble.load(tmp_path / "ens")
    assert ensemble.config["dataset"]["content_hash"] == dataset.content_hash
    assert read_dataset(tmp_path / "ens" / "dataset").content_hash == dataset.content_hash
    assert ensemble.config["dataset"]["n_samples"] == 2 and ensemble.variant == "CPD"
    assert ensemble.elements == ["Al"] and dataset.content_hash in out
    # the same directory with a query that gives another dataset: refused, the old dataset kept
    out = _invoke("train-ensemble", tmp_path / "ens", *TINY, "--test-fraction", "0.34", "--split-seed", "2",
                  "--where", '{"lambda_": {"$lt": 0.8}}', *ALLOW, *store, code=2)
    assert "DatasetChangedError" in out
    assert read_dataset(tmp_path / "ens" / "dataset").content_hash == dataset.content_hash

    # 3. predict structure files: fcc Al 4.05 Å has a document (its PhDOS feeds the CPD model and its
    #    DFT α²F is overlaid); Al at 4.00 Å has none (a CPD model cannot run); NaCl has unseen elements
    files = tmp_path / "inputs"
    files.mkdir()
    write(files / "al405.cif", bulk("Al", "fcc", a=4.05))
    write(files / "al400.cif", bulk("Al", "fcc", a=4.00))
    write(files / "nacl.cif", bulk("NaCl", "rocksalt", a=5.64))
    out = _invoke("predict", *sorted(files.iterdir()), "--ensemble", tmp_path / "ens", "--out", tmp_path / "pred", *store)
    rejected = {row["id"]: row["reason"] for row in csv.DictReader((tmp_path / "pred" / "rejected.csv").open())}
    assert set(rejected) == {"al400", "nacl"}
    assert "has no 'cpd' site PhDOS" in rejected["al400"] and "Cl Na never seen in training" in rejected["nacl"]
    saved = json.loads((tmp_path / "pred" / "predictions.json").read_text())
    (al,) = saved["predictions"]
    doc = next(d for d in ok.values() if abs(d.structure.lattice.a - bulk("Al", "fcc", a=4.05).cell.lengths()[0]) < 1e-3)
    record = next(r for r in dataset if r.id == doc.calc_id)
    assert al["dft"]["lambda"] == pytest.approx(record.lambda_)  # labels of the matching store document
    direct = ensemble.predict([dataset.read_structure(record)], ids=["al405"], site_phdos=[np.asarray(record.cpd)])
    assert al["lambda"] == pytest.approx(float(direct.lambda_[0]), rel=1e-5)  # the ensemble's own numbers
    assert np.allclose(al["a2f_mean"], direct.a2f[0], rtol=1e-5, atol=1e-9)
    assert (tmp_path / "pred" / "plots" / "a2f_al405.png").stat().st_size > 10_000
    assert saved["ensemble"]["dataset_hash"] == dataset.content_hash and "al405" in out

    # 4. screen the store's documents (unstable included: predicted, but it has no DFT labels)
    out = _invoke("screen", "--ensemble", tmp_path / "ens", "--out", tmp_path / "scr", "--status", "any",
                  "--include-unstable", "--top", "2", *store)
    rows = list(csv.DictReader((tmp_path / "scr" / "predictions.csv").open()))
    assert {r["id"] for r in rows} == {*ok, unstable.calc_id}
    tc = [float(r["tc_K"]) if r["tc_K"] else -1.0 for r in rows]
    assert tc == sorted(tc, reverse=True) and [r["rank"] for r in rows] == ["1", "2", "3", "4"]
    report = json.loads((tmp_path / "scr" / "evaluation" / "evaluation.json").read_text())
    assert report["n_compared"] == 3  # the three with DFT labels
    predicted = {r["id"]: float(r["lambda"]) for r in rows}
    labels = {r.id: r.lambda_ for r in dataset}
    expected_mae = np.mean([abs(predicted[i] - labels[i]) for i in labels])
    assert report["metrics"]["lambda"]["mae"] == pytest.approx(expected_mae, rel=1e-4)
    assert report["screening"]["random_average_precision"] == pytest.approx(1 / 3)  # one Tc ≥ 5 K (a = 4.25 Å)
    assert len(list((tmp_path / "scr" / "plots").glob("a2f_*.png"))) == 2
    assert "screened 4 inputs: 4 predicted, 0 rejected" in out and "average precision" in out

    # 5. screen a dataset's test split
    out = _invoke("screen", tmp_path / "ds", "--split", "test", "--ensemble", tmp_path / "ens", "--out",
                  tmp_path / "scr-test", "--no-save", *store)
    (test_row,) = list(csv.DictReader((tmp_path / "scr-test" / "predictions.csv").open()))
    assert test_row["id"] == dataset.with_split("test")[0].id

    # 6. predictions are in the store, linked to the ensemble and its dataset, one row per (ensemble, structure)
    predictions = get_predictions_store(documents_settings)
    with predictions:
        stored = list(predictions.query({}))
    assert len(stored) == 1 + 4  # predict (al405) + screen (4 documents); --no-save wrote nothing
    assert {s["dataset_hash"] for s in stored} == {dataset.content_hash}
    assert len({s["ensemble_id"] for s in stored}) == 1
    by_structure = {s["structure_id"]: s for s in stored}
    assert by_structure["al405"]["calc_id"] == doc.calc_id  # the prediction points at the DFT document
    assert by_structure[unstable.calc_id]["structure_fingerprint"] == structure_fingerprint(unstable.structure)
    _invoke("screen", "--ensemble", tmp_path / "ens", "--out", tmp_path / "scr", "--status", "any",
            "--include-unstable", *store)
    with predictions:
        assert predictions.count() == 5  # re-screening updates, never duplicates


def test_store_errors_are_one_line(documents_settings, tmp_path):
    store = _store_args(documents_settings)
    out = _invoke("train-ensemble", tmp_path / "e", *TINY, "--elements", "O", *store, code=2)
    assert "NoMatchingDocumentsError: no document matches" in out and "Traceback" not in out
    out = _invoke("train-ensemble", tmp_path / "e", *TINY, "--where", '{"tc": {"$gt": 1}}', *store, code=2)
    assert "QueryFieldError: unknown field 'tc'" in out
    out = _invoke("screen", "--ensemble", tmp_path / "absent", "--out", tmp_path / "s", *store, code=2)
    assert "CheckpointError" in out and "not an ensemble directory" in out


def test_variant_needs_its_features(shared_dir, tmp_path):
    """A CPD ensemble on moment-only data (JARVIS rows: no site PhDOS) is refused before training."""
    from betenet.dataset.jarvis import import_jarvis

    rows = (shared_dir / "data" / "jarvis_supercon" / "jarvis_supercon.jsonl").read_text().splitlines()[:6]
    (tmp_path / "few.jsonl").write_text("\n".join(rows) + "\n")
    import_jarvis(tmp_path / "few.jsonl", tmp_path / "jarvis")
    out = _invoke("train-ensemble", tmp_path / "e", "--dataset", tmp_path / "jarvis", "--splits", "all", *TINY,
                  code=2)
    assert "MissingFeatureError: structure" in out and "has no 'cpd' site PhDOS, which a CPD model needs" in out
    assert "6 of 6 records" in out
    assert not (tmp_path / "e" / "ensemble.json").exists()  # nothing was started
