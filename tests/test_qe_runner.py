"""The runner: command line, captured output, environment, and its three errors.

Error paths that QE cannot be made to produce on demand (a hang) use a stand-in script as the
binary; a real failing pw.x covers the non-zero exit.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from betenet.qe.programs import PROGRAMS, get_program
from betenet.qe.runner import (
    MissingBinaryError,
    QERunError,
    QETimeoutError,
    build_command,
    run_program,
)
from betenet.settings import override_settings
from tests.conftest import require_qe


def _fake_binary(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _running(pid: int, wait_s: float = 2.0) -> bool:
    """True if `pid` is still a live (non-zombie) process after up to `wait_s`."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        if state == "Z":  # killed, waiting for its new parent to reap it
            return False
        time.sleep(0.05)
    return True


def test_registry_lookup_and_validation():
    assert get_program("pw.x") is PROGRAMS["pw"]
    assert get_program("lambda").stdin_input and not get_program("lambda").mpi
    with pytest.raises(ValueError, match=r"Invalid program='pwx', use one of \('pw', 'ph'"):
        get_program("pwx")
    with pytest.raises(LookupError, match="no stdout parser"):
        get_program("q2r").load_parser()
    from betenet.parsers.a2f import parse_a2f_dos
    from betenet.parsers.pw import parse_pw_output

    assert get_program("pw").load_parser() is parse_pw_output
    assert get_program("matdyn").parser_for_file("a2F.dos10") is parse_a2f_dos
    with pytest.raises(LookupError, match="no parser registered for 'al.fc'"):
        get_program("matdyn").parser_for_file("al.fc")


def test_command_line_prefix_pools_and_input(tmp_path):
    require_qe("pw.x", "matdyn.x", "q2r.x", "lambda.x")
    launcher = _fake_binary(tmp_path, "mpirun", "exit 0\n")  # the prefix logic, whatever MPI is installed
    which = {name: shutil.which(name) for name in ("pw.x", "matdyn.x", "q2r.x", "lambda.x")}
    with override_settings(mpi_command=f"{launcher} -np 2 --bind-to none", qe_bin_dir=None) as settings:
        assert build_command(get_program("pw"), "scf.in", 2, settings) == [
            str(launcher), "-np", "2", "--bind-to", "none", which["pw.x"], "-nk", "2", "-in", "scf.in",
        ]
        assert build_command(get_program("matdyn"), "m.in", 2, settings)[-3:] == [which["matdyn.x"], "-in", "m.in"]
        assert build_command(get_program("q2r"), "q2r.in", 2, settings) == [which["q2r.x"], "-in", "q2r.in"]
        assert build_command(get_program("lambda"), "lambda.in", 1, settings) == [which["lambda.x"]]
    with override_settings(mpi_command="", qe_bin_dir=None) as settings:
        assert build_command(get_program("pw"), "pw.in", 1, settings) == [which["pw.x"], "-in", "pw.in"]


def test_missing_binary_says_which_and_how_to_fix(tmp_path, monkeypatch):
    with override_settings(qe_bin_dir=tmp_path, mpi_command=""):
        with pytest.raises(MissingBinaryError) as info:
            run_program("pw", "irrelevant", tmp_path / "run")
    message = str(info.value)
    assert "pw.x" in message and str(tmp_path) in message
    assert "scripts/setup" in message and "BETENET_QE_BIN_DIR" in message
    assert "\n" not in message
    assert not (tmp_path / "run" / "pw.in").exists()  # nothing written before the check

    monkeypatch.setenv("PATH", str(tmp_path))
    with override_settings(qe_bin_dir=None, mpi_command=""), pytest.raises(MissingBinaryError, match="ph.x not found on PATH"):
        run_program("ph", "irrelevant", tmp_path / "run")


def test_missing_mpi_launcher(tmp_path):
    _fake_binary(tmp_path / "bin", "pw.x", "exit 0\n")
    with override_settings(qe_bin_dir=tmp_path / "bin", mpi_command="no-such-mpirun -np 2"):
        with pytest.raises(MissingBinaryError, match="no-such-mpirun.*BETENET_MPI_COMMAND"):
            run_program("pw", "", tmp_path / "run")


def test_output_capture_environment_and_wall_time(tmp_path, monkeypatch):
    monkeypatch.delenv("OMPI_ALLOW_RUN_AS_ROOT", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    _fake_binary(
        tmp_path / "bin", "pw.x",
        'echo "args: $*"; echo "root: $OMPI_ALLOW_RUN_AS_ROOT $OMPI_ALLOW_RUN_AS_ROOT_CONFIRM threads: $OMP_NUM_THREADS"\n'
        'cat "$4"; echo "to stderr" >&2; sleep 0.2\n',
    )
    with override_settings(qe_bin_dir=tmp_path / "bin", mpi_command=""):
        result = run_program("pw", "&control /\n", tmp_path / "run", label="scf", npool=4)
    assert result.returncode == 0 and result.program == "pw"
    assert result.stdout_path == tmp_path / "run" / "scf.out"
    assert result.stdout_path.read_text() == "args: -nk 4 -in scf.in\nroot: 1 1 threads: 1\n&control /\n"
    assert result.stderr_path.read_text() == "to stderr\n"
    assert 0.2 <= result.wall_time_s < 5.0


def test_timeout_kills_the_whole_process_group(tmp_path):
    pids = tmp_path / "pids"
    _fake_binary(tmp_path / "bin", "ph.x", f"sleep 60 &\necho $$ $! > {pids}\nwait\n")
    start = time.perf_counter()
    with override_settings(qe_bin_dir=tmp_path / "bin", mpi_command=""):
        with pytest.raises(QETimeoutError, match=r"ph.x .* ran past its 1 s limit") as info:
            run_program("ph", "", tmp_path / "run", timeout_s=1)
    assert time.perf_counter() - start < 10
    assert info.value.stdout_path == tmp_path / "run" / "ph.out"
    for pid in map(int, pids.read_text().split()):  # the script and its background child are gone
        assert not _running(pid)


@pytest.mark.qe
def test_nonzero_exit_of_real_pw_carries_qe_error_text(tmp_path):
    require_qe("pw.x")
    bad_input = "&control\n  calculation = 'scf'\n/\n&system\n  ecutwfc = 'fifteen'\n/\n"
    with override_settings(mpi_command="", qe_bin_dir=None):
        with pytest.raises(QERunError) as info:
            run_program("pw", bad_input, tmp_path, timeout_s=60)
        assert info.value.returncode != 0
        assert "Error in routine" in str(info.value) and "pw.out" in str(info.value)
        result = run_program("pw", bad_input, tmp_path, timeout_s=60, check=False)
    assert result.returncode == info.value.returncode
    assert "bad line in namelist &system" in result.stdout_path.read_text()
