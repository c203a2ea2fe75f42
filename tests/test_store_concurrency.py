"""Store invariants under concurrent writers and a server killed mid-write.

- 8 processes upsert the same material at once, each its own version (a later `last_updated` per
  process, each written 15 times): exactly one document remains, the newest version; no writer fails.
  On the wire server a unique index on calc_id exists; on the embedded store a file lock stands in.
- `betenet pipeline --documents` importing 322 documents while the server is SIGKILLed: one line naming
  the server, exit 2; after a restart on the same WiredTiger folder every document loads, none is
  duplicated, and each of the previously stored ones is whole, either its previous version or the new one.
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pymongo
import pytest

from betenet.settings import BetenetSettings
from betenet.store.documents import ElectronPhononDoc
from betenet.store.stores import DOCS_COLLECTION, get_store, load_document, save_document
from betenet.store.transfer import merge_documents, read_documents
from tests.conftest import FIXTURES, _free_port
from tests.test_store_stores import fcc_al, ok_doc

N_WRITERS = 8
WRITES_EACH = 15
BASE_TIME = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def _version(calc_id: str, number: int) -> ElectronPhononDoc:
    """Version `number` of one material: later `last_updated` and its own λ, so content tells versions apart."""
    stamp = BASE_TIME + timedelta(seconds=number)
    return ok_doc(fcc_al(), calc_id, lambda_=0.3 + 0.01 * number).model_copy(
        update={"created_at": stamp, "last_updated": stamp})


def run_writers(writer, args_of_each: list[tuple]) -> None:
    """Start one forked process per argument tuple (`writer(*args, barrier, failures)`), all released at once by
    the barrier; fail the test on any writer's reported exception or non-zero exit."""
    context = multiprocessing.get_context("fork")  # no client exists in this process yet: each writer opens its own
    barrier, failures = context.Barrier(len(args_of_each)), context.Queue()
    writers = [context.Process(target=writer, args=(*args, barrier, failures)) for args in args_of_each]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=300)
    reported = [failures.get() for _ in range(failures.qsize())] if not failures.empty() else []
    assert reported == [] and all(p.exitcode == 0 for p in writers), reported


def _writer(settings: BetenetSettings, calc_id: str, number: int, barrier, failures) -> None:
    try:
        store = get_store(settings)
        doc = _version(calc_id, number)
        barrier.wait(timeout=120)
        for _ in range(WRITES_EACH):
            save_document(doc, store)
    except BaseException as err:  # reported to the test, which fails on any
        failures.put(f"writer {number}: {type(err).__name__}: {err}")


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.mongo)])
def settings(request, tmp_path) -> BetenetSettings:
    database = f"t{uuid.uuid4().hex[:8]}"
    uri = request.getfixturevalue("secantusdb_uri") if request.param == "server" else None
    return BetenetSettings(home=tmp_path, store_uri=uri, database=database)


def test_concurrent_upserts_keep_one_document_the_newest(settings):
    for trial in range(3):
        calc_id = f"al-race-{trial}"
        # the oldest versions start last, so without the last_updated guard they would land last
        run_writers(_writer, [(settings, calc_id, n) for n in reversed(range(N_WRITERS))])
        with get_store(settings) as store:
            assert store.count({"calc_id": calc_id}) == 1
        stored = load_document(calc_id, get_store(settings))
        newest = _version(calc_id, N_WRITERS - 1)
        assert stored.lambda_ == pytest.approx(newest.lambda_)
        assert stored.last_updated == newest.last_updated
    if settings.store_uri:
        with get_store(settings) as store:
            indexes = store._collection.index_information()
        assert any(info["key"] == [("calc_id", 1)] and info.get("unique") for info in indexes.values()), indexes


def test_an_older_version_never_replaces_a_newer_one(settings):
    store = get_store(settings)
    save_document(_version("al", 5), store)
    returned = save_document(_version("al", 2), store)  # e.g. an old export imported again
    assert returned.lambda_ == pytest.approx(_version("al", 5).lambda_)
    assert load_document("al", store).lambda_ == pytest.approx(_version("al", 5).lambda_)
    save_document(_version("al", 7), store)
    assert load_document("al", store).lambda_ == pytest.approx(_version("al", 7).lambda_)
    assert load_document("al", store).created_at == _version("al", 5).created_at  # the first write's


def test_workers_merge_their_stores_into_one_file_and_the_newer_version_wins(tmp_path):
    """A campaign's workers (fixtures/campaign/run_campaign.sh) each merge their own store into one file."""
    path = tmp_path / "documents.json.gz"
    first, second = (get_store(BetenetSettings(home=tmp_path / f"worker{n}")) for n in (1, 2))
    save_document(_version("al", 3), first)
    save_document(_version("pb", 1), first)
    assert merge_documents(path, first) == 2
    save_document(_version("al", 5), second)  # the same material, rerun later elsewhere
    save_document(_version("nb", 1), second)
    assert merge_documents(path, second) == 3
    assert merge_documents(path, first) == 3  # the first worker's older Al does not come back
    merged = {doc.calc_id: doc for doc in read_documents(path)}
    assert sorted(merged) == ["al", "nb", "pb"]
    assert merged["al"].lambda_ == pytest.approx(_version("al", 5).lambda_)
    assert not list(tmp_path.glob("*.partial"))


# --- the server killed in the middle of an import ------------------------------------------------------


def _start_server(port: int, data: Path, log) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("secantusd-py")
    command = [str(exe), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(data), "--standalone"]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=500).admin.command("ping")
            return proc
        except pymongo.errors.PyMongoError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"secantusdb did not start on port {port}")
            time.sleep(0.2)


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        proc.wait(timeout=30)


def _same(stored: ElectronPhononDoc, written: ElectronPhononDoc) -> bool:
    """The same version, field by field (BSON keeps timestamps to the millisecond; created_at is the first write's)."""
    times = {"created_at", "last_updated"}
    return (stored.model_dump(exclude=times) == written.model_dump(exclude=times)
            and abs(stored.last_updated - written.last_updated) < timedelta(milliseconds=1))


@pytest.mark.mongo
def test_server_killed_mid_import(tmp_path):
    port, data = _free_port(), tmp_path / "db"
    uri = f"mongodb://127.0.0.1:{port}/killed"
    settings = BetenetSettings(home=tmp_path / "home", store_uri=uri)
    log = (tmp_path / "server.log").open("w")
    server = _start_server(port, data, log)
    try:
        campaign = read_documents(FIXTURES / "campaign" / "documents.json.gz")
        store = get_store(settings)
        with store:
            for doc in campaign:
                save_document(doc, store)
        previous = {doc.calc_id: doc for doc in campaign}
        # the import: every campaign document in a newer version, each after 14 copies (at most 300) to keep it busy
        later = datetime.now(timezone.utc)
        newer = {doc.calc_id: doc.model_copy(update={"last_updated": later, "provenance": doc.provenance.model_copy(
                     update={"flow_uuid": "newer version"})}) for doc in campaign}
        extra = [doc.model_copy(update={"calc_id": f"{doc.calc_id}-copy{n}", "last_updated": later})
                 for n in range(14) for doc in campaign][:300]
        with gzip.open(tmp_path / "import.json.gz", "wt") as handle:  # the layout export_documents writes
            # one newer version after every 14 others, so the kill lands with some written and most not
            order = [doc for n, version in enumerate(newer.values()) for doc in (*extra[14 * n:14 * n + 14], version)]
            json.dump([doc.model_dump(mode="json") for doc in order], handle)

        command = [str(Path(sys.executable).with_name("betenet")), "pipeline", "--documents",
                   str(tmp_path / "import.json.gz"), "--store", uri, "--home", str(tmp_path / "home")]
        run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
        watcher = pymongo.MongoClient(uri, serverSelectionTimeoutMS=2000)
        collection = watcher["killed"][DOCS_COLLECTION]
        deadline = time.monotonic() + 300
        while collection.count_documents({"calc_id": {"$regex": "-copy"}}) < 30:
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()
            time.sleep(0.05)
        _stop(server, signal.SIGKILL)
        killed_at = time.monotonic()
        watcher.close()
        stdout, stderr = run.communicate(timeout=120)
        print(f"the command stopped {time.monotonic() - killed_at:.1f} s after the kill")
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert run.returncode == 2 and len(lines) == 1, stderr
        assert lines[0].startswith("error: ") and f"cannot reach the MongoDB server {uri}" in lines[0], lines
        assert "replaced whole" in lines[0] and "check that the server runs" in lines[0]

        server = _start_server(port, data, log)  # the same WiredTiger folder
        with get_store(settings) as store:
            stored = list(store.query({}))
        ids = [raw["calc_id"] for raw in stored]
        assert len(ids) == len(set(ids))  # no duplicates
        assert set(previous) <= set(ids)  # nothing stored before was lost
        for raw in stored:
            raw.pop("_id")
            doc = ElectronPhononDoc.model_validate(raw)  # every document whole
            if doc.calc_id in previous:
                assert _same(doc, previous[doc.calc_id]) or _same(doc, newer[doc.calc_id]), doc.calc_id
        n_newer = sum(load_document(c, get_store(settings)).provenance.flow_uuid == "newer version" for c in previous)
        print(f"after the kill: {len(ids)} documents, {n_newer} of {len(previous)} in their newer version")
        assert 0 < n_newer < len(previous)  # both kinds were read back whole: written before the kill, and not
    finally:
        _stop(server)
        log.close()
