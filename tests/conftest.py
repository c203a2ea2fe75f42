"""Shared test fixtures: paths to shared data, real-QE availability, the secantusdb server, the real Al
documents (computed once per session); registers the marker guard (tests/marker_guard.py)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from tests.marker_guard import MarkerGuard

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
SHARED = REPO.parent / "shared"
DEBIAN_PSEUDO_DIR = Path("/usr/share/espresso/pseudo")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data folder {SHARED} is missing (it sits beside the repository)")
    return SHARED


def require_qe(*programs: str) -> None:
    """Fail (not skip): QE is part of the set-up, a missing binary is a broken machine."""
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.fail(f"Quantum ESPRESSO programs missing from PATH: {missing}; run scripts/setup")


# fixtures whose users start QE or the server, whatever the test itself does
FIXTURE_MARKERS = {"secantusdb_uri": "mongo", "documents": "qe"}


def pytest_configure(config):
    config.pluginmanager.register(MarkerGuard(FIXTURE_MARKERS), "betenet-marker-guard")


def pytest_sessionfinish(session, exitstatus):
    # pytest exits 5 when the selection is empty: say so loudly so it never reads as a pass.
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.config.get_terminal_writer().line(
            "ERROR: no tests ran (empty selection) — this is a failure, not a pass", red=True, bold=True
        )


# --- secantusdb: a real MongoDB-wire server for store/workflow tests (separate process, never imported)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def secantusdb_uri(tmp_path_factory) -> str:
    """mongodb:// URI of a secantusdb server started for this test session, stopped by PID after."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import pymongo

    exe = Path(sys.executable).with_name("secantusd-py")
    if not exe.is_file():
        pytest.fail(f"{exe} missing: install the dev extras (scripts/setup --dev)")
    port = _free_port()
    data = tmp_path_factory.mktemp("secantusdb")
    log = (data / "server.log").open("w")
    cmd = [str(exe), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(data / "db"), "--standalone"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"mongodb://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            pymongo.MongoClient(uri, serverSelectionTimeoutMS=500).admin.command("ping")
            break
        except pymongo.errors.PyMongoError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"secantusdb did not answer on {uri}; log: {data / 'server.log'}")
            time.sleep(0.2)
    yield uri
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    log.close()


# --- real Al documents (tests/al_documents.py): the QE workflow runs once per session, whoever asks first


@pytest.fixture(scope="session")
def documents(tmp_path_factory):
    """Three real Al workflow documents (two ok, one unstable) and the recorded fcc-Al chain's (ok)."""
    from tests.al_documents import all_documents

    require_qe("pw.x", "ph.x", "q2r.x", "matdyn.x", "lambda.x")
    return all_documents(tmp_path_factory.mktemp("al-workflow"))


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.mongo)])
def documents_settings(request, tmp_path, documents):
    """Settings of a fresh database holding `documents` (embedded store, then the secantusdb server)."""
    from betenet.settings import BetenetSettings
    from betenet.store.stores import get_store, save_document

    database = f"t{uuid.uuid4().hex[:8]}"
    uri = request.getfixturevalue("secantusdb_uri") if request.param == "server" else None
    settings = BetenetSettings(home=tmp_path / "home", store_uri=uri, database=database)
    store = get_store(settings)
    with store:
        for doc in documents:
            save_document(doc, store)
    return settings
