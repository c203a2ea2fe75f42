"""The main job end to end (real QE for Al, a tiny real ensemble) and document export/import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ase.build import bulk
from ase.io import write
from typer.testing import CliRunner

from betenet.cli import app
from betenet.settings import override_settings
from betenet.store.stores import get_store, save_document
from tests.al_documents import TEST_GRID_FLAGS
from betenet.store.transfer import export_documents, import_documents
from conftest import require_qe

JARVIS_ROWS = Path(__file__).resolve().parents[1] / "fixtures" / "jarvis" / "jarvis_supercon.jsonl.gz"
TINY_NETWORK = ["--network", "mul=4", "--network", "em_dim=8", "--network", "radial_neurons=8"]


def _count(store) -> int:
    with store:
        return store.count()


def test_export_import_round_trip_and_bad_file(documents, tmp_path):
    with override_settings(home=tmp_path / "a", store_uri=None):
        for doc in documents:
            save_document(doc, get_store())
        n = export_documents(tmp_path / "docs.json.gz")
    assert n == len(documents)
    with override_settings(home=tmp_path / "b", store_uri=None):
        imported = import_documents(tmp_path / "docs.json.gz")
        import_documents(tmp_path / "docs.json.gz")  # idempotent: upsert by calc_id
        assert _count(get_store()) == len(documents)
    by_id = {d.calc_id: d for d in documents}
    for doc in imported:
        original = by_id[doc.calc_id]
        assert doc.status == original.status and doc.lambda_ == original.lambda_
        if original.a2f is not None:
            assert doc.a2f.a2f == original.a2f.a2f

    # one broken document: nothing of the file is imported, the error names the entry
    raw = [d.model_dump(mode="json") for d in documents]
    raw[1]["status"] = "finished-ish"
    (tmp_path / "bad.json").write_text(json.dumps(raw))
    with override_settings(home=tmp_path / "c", store_uri=None):
        with pytest.raises(ValueError, match="document 1 is not a valid ElectronPhononDoc"):
            import_documents(tmp_path / "bad.json")
        assert _count(get_store()) == 0


@pytest.mark.qe
def test_pipeline_runs_dft_trains_screens_and_resumes(documents, tmp_path):
    require_qe("pw.x", "ph.x", "q2r.x", "matdyn.x")
    with override_settings(home=tmp_path / "source", store_uri=None):
        for doc in documents:
            save_document(doc, get_store())
        export_documents(tmp_path / "campaign.json.gz")
    structures = tmp_path / "structures"
    structures.mkdir()
    write(structures / "Al_4.10.cif", bulk("Al", "fcc", a=4.10))
    home = tmp_path / "home"
    args = ["pipeline", str(structures / "Al_4.10.cif"), "--preset", "test", "--documents",
            str(tmp_path / "campaign.json.gz"), "--screen", str(structures), "--members", "2", "--max-epochs", "3",
            "--test-fraction", "0.0", *TINY_NETWORK, "--home", str(home),
            *[arg for flag in TEST_GRID_FLAGS for arg in ("--allow-flag", flag)]]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    summary = json.loads((home / "pipeline" / "summary.json").read_text())

    (material,) = summary["materials"]
    assert material["status"] == "ok" and material["origin"] == "computed"
    assert 0.3 < material["lambda"] < 0.9  # fcc Al between the 4.05 Å (0.5) and 4.25 Å (1.1) documents
    assert 150 < material["omega_log_K"] < 400 and material["tc_K"] > 0
    stable_with_a2f = sum(d.status == "ok" for d in documents) + 1
    assert summary["dataset"]["records"] == stable_with_a2f  # the unstable document is left out
    ensemble = home / "pipeline" / summary["ensemble"].split("/")[-1]
    checkpoints = sorted((ensemble / "members").iterdir())
    assert len(checkpoints) >= 2
    (screened,) = summary["screened"]
    assert screened["formula"] == "Al" and screened["tc_K"] is not None
    assert "DFT: store document" in screened["source"]  # the screened CIF is matched to its computed document
    assert (home / "pipeline" / "dft_a2f.png").stat().st_size > 1000

    # resume: the material comes from the store and the trained members are kept as they are
    stamps = {p.name: p.stat().st_mtime_ns for p in checkpoints}
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0, second.output
    again = json.loads((home / "pipeline" / "summary.json").read_text())
    assert again["materials"][0]["origin"] == "store"
    assert again["ensemble"] == summary["ensemble"]
    assert {p.name: p.stat().st_mtime_ns for p in sorted((ensemble / "members").iterdir())} == stamps


def test_pipeline_bad_documents_file_is_a_clear_error(tmp_path):
    (tmp_path / "docs.json").write_text("{not json")
    result = CliRunner().invoke(app, ["pipeline", "--documents", str(tmp_path / "docs.json"),
                                      "--home", str(tmp_path / "home")])
    assert result.exit_code == 2
    assert "not a readable JSON file of documents" in result.output


def _jarvis_subset(path, n: int = 120):
    """The first `n` rows of the committed JARVIS fixture (the main job's moment labels)."""
    import gzip

    rows = gzip.decompress(JARVIS_ROWS.read_bytes()).decode().splitlines()[:n]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_pipeline_mixed_supervision_scores_a_grouped_held_out_split_beside_the_baselines(documents, tmp_path):
    """α²F documents + moment-only labels: one dataset, a held-out split of chemical systems, the ensemble and
    the baselines scored on the same held-out rows (no QE: the documents are the recorded Al runs)."""
    with override_settings(home=tmp_path / "source", store_uri=None):
        for doc in documents:
            save_document(doc, get_store())
        export_documents(tmp_path / "campaign.json.gz")
    labels = _jarvis_subset(tmp_path / "jarvis.jsonl")
    home = tmp_path / "home"
    result = CliRunner().invoke(app, [
        "pipeline", "--documents", str(tmp_path / "campaign.json.gz"), "--labels", str(labels), "--members", "3",
        "--max-epochs", "4", *TINY_NETWORK, "--home", str(home),
        *[arg for flag in TEST_GRID_FLAGS for arg in ("--allow-flag", flag)]])
    assert result.exit_code == 0, result.output
    summary = json.loads((home / "pipeline" / "summary.json").read_text())
    n_a2f = sum(d.status == "ok" for d in documents)
    assert summary["dataset"]["records"] == n_a2f + 120
    holdout = summary["holdout"]
    assert holdout["n_test"] > 0 and holdout["n_train"] > holdout["n_test"]
    assert set(holdout["baselines"]) == {"training median", "composition 5-NN", "composition ridge",
                                         "composition boosting"}
    for scores in (holdout["ensemble"], *holdout["baselines"].values()):
        assert scores["n"] == holdout["n_test"] and scores["mae_tc_K"] >= 0
    assert 0 <= holdout["ensemble"]["coverage_tc_K"] <= 1
    assert holdout["table"][-1].startswith("| BETE-NET ensemble |") and "| composition boosting |" in result.output

    # the split is grouped: no chemical system is on both sides, and the ensemble trained on train rows only
    from betenet.dataset.format import read_dataset
    from betenet.model.ensemble import Ensemble
    from betenet.model.splits import chemical_system

    dataset = read_dataset(home / "pipeline" / "dataset")
    sides = {name: {chemical_system(r.formula) for r in dataset.records if r.split == name}
             for name in ("train", "val", "test")}
    assert not sides["train"] & sides["test"] and not sides["train"] & sides["val"]
    assert {r.source for r in dataset.records} >= {"JARVIS-DFT"}
    assert sum(r.a2f is not None for r in dataset.records) == n_a2f
    ensemble = Ensemble.load(home / "pipeline" / summary["ensemble"].split("/")[-1])
    assert ensemble.config["dataset"]["n_samples"] == holdout["n_train"]
