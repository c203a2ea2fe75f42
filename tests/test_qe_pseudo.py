"""Pseudopotential families: index.json, Debian filename matching, md5, clear errors."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from betenet.qe.pseudo import (
    DEBIAN_PSEUDO_DIR,
    AmbiguousPseudoError,
    MissingPseudoError,
    PseudoError,
    PseudoFamily,
    default_pseudo_dir,
)
from betenet.settings import override_settings

DOJO = "pseudo/pseudodojo-nc-sr-pbe-standard-0.4.1"


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_debian_folder_matches_by_filename():
    entry = PseudoFamily(DEBIAN_PSEUDO_DIR).lookup("Al")
    assert entry.filename == "Al.pz-vbc.UPF"
    assert entry.path == DEBIAN_PSEUDO_DIR / "Al.pz-vbc.UPF"
    assert entry.md5 == _md5(entry.path)
    assert entry.ecutwfc_ry is None and entry.ecutrho_ry is None  # Debian's folder has no hints


def test_ambiguous_filenames_are_an_error_listing_the_candidates():
    with pytest.raises(AmbiguousPseudoError) as info:
        PseudoFamily(DEBIAN_PSEUDO_DIR).lookup("C")
    assert "C.pz-rrkjus.UPF" in str(info.value) and str(DEBIAN_PSEUDO_DIR) in str(info.value)
    chosen = PseudoFamily(DEBIAN_PSEUDO_DIR, filenames={"C": "C.pz-rrkjus.UPF"}).lookup("C")
    assert chosen.filename == "C.pz-rrkjus.UPF"


def test_missing_element_names_element_and_folder(tmp_path):
    shutil.copy(DEBIAN_PSEUDO_DIR / "Al.pz-vbc.UPF", tmp_path)
    (tmp_path / "Ala.fake.UPF").write_text("not aluminium")  # 'Al' must not match 'Ala'
    family = PseudoFamily(tmp_path)
    assert family.lookup("Al").filename == "Al.pz-vbc.UPF"
    with pytest.raises(MissingPseudoError) as info:
        family.for_elements(["Al", "Nb"])
    assert info.value.element == "Nb" and info.value.directory == tmp_path
    assert "Nb" in str(info.value) and str(tmp_path) in str(info.value)


def test_pseudodojo_index(shared_dir):
    family = PseudoFamily(shared_dir / DOJO)  # index.json found in the folder
    entry = family.lookup("Al")
    assert (entry.filename, entry.ecutwfc_ry, entry.ecutrho_ry) == ("Al.upf", 40.0, 160.0)
    assert entry.md5 == _md5(entry.path)
    assert family.recommended_cutoffs_ry(["Al", "Mg"]) == (84.0, 336.0)
    with pytest.raises(MissingPseudoError, match="Ce.*not listed in"):
        family.lookup("Ce")  # a lanthanide the family does not have


def test_flat_index_and_stale_md5(tmp_path):
    shutil.copy(DEBIAN_PSEUDO_DIR / "Al.pz-vbc.UPF", tmp_path)
    index = tmp_path / "family.json"
    index.write_text(json.dumps({"_notes": "flat layout", "Al": {"file": "Al.pz-vbc.UPF", "ecutwfc_ry": 15}}))
    entry = PseudoFamily(tmp_path, index=index).lookup("Al")
    assert entry.ecutwfc_ry == 15.0 and entry.ecutrho_ry is None
    with pytest.raises(PseudoError, match="no recommended cutoffs"):
        PseudoFamily(tmp_path, index=index).recommended_cutoffs_ry(["Al"])

    index.write_text(json.dumps({"Al": {"file": "Al.pz-vbc.UPF", "md5": "0" * 32}}))
    with pytest.raises(PseudoError, match="md5"):
        PseudoFamily(tmp_path, index=index).lookup("Al")


def test_listed_file_that_is_absent(tmp_path):
    (tmp_path / "index.json").write_text(json.dumps({"elements": {"Al": {"file": "Al.upf"}}}))
    with pytest.raises(MissingPseudoError, match="Al.upf is missing"):
        PseudoFamily(tmp_path).lookup("Al")


def test_folder_precedence_settings_then_espresso_pseudo_then_debian(tmp_path, monkeypatch):
    monkeypatch.delenv("BETENET_PSEUDO_DIR", raising=False)
    monkeypatch.delenv("ESPRESSO_PSEUDO", raising=False)
    assert default_pseudo_dir() == DEBIAN_PSEUDO_DIR
    monkeypatch.setenv("ESPRESSO_PSEUDO", str(tmp_path))
    assert default_pseudo_dir() == tmp_path
    with override_settings(pseudo_dir=DEBIAN_PSEUDO_DIR):
        assert PseudoFamily.from_settings().directory == DEBIAN_PSEUDO_DIR


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(PseudoError, match="does not exist.*BETENET_PSEUDO_DIR"):
        PseudoFamily(tmp_path / "nowhere")


def test_a_relative_pseudo_dir_means_the_callers_folder_not_the_run_folder(tmp_path, monkeypatch):
    # QE jobs run in their own folders: a relative BETENET_PSEUDO_DIR read there found nothing (seen in a real run)
    shutil.copy(DEBIAN_PSEUDO_DIR / "Al.pz-vbc.UPF", tmp_path / "Al.pz-vbc.UPF")
    monkeypatch.chdir(tmp_path.parent)
    monkeypatch.setenv("BETENET_PSEUDO_DIR", tmp_path.name)
    from betenet.settings import get_settings

    settings = get_settings()
    monkeypatch.chdir(tmp_path)  # where a job would run
    assert default_pseudo_dir(settings) == tmp_path
    assert PseudoFamily(default_pseudo_dir(settings)).lookup("Al").path == tmp_path / "Al.pz-vbc.UPF"
