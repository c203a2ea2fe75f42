"""Schema version 2: every committed document loads as version 2; import/export round-trips (no QE)."""

from __future__ import annotations

import gzip
import json

import pytest

from betenet.settings import BetenetSettings
from betenet.store.documents import DOCUMENT_VERSION, ElectronPhononDoc, EpwDiagnostics
from betenet.store.migrations import upgrade
from betenet.store.stores import get_store
from betenet.store.transfer import export_documents, import_documents, read_documents
from tests.conftest import FIXTURES

DOCUMENT_FILES = sorted(FIXTURES.rglob("documents.json.gz"))
EPW_V1 = FIXTURES / "epw-al-v1" / "documents.json.gz"


def raw_documents(path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def test_every_committed_document_file_loads_as_the_current_version():
    assert DOCUMENT_VERSION == 2
    assert {path.parent.name for path in DOCUMENT_FILES} >= {"stability-causes", "epw-al-v1"}
    for path in DOCUMENT_FILES:
        raw = raw_documents(path)
        docs = read_documents(path)
        assert len(docs) == len(raw) > 0, path
        versions = {item["document_version"] for item in raw}
        assert len(versions) == 1 and versions <= {1, DOCUMENT_VERSION}, path
        if path.parent.name in ("stability-causes", "epw-al-v1"):
            assert versions == {1}, "these are the version-1 databases the migration is tested on"
        for item, doc in zip(raw, docs):
            assert doc.document_version == 2 and doc.calc_id == item["calc_id"]
            assert "epw" not in doc.parameters.extra
            assert doc.lambda_qsum == [] or versions == {2}  # version 1 had no q-sum
            assert (doc.epw is None) == (doc.method == "dfpt")
            # the physics is untouched
            assert (doc.status, doc.lambda_, len(doc.a2f_all)) == (item["status"], item["lambda_"], len(item["a2f_all"]))


def test_epw_diagnostics_move_into_their_typed_field():
    (raw,) = raw_documents(EPW_V1)
    old = raw["parameters"]["extra"]["epw"]
    (doc,) = read_documents(EPW_V1)
    assert isinstance(doc.epw, EpwDiagnostics) and doc.status == "ok"
    assert doc.epw.model_dump(mode="json") == old  # every key kept, same names, same values
    assert doc.epw.band_check.passed and doc.epw.interpolated_phonons.n_qpoints == 16
    assert doc.epw.fine_qgrid == (6, 6, 6) and len(doc.epw.dos_states_per_spin_eV) == 10
    assert doc.parameters.extra == {k: v for k, v in raw["parameters"]["extra"].items() if k != "epw"}


def test_upgrade_is_pure_and_refuses_newer_documents():
    (raw,) = raw_documents(EPW_V1)
    before = json.dumps(raw, sort_keys=True)
    upgraded = upgrade(raw, 2)
    assert json.dumps(raw, sort_keys=True) == before  # the stored dict is not modified
    assert upgraded["document_version"] == 2 and "epw" not in upgraded["parameters"]["extra"]
    assert upgrade(upgraded, 2) == upgraded  # current documents pass through
    with pytest.raises(ValueError, match="document_version=3, newer than this betenet's 2: upgrade betenet"):
        ElectronPhononDoc.model_validate({**upgraded, "document_version": 3})
    with pytest.raises(ValueError, match="expected an integer"):
        upgrade({**raw, "document_version": "1"}, 2)


def test_import_export_round_trip_writes_version_2(tmp_path):
    settings = BetenetSettings(home=tmp_path / "home", store_uri=None, database="migration")
    store = get_store(settings)
    originals = {doc.calc_id: doc for path in DOCUMENT_FILES for doc in read_documents(path)}
    for path in DOCUMENT_FILES:
        import_documents(path, store=store)
    exported = tmp_path / "exported.json.gz"
    assert export_documents(exported, store=store) == len(originals)
    assert {item["document_version"] for item in raw_documents(exported)} == {2}
    again = read_documents(exported)
    assert [doc.calc_id for doc in again] == sorted(originals)
    for doc in again:
        first = originals[doc.calc_id]
        skip = {"last_updated", "created_at"}  # upserts stamp the store's times
        assert doc.model_dump(exclude=skip) == first.model_dump(exclude=skip)
