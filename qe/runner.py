"""Launch one QE program in a run folder: command prefix, pools, captured output, timeout.

The command is `<settings.mpi_command split by shlex> <binary> [-nk npool] -in <input>` (programs
flagged serial in the registry run without the MPI prefix; lambda.x reads its input from stdin).
stdout/stderr go to `<label>.out` / `<label>.err` in the run folder. The child gets
OMPI_ALLOW_RUN_AS_ROOT(+_CONFIRM)=1 so OpenMPI's mpirun works as root (containers, CI), and
OMP_NUM_THREADS=1 unless set (MPI ranks × threads must not oversubscribe the cores). On timeout the
whole process group (mpirun and every rank) is terminated, then killed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from betenet.qe.programs import Program, get_program
from betenet.settings import BetenetSettings, get_settings

_TAIL_LINES = 15
_TERMINATE_GRACE_S = 5.0


class RunnerError(RuntimeError):
    """Base class of the runner's errors."""


class MissingBinaryError(RunnerError):
    pass


class QETimeoutError(RunnerError):
    def __init__(self, message: str, *, stdout_path: Path, stderr_path: Path):
        super().__init__(message)
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path


class QERunError(RunnerError):
    def __init__(self, message: str, *, returncode: int, stdout_path: Path, stderr_path: Path):
        super().__init__(message)
        self.returncode = returncode
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path


@dataclass(frozen=True)
class RunResult:
    command: list[str]
    returncode: int
    wall_time_s: float  # the child's wall time, launch to exit
    stdout_path: Path
    stderr_path: Path
    input_path: Path
    program: str

    def parse(self):
        """The registered parser applied to this run's stdout file."""
        return get_program(self.program).load_parser()(self.stdout_path)


def resolve_binary(program: Program, settings: BetenetSettings | None = None) -> Path:
    """Absolute path of the program's binary: `settings.qe_bin_dir`, else PATH."""
    settings = settings or get_settings()
    hint = "run scripts/setup (installs Quantum ESPRESSO from Debian) or set BETENET_QE_BIN_DIR"
    if settings.qe_bin_dir is not None:
        path = Path(settings.qe_bin_dir).expanduser() / program.binary
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise MissingBinaryError(f"{program.binary} not found in BETENET_QE_BIN_DIR={settings.qe_bin_dir}: {hint}")
        return path
    found = shutil.which(program.binary)
    if found is None:
        raise MissingBinaryError(f"{program.binary} not found on PATH: {hint}")
    return Path(found)


def build_command(
    program: Program, input_filename: str, npool: int, settings: BetenetSettings | None = None
) -> list[str]:
    settings = settings or get_settings()
    prefix = shlex.split(settings.mpi_command) if program.mpi else []
    if prefix and shutil.which(prefix[0]) is None:
        raise MissingBinaryError(
            f"{prefix[0]} (from BETENET_MPI_COMMAND={settings.mpi_command!r}) not found on PATH: "
            "install OpenMPI (scripts/setup does) or clear the MPI command to run serially"
        )
    command = [*prefix, str(resolve_binary(program, settings))]
    if program.takes_pools and npool > 1:
        command += ["-nk", str(npool)]
    if not program.stdin_input:
        command += ["-in", input_filename]
    return command


def child_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")
    # Unbuffered Fortran stdout: a serial (singleton MPI) run that stops in errore otherwise loses
    # its "Error in routine ..." block, which is still in the buffer when MPI_Abort kills it.
    env.setdefault("GFORTRAN_UNBUFFERED_PRECONNECTED", "y")
    return env


def run_program(
    program_name: str,
    input_text: str,
    directory: str | Path,
    *,
    timeout_s: float | None = None,
    npool: int | None = None,
    label: str | None = None,
    check: bool = True,
) -> RunResult:
    """Write `input_text` to `<directory>/<label>.in`, run the program there and wait for it.

    timeout_s/npool default to `settings.run_timeout_s`/`settings.npool`. `label` names this run's
    files (default: the program's, e.g. pw.in/pw.out/pw.err), so several runs of one program can
    share a folder. A non-zero exit raises QERunError unless `check=False`.
    """
    settings = get_settings()
    program = get_program(program_name)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = label or Path(program.input_filename).stem
    input_path = directory / f"{stem}.in"
    stdout_path = directory / f"{stem}.out"
    stderr_path = directory / f"{stem}.err"
    npool = settings.npool if npool is None else int(npool)
    if npool < 1:
        raise ValueError(f"npool must be ≥ 1, got {npool}")
    timeout_s = settings.run_timeout_s if timeout_s is None else float(timeout_s)

    command = build_command(program, input_path.name, npool, settings)
    input_path.write_text(input_text)
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err, open(input_path, "rb") as stdin:
        start = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=directory,
            stdin=stdin if program.stdin_input else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=child_environment(),
            start_new_session=True,  # own process group: a timeout kills mpirun and all ranks
        )
        returncode, expired = _wait(process, timeout_s)
        wall_time_s = time.perf_counter() - start

    if expired:
        raise QETimeoutError(
            f"{program.binary} in {directory} ran past its {timeout_s:g} s limit and was killed; "
            f"partial output in {stdout_path}",
            stdout_path=stdout_path,
            stderr_path=stderr_path,
        )
    if check and returncode != 0:
        raise QERunError(
            f"{program.binary} exited with code {returncode} in {directory} (command: {shlex.join(command)}).\n"
            f"Last lines of {stdout_path.name}:\n{_tail(stdout_path)}\nLast lines of {stderr_path.name}:\n{_tail(stderr_path)}",
            returncode=returncode,
            stdout_path=stdout_path,
            stderr_path=stderr_path,
        )
    return RunResult(
        command=command,
        returncode=returncode,
        wall_time_s=wall_time_s,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        input_path=input_path,
        program=program.name,
    )


def _wait(process: subprocess.Popen, timeout_s: float) -> tuple[int, bool]:
    """Block until the child exits; past `timeout_s`, end its whole process group.

    A blocking wait plus a timer thread, because `Popen.wait(timeout=...)` polls with sleeps of up
    to 50 ms and so adds tens of ms to every run. Returns (returncode, timed out).
    """
    expired, exited = threading.Event(), threading.Event()

    def expire() -> None:
        expired.set()
        _signal_group(process.pid, signal.SIGTERM)
        if not exited.wait(_TERMINATE_GRACE_S):
            _signal_group(process.pid, signal.SIGKILL)

    timer = threading.Timer(timeout_s, expire)
    timer.daemon = True
    timer.start()
    try:
        returncode = process.wait()
    except BaseException:  # e.g. Ctrl-C: never leave MPI ranks running
        _signal_group(process.pid, signal.SIGKILL)
        raise
    finally:
        exited.set()
        timer.cancel()
    if expired.is_set():
        _signal_group(process.pid, signal.SIGKILL)  # ranks that outlived their launcher
    return returncode, expired.is_set()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _tail(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError as err:
        return f"  (unreadable: {err})"
    return "\n".join(f"  {line}" for line in lines[-_TAIL_LINES:]) or "  (empty)"
