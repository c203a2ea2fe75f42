"""No silent mixing: build-dataset refuses documents of different protocols (preset, QE version,
pseudopotential files), names them, and with --allow-mixed records every protocol in the manifest.

The documents are real: the committed campaign (preset validation, PseudoDojo NC-SR PBE `Al.upf`, …) and the
recorded fcc-Al chain assembled by the workflow's document code (preset test, Debian's LDA `Al.pz-vbc.UPF`).
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from betenet.cli import app
from betenet.settings import BetenetSettings
from betenet.store.stores import get_store, save_document
from betenet.store.transfer import read_documents
from betenet.workflows.quality import FLAGS
from tests.al_documents import fixture_document
from tests.conftest import FIXTURES

CAMPAIGN = FIXTURES / "campaign" / "documents.json.gz"


@pytest.fixture(scope="module")
def campaign_ok():
    return [d for d in read_documents(CAMPAIGN) if d.status == "ok"]


@pytest.fixture(scope="module")
def mixed_home(tmp_path_factory):
    """An embedded store with the campaign's documents and the test-preset fcc-Al document."""
    home = tmp_path_factory.mktemp("mixed")
    store = get_store(BetenetSettings(home=home))
    with store:
        for doc in [*read_documents(CAMPAIGN), fixture_document()]:
            save_document(doc, store)
    return home


def build(home, out, *options):
    # every quality flag kept (the test-preset document's smearing_sensitive among them): only the protocol decides
    allow = [word for flag in FLAGS for word in ("--allow-flag", flag)]
    return CliRunner().invoke(app, ["build-dataset", str(out), "--home", str(home), *allow, *options])


def test_mixed_protocols_are_refused_naming_the_documents(mixed_home, tmp_path, campaign_ok):
    test_al = fixture_document().calc_id
    with_al = [d.calc_id for d in campaign_ok if "Al" in d.composition]
    result = build(mixed_home, tmp_path / "data")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    line = lines[0]
    assert f"preset validation in {len(campaign_ok)} document(s) but test in 1 ({test_al})" in line
    # each aspect names the documents outside its commonest value (the campaign's Al, AlIr, …: Al.upf)
    assert len(with_al) > 1
    assert f"Al pseudopotential Al.upf (md5 a92309766db89a6b54a5f8790cc4d69e) in {len(with_al)} document(s) " \
           f"but Al.pz-vbc.UPF (md5 69dcd8cd7cc1bedf536afd524f174f6a) in 1 ({test_al})" in line
    assert "--where '{\"parameters.preset\": \"validation\"}'" in line  # the hint's example: the commonest preset
    assert "--allow-mixed" in line
    assert not (tmp_path / "data").exists()  # nothing written


def test_allow_mixed_records_every_protocol(mixed_home, tmp_path, campaign_ok):
    n = len(campaign_ok) + 1
    result = build(mixed_home, tmp_path / "data", "--allow-mixed")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    protocol = manifest["query"]["protocol"]
    assert manifest["query"]["allow_mixed"] is True and protocol["mixed"] is True
    assert protocol["presets"] == {"validation": n - 1, "test": 1}
    assert protocol["qe_versions"] == {"6.7MaX": n}
    al = protocol["pseudopotentials"]["Al"]
    assert sorted(al) == ["Al.pz-vbc.UPF (md5 69dcd8cd7cc1bedf536afd524f174f6a)",
                          "Al.upf (md5 a92309766db89a6b54a5f8790cc4d69e)"]
    assert protocol["label_sources"] == {"betenet dfpt documents (α²F and its moments)": n}
    assert manifest["counts"]["records"] == n


def test_one_protocol_builds_and_says_so(mixed_home, tmp_path, campaign_ok):
    result = build(mixed_home, tmp_path / "data", "--where", '{"parameters.preset": "validation"}')
    assert result.exit_code == 0, result.output
    protocol = json.loads((tmp_path / "data" / "manifest.json").read_text())["query"]["protocol"]
    assert protocol["mixed"] is False and protocol["presets"] == {"validation": len(campaign_ok)}
    assert all(len(files) == 1 for files in protocol["pseudopotentials"].values())  # one file per element
    assert set(protocol["pseudopotentials"]) == {str(e) for d in campaign_ok for e in d.structure.composition}


def test_jarvis_dataset_names_its_moment_only_source(shared_dir, tmp_path):
    from betenet.dataset.jarvis import import_jarvis

    dataset = import_jarvis(shared_dir / "data" / "jarvis_supercon" / "jarvis_supercon.jsonl", tmp_path / "j")
    (source, count), = dataset.manifest.query["label_sources"].items()
    assert source.startswith("JARVIS-DFT") and "moments only, no α²F" in source and count == 924
