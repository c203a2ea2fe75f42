"""build-dataset on real documents (real Al workflow runs + the recorded fcc-Al chain), on the
embedded store and on the MongoDB-wire server: content, filters, splits and the errors a user meets."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from typer.testing import CliRunner

from betenet.cli import app
from betenet.dataset.build import DatasetBuildError, SplitSpec, build_dataset, record_from_document
from betenet.dataset.format import read_dataset
from betenet.dataset.query import NoMatchingDocumentsError, QueryFieldError, StoreQuery
from betenet.physics import MODEL_GRID_MEV
from betenet.store.documents import structure_fingerprint
from betenet.store.stores import get_store
from tests.al_documents import TEST_GRID_FLAGS, al_structures, fixture_document



def test_documents_are_what_the_tests_assume(documents):
    by_status = {}
    for doc in documents:
        by_status.setdefault(doc.status, []).append(doc)
    assert len(by_status["ok"]) == 3 and len(by_status["unstable"]) == 1
    assert by_status["unstable"][0].stability.lowest_frequency_meV < -1.0
    # expanding fcc Al softens the phonons and raises λ
    lam = {round(d.structure.lattice.volume, 1): d.lambda_ for d in by_status["ok"]}
    assert [lam[v] for v in sorted(lam)] == sorted(lam.values())


def test_records_carry_targets_features_and_ids(documents_settings, documents, tmp_path):
    out = tmp_path / "ds"
    # by default flagged documents stay out; every ok Al document of the test grid is flagged
    assert all(d.quality.flags for d in documents if d.status == "ok")
    with pytest.raises(DatasetBuildError, match="all 3 matching documents carry quality flags"):
        build_dataset(get_store(documents_settings), tmp_path / "default", StoreQuery(),
                      split=SplitSpec(test_fraction=1 / 3, seed=1))
    result = build_dataset(get_store(documents_settings), out, StoreQuery(),
                           split=SplitSpec(test_fraction=1 / 3, seed=1), allow_flags=TEST_GRID_FLAGS)
    dataset = read_dataset(out)
    ok_docs = {d.calc_id: d for d in documents if d.status == "ok"}
    assert result.n_matched == 3 and {r.id for r in dataset} == set(ok_docs) and result.left_out_by_flag == {}
    for record in dataset:
        doc = ok_docs[record.id]
        a2f = np.asarray(record.a2f)
        assert a2f.shape == (51,) and a2f.min() >= 0
        # Al phonons end near 40 meV (a bit lower for the expanded cell): α²F weight stays below 45 meV
        assert a2f[MODEL_GRID_MEV > 45].sum() == 0 and a2f.max() > 0.1
        # model-grid moments agree with the document's full-resolution ones within a few percent
        assert record.lambda_ == pytest.approx(doc.lambda_, rel=0.03)
        assert record.omega_log_K == pytest.approx(doc.omega_log_K, rel=0.03)
        assert record.omega_2_K == pytest.approx(doc.omega_2_K, rel=0.03)
        assert record.tc_K == pytest.approx(doc.tc_K, rel=0.15, abs=0.3)
        assert record.extra["dft"]["lambda"] == doc.lambda_ and record.extra["calc_id"] == doc.calc_id
        # one site-PhDOS row per atom, ≈ 3 phonon states per atom (2 meV bins)
        for rows in (record.cpd, record.fpd):
            assert np.asarray(rows).shape == (doc.nsites, 51)
            assert np.sum(rows) * 2.0 == pytest.approx(3.0 * doc.nsites, rel=0.05)
        atoms = dataset.read_structure(record)
        assert atoms.get_volume() == pytest.approx(doc.structure.volume, rel=1e-5)
    assert dataset.manifest.counts["splits"] == {"train": 2, "val": 0, "test": 1, "null": 0}
    assert dataset.manifest.query["criteria"] == {"status": "ok", "stability.stable": True}
    # the same store and query give the same content hash (the dataset is a function of the store)
    again = build_dataset(get_store(documents_settings), tmp_path / "again", StoreQuery(),
                          split=SplitSpec(test_fraction=1 / 3, seed=1), allow_flags=TEST_GRID_FLAGS)
    assert again.dataset.content_hash == dataset.content_hash


def test_filters(documents_settings, documents, tmp_path):
    store = get_store(documents_settings)

    def ids(query, **kw):
        return {r.id for r in build_dataset(store, tmp_path / uuid.uuid4().hex, query, allow_flags=TEST_GRID_FLAGS,
                                            **kw).dataset}

    unstable = next(d for d in documents if d.status == "unstable")
    soft = max((d for d in documents if d.status == "ok"), key=lambda d: d.lambda_)
    everything = build_dataset(store, tmp_path / "all", StoreQuery(status=None, stable_only=False), require=(),
                               allow_flags=TEST_GRID_FLAGS)
    assert {r.id for r in everything.dataset} == {d.calc_id for d in documents}
    bare = next(r for r in everything.dataset if r.id == unstable.calc_id)
    assert bare.a2f is None and bare.lambda_ is None and bare.tc_K is None  # no sentinel numbers
    assert bare.cpd is not None and bare.fpd is None  # the coarse phonons ran, the el-ph branch did not
    assert ids(StoreQuery(where={"lambda_": {"$gt": 0.8}})) == {soft.calc_id}
    assert len(ids(StoreQuery(elements=("Al",), max_sites=1, method="dfpt"))) == 3
    assert len(ids(StoreQuery(created_after=datetime.now(timezone.utc) - timedelta(days=1)))) == 3
    with pytest.raises(NoMatchingDocumentsError, match="no document matches"):
        ids(StoreQuery(created_before=datetime(2000, 1, 1)))
    with pytest.raises(NoMatchingDocumentsError):
        ids(StoreQuery(exclude_elements=("Al",)))
    with pytest.raises(NoMatchingDocumentsError):
        ids(StoreQuery(method="epw"))
    # an unstable material has no α²F: asking for targets names it
    with pytest.raises(DatasetBuildError, match=unstable.calc_id):
        ids(StoreQuery(status=None, stable_only=False))


def test_query_on_a_missing_field_is_an_error():
    with pytest.raises(QueryFieldError, match="no field 'lamda'.*known fields: .*lambda_"):
        StoreQuery(where={"lamda": {"$gt": 0.5}})
    with pytest.raises(QueryFieldError, match="stability has no field 'lowest'"):
        StoreQuery(where={"$or": [{"tc_K": {"$gt": 1}}, {"stability.lowest": 0}]})
    StoreQuery(where={"a2f.lambda_": {"$gt": 0.1}, "symmetry.number": 225, "structure.lattice.a": {"$gt": 3}})


def test_split_groups_duplicates_and_follows_seed_paper_indices(tmp_path):
    fixture = fixture_document()
    twin = fixture.model_copy(update={"calc_id": fixture.calc_id[:-4] + "beef"})  # same crystal, other params
    keys = {"a": "k1", "b": "k1", "c": "k2", "d": "k3"}
    split = SplitSpec(test_fraction=0.5, seed=3).assign(keys.values())
    assert list(split.values()).count("test") == round(0.5 * 3)
    assert SplitSpec(test_fraction=0.5, seed=3).assign(keys.values()) == split  # seeded
    from betenet.dataset.build import structure_key

    assert structure_key(twin) == structure_key(fixture)
    # the seed paper's files: indices written as floats, structures as <index>.cif
    from betenet.dataset.build import seed_paper_assignments

    (tmp_path / "indices").mkdir()
    (tmp_path / "structures").mkdir()
    structures = al_structures()
    structures["fcc-4.05"].to(filename=str(tmp_path / "structures" / "7.cif"))
    structures["fcc-4.25"].to(filename=str(tmp_path / "structures" / "12.cif"))
    (tmp_path / "indices" / "idx_train_full.txt").write_text("7.000000000000000000e+00\n3.0e+00\n")
    (tmp_path / "indices" / "idx_test_full.txt").write_text("1.200000000000000000e+01\n")
    assignments = seed_paper_assignments(tmp_path / "indices", tmp_path / "structures")
    assert assignments == {structure_fingerprint(structures["fcc-4.05"]): "train",
                           structure_fingerprint(structures["fcc-4.25"]): "test"}


def test_sites_that_do_not_match_the_structure_are_an_error():
    doc = fixture_document()
    bad_dos = doc.phonon_dos_fine.model_copy(update={"site_labels": ["Mg1"]})
    with pytest.raises(DatasetBuildError, match=r"fine phonon DOS sites \['Mg1'\] do not match"):
        record_from_document(doc.model_copy(update={"phonon_dos_fine": bad_dos}))


def test_cli(documents_settings, documents, tmp_path):
    runner = CliRunner()
    store_args = ["--database", documents_settings.database, "--home", str(documents_settings.home)]
    store_args += ["--store", documents_settings.store_uri] if documents_settings.store_uri else []
    store_args += [arg for flag in TEST_GRID_FLAGS for arg in ("--allow-flag", flag)]
    out = tmp_path / "cli-ds"
    result = runner.invoke(app, ["build-dataset", str(out), "--test-fraction", "0", "--elements", "Al",
                                 "--max-sites", "4", "--since", "2020-01-01", *store_args])
    assert result.exit_code == 0, result.output
    assert "3 records from 3 matching documents" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["query"]["filters"]["elements"] == ["Al"] and manifest["counts"]["splits"]["train"] == 3
    assert "collection electron_phonon" in manifest["query"]["store"]
    # user errors: one line, exit code 2, no traceback
    for args, message in [
        (["--where", '{"lamda": 1}'], "QueryFieldError: unknown field 'lamda'"),
        (["--elements", "O"], "NoMatchingDocumentsError"),
        (["--status", "any", "--include-unstable"], "DatasetBuildError: document"),
        ([], "FileExistsError"),
    ]:
        bad = runner.invoke(app, ["build-dataset", str(out), *args, *store_args])
        assert bad.exit_code == 2 and message in bad.output, (args, bad.output)
        assert "Traceback" not in bad.output
