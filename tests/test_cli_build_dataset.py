"""`betenet build-dataset --jarvis`: the shared JARVIS set through the CLI into the dataset format."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from betenet.cli import app
from betenet.dataset.format import read_dataset


def test_jarvis_import_through_the_cli(shared_dir, tmp_path):
    source = shared_dir / "data" / "jarvis_supercon" / "jarvis_supercon.jsonl"
    out = tmp_path / "jarvis"
    result = CliRunner().invoke(app, ["build-dataset", str(out), "--jarvis", str(source)])
    assert result.exit_code == 0, result.output
    assert "924 JARVIS records" in result.output
    dataset = read_dataset(out)
    rows = {json.loads(line)["jid"]: json.loads(line) for line in source.read_text().splitlines()}
    camg = next(r for r in dataset if r.id == "JVASP-100152")
    assert camg.lambda_ == rows["JVASP-100152"]["lambda"] and camg.tc_K == pytest.approx(rows["JVASP-100152"]["Tc_K"])
    assert camg.a2f is None and camg.split == "train"
    assert sorted(dataset.read_structure(camg).get_chemical_symbols()) == ["Ca", "Mg"]
    again = CliRunner().invoke(app, ["build-dataset", str(out), "--jarvis", str(source)])
    assert again.exit_code == 2 and "exists" in again.output  # never replaced without --overwrite
