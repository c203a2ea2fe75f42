"""The same store tests on the embedded on-disk default and on a real MongoDB-wire server."""

from __future__ import annotations

import uuid

import pytest
from jobflow import Flow, job, run_locally

from betenet.settings import BetenetSettings
from betenet.store.documents import ElectronPhononDoc
from betenet.store.stores import get_job_store, get_store, load_document, save_document
from tests.test_store_documents import a2f_data, fcc_al, params, rocksalt


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.mongo)])
def settings(request, tmp_path) -> BetenetSettings:
    database = f"t{uuid.uuid4().hex[:8]}"  # one database per test: server state never leaks
    if request.param == "embedded":
        return BetenetSettings(home=tmp_path, database=database)
    uri = request.getfixturevalue("secantusdb_uri")
    return BetenetSettings(home=tmp_path, store_uri=uri, database=database)


def ok_doc(structure, calc_id: str, lambda_: float = 0.4) -> ElectronPhononDoc:
    a2f = a2f_data().model_copy(update={"lambda_": lambda_})
    return ElectronPhononDoc.from_structure(
        structure, calc_id=calc_id, method="dfpt", status="ok", parameters=params(),
        a2f_all=[a2f], a2f=a2f, lambda_=lambda_, omega_log_K=300.0, omega_2_K=320.0, tc_K=1.0,
    )


def test_upsert_is_idempotent_and_keeps_created_at(settings):
    store = get_store(settings)
    first = save_document(ok_doc(fcc_al(), "al"), store)
    second = save_document(ok_doc(fcc_al(), "al", lambda_=0.5), store)
    with store:
        assert store.count() == 1
        assert store.count({"calc_id": "al"}) == 1
    loaded = load_document("al", get_store(settings))
    assert loaded.lambda_ == 0.5  # updated ...
    assert abs((loaded.created_at - first.created_at).total_seconds()) < 1e-3  # ... not recreated
    assert loaded.last_updated >= second.created_at
    assert loaded.structure == fcc_al()


def test_queries_work_the_materials_project_way(settings):
    store = get_store(settings)
    save_document(ok_doc(fcc_al(), "al"), store)
    save_document(ok_doc(rocksalt().get_primitive_structure(), "mgo", lambda_=0.1), store)
    with store:
        assert {d["calc_id"] for d in store.query({"elements": "O"})} == {"mgo"}
        assert store.query_one({"chemsys": "Al"})["formula_pretty"] == "Al"
        assert store.count({"symmetry.number": 225}) == 2
        assert store.count({"lambda_": {"$gt": 0.2}, "status": "ok"}) == 1


def test_persists_across_connections(settings):
    save_document(ok_doc(fcc_al(), "al"), get_store(settings))
    assert load_document("al", get_store(settings)).formula_pretty == "Al"
    assert load_document("missing", get_store(settings)) is None


@job
def _add(a, b):
    return a + b


def test_job_store_uses_the_same_configuration(settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flow = Flow([_add(1, 2)])
    responses = run_locally(flow, store=get_job_store(settings), create_folders=False, log=False)
    assert [r[1].output for r in responses.values()] == [3]
    job_store = get_job_store(settings)
    with job_store:
        assert job_store.get_output(flow.jobs[0].uuid) == 3
