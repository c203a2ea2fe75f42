"""The ensemble shipped with the package (model/default_ensemble): files as recorded, loadable, used by predict and
screen without --ensemble, unknown elements rejected with the reason, a damaged copy refused."""

from __future__ import annotations

import json
import shutil

import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import write
from typer.testing import CliRunner

from betenet.cli import app
from betenet.model import default
from betenet.screening import default_ensemble
from betenet.model.default import CARD, DEFAULT_DIR, HASHES, DefaultEnsembleError, file_hashes, load_default, verify

SIZE_LIMIT_MB = 30


def test_the_shipped_files_match_their_recorded_hashes_and_load():
    recorded = json.loads((DEFAULT_DIR / HASHES).read_text())
    assert recorded == file_hashes(DEFAULT_DIR)
    assert {"ensemble.json", "metrics.json", CARD} <= set(recorded)
    ensemble = load_default()
    assert len(ensemble.members) == ensemble.config["n_members"] >= 8
    assert sum(p.stat().st_size for p in DEFAULT_DIR.rglob("*") if p.is_file()) / 1e6 < SIZE_LIMIT_MB
    card = (DEFAULT_DIR / CARD).read_text()
    # the card names its data by hash and shows the ensemble beside the baselines on the held-out rows
    assert ensemble.config["dataset"]["content_hash"] in card or dataset_hash_prefix(card)
    assert "| composition boosting |" in card and "| BETE-NET ensemble |" in card
    assert ensemble.std_scales is not None or "not calibrated" in card


def dataset_hash_prefix(card: str) -> bool:
    return "Combined dataset content hash `sha256:" in card


def test_a_damaged_or_incomplete_copy_is_refused(tmp_path):
    copy = tmp_path / "ensemble"
    shutil.copytree(DEFAULT_DIR, copy)
    verify(copy)
    member = sorted((copy / "members").glob("*.pt"))[0]
    member.write_bytes(member.read_bytes()[:-1] + bytes([member.read_bytes()[-1] ^ 1]))
    with pytest.raises(DefaultEnsembleError, match="changed"):
        verify(copy)
    shutil.rmtree(copy)
    shutil.copytree(DEFAULT_DIR, copy)
    (copy / HASHES).unlink()
    with pytest.raises(DefaultEnsembleError, match="make default-ensemble"):
        verify(copy)


def test_predict_without_ensemble_uses_the_shipped_one_and_rejects_unknown_elements(tmp_path):
    write(tmp_path / "Nb.cif", bulk("Nb", "bcc", a=3.30))
    write(tmp_path / "Og.xyz", Atoms("Og", positions=[[0, 0, 0]], cell=[4, 4, 4], pbc=True))
    result = CliRunner().invoke(app, ["predict", str(tmp_path / "Nb.cif"), str(tmp_path / "Og.xyz"), "--no-save",
                                      "--home", str(tmp_path / "home")])
    assert result.exit_code == 0, result.output
    assert "using the shipped default ensemble" in result.output and str(DEFAULT_DIR / CARD) in result.output
    (row,) = [line for line in result.output.splitlines() if line.split()[1:3] == ["Nb", "Nb"]]
    assert row.count("±") == 5  # λ, ω_log, ω₂, Tc (Allen–Dynes and Eliashberg) each with the members' spread
    assert "Og" in result.output and "never seen in training" in " ".join(result.output.split())


def test_screen_without_ensemble_uses_the_shipped_one(tmp_path):
    structures = tmp_path / "structures"
    structures.mkdir()
    for element, lattice, a in (("Nb", "bcc", 3.30), ("Al", "fcc", 4.05)):
        write(structures / f"{element}.cif", bulk(element, lattice, a=a))
    result = CliRunner().invoke(app, ["screen", str(structures), "--out", str(tmp_path / "out"), "--no-save",
                                      "--home", str(tmp_path / "home")])
    assert result.exit_code == 0, result.output
    assert "using the shipped default ensemble" in result.output
    assert (tmp_path / "out" / "predictions.csv").read_text().count("\n") == 3  # header + 2 rows


def test_the_build_command_is_documented():
    assert "python -m betenet.screening.default_ensemble" in default.__doc__
    makefile = (default_ensemble.REPO / "Makefile").read_text()
    assert "default-ensemble:" in makefile and "python -m betenet.screening.default_ensemble" in makefile
