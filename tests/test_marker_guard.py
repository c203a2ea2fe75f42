"""The marker guard (tests/marker_guard.py) fails unmarked tests that start QE or the secantusdb server.

Each check runs pytest in a subprocess on generated tests, with the guard's QE folder pointed at fake
`*.x` scripts: nothing real starts, so these tests belong to the quick `-m "not qe"` selection.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO

CONFTEST = '''
from pathlib import Path
import subprocess
import pytest
from tests.marker_guard import MarkerGuard

FAKE = Path(__file__).parent / "bin"

def pytest_configure(config):
    config.addinivalue_line("markers", "qe: runs QE")
    config.addinivalue_line("markers", "mongo: needs the server")
    config.pluginmanager.register(MarkerGuard({"secantusdb_uri": "mongo"}, qe_folder=FAKE))

@pytest.fixture(scope="session")
def secantusdb_uri():
    subprocess.run([FAKE / "secantusd-py", "-fixture"], check=True)
    return "mongodb://127.0.0.1:1/"
'''

CASES = '''
import subprocess
import threading
import pytest
from conftest import FAKE

def test_unmarked_runs_pw():
    subprocess.run([FAKE / "pw.x"], check=True)

def test_unmarked_runs_ph_behind_mpirun_and_swallows_the_error():
    try:
        subprocess.run(["mpirun", "-np", "2", str(FAKE / "ph.x")])
    except BaseException:
        pass

def test_unmarked_runs_matdyn_in_a_thread():
    thread = threading.Thread(target=subprocess.run, args=([FAKE / "matdyn.x"],))
    thread.start()
    thread.join()

@pytest.fixture
def q2r_output():
    subprocess.run([FAKE / "q2r.x"], check=True)

def test_unmarked_uses_a_fixture_that_runs_q2r(q2r_output):
    pass

def test_unmarked_starts_the_server():
    subprocess.run([FAKE / "secantusd-py"], check=True)

@pytest.mark.qe
def test_marked_runs_lambda():
    subprocess.run([FAKE / "lambda.x"], check=True)

def test_server_fixture_marks_its_user_mongo(request, secantusdb_uri):
    assert request.node.get_closest_marker("mongo") is not None
'''


def _run_pytest(folder: Path, *args: str) -> tuple[dict[str, int], str]:
    """(outcome → count from pytest's summary line, the whole output)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", *args, str(folder)],
        cwd=folder, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    summary = output.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (failed|passed|deselected|error)", summary)}, output


def _cases(tmp_path: Path) -> Path:
    fake = tmp_path / "bin"
    fake.mkdir()
    for program in ("pw.x", "ph.x", "matdyn.x", "q2r.x", "lambda.x", "secantusd-py"):
        # each fake leaves a trace (named after its first argument too), so a test can tell whether it started
        (fake / program).write_text(f"#!/bin/sh\ntouch {tmp_path}/started-{program}$1\n")
        (fake / program).chmod(0o755)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_cases.py").write_text(textwrap.dedent(CASES))
    return tmp_path


def test_unmarked_tests_that_start_qe_or_the_server_fail_with_name_and_program(tmp_path):
    outcomes, output = _run_pytest(_cases(tmp_path))
    for test, program, marker in (
        ("test_unmarked_runs_pw", "pw.x", "qe"),
        ("test_unmarked_runs_ph_behind_mpirun_and_swallows_the_error", "ph.x", "qe"),
        ("test_unmarked_runs_matdyn_in_a_thread", "matdyn.x", "qe"),
        ("test_unmarked_uses_a_fixture_that_runs_q2r", "q2r.x", "qe"),
        ("test_unmarked_starts_the_server", "secantusd-py", "mongo"),
    ):
        assert f"test_cases.py::{test} started {program} (" in output, output
        assert f"is not marked '{marker}'" in output
        assert not (tmp_path / f"started-{program}").exists(), f"{program} ran although refused"
    assert outcomes == {"failed": 4, "passed": 2, "error": 1}, output
    # the marked test ran its program; the server fixture ran for the test it marked `mongo`
    assert (tmp_path / "started-lambda.x").exists() and (tmp_path / "started-secantusd-py-fixture").exists()


def test_not_mongo_deselects_the_server_users_and_starts_no_server(tmp_path):
    outcomes, output = _run_pytest(_cases(tmp_path), "-m", "not mongo")
    assert outcomes == {"failed": 4, "passed": 1, "deselected": 1, "error": 1}, output
    assert "test_server_fixture_marks_its_user_mongo" not in output
    assert not list(tmp_path.glob("started-secantusd-py*"))
