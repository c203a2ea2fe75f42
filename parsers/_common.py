"""Text helpers shared by the QE output parsers: reading, program banner, error blocks, timings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from betenet.parsers.errors import ParseError

# A Fortran real as QE prints it: 1.5, -0.0000, 1.2E-05, 0.3D+01.
FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[EeDd][-+]?\d+)?"

# `Program PWSCF v.6.7MaX starts on ...`, `Program PHONON v.7.2 starts on ...`,
# `Program PHONON v.6.1 (svn rev. 13615) starts on ...`
_BANNER = re.compile(r"^\s*Program\s+(\S+)\s+v\.(\S+)(?:\s+\([^)]*\))?\s+starts", re.MULTILINE)
_ERROR_BLOCK = re.compile(
    r"^\s*%{20,}\s*\n\s*Error in routine\s+(\S+)\s*\(\s*(-?\d+)\s*\):\s*\n(.*?)^\s*%{20,}",
    re.MULTILINE | re.DOTALL,
)
_JOB_DONE = re.compile(r"^\s*JOB DONE\.", re.MULTILINE)
# `Parallel version (MPI), running on     2 processors`; QE 7: `(MPI & OpenMP), running on   8 processor cores`
_PROCESSOR_CORES = re.compile(r"^\s*Parallel version \([^)]*\), running on\s+(\d+)\s+processor", re.MULTILINE)
_SERIAL = re.compile(r"^\s*Serial version", re.MULTILINE)
_CLOCK_PART = re.compile(r"(\d+(?:\.\d*)?)\s*([dhms])")
_CLOCK_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def to_float(token: str) -> float:
    """A Fortran real, including the `D` exponent some QE builds print."""
    return float(token.replace("D", "E").replace("d", "e"))


def read_text(path: str | Path, what: str) -> str:
    """The file's text; `what` ("pw.x output", ...) goes into the error for a missing/empty file."""
    path = Path(path)
    if not path.is_file():
        raise ParseError(path, f"no such file (expected a {what})")
    data = path.read_bytes()
    if not data.strip():
        raise ParseError(path, f"file is empty (expected a {what})")
    if b"\x00" in data:
        raise ParseError(path, f"binary file, not a {what}")
    return data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class QEError:
    """One `%%%%` block: `Error in routine <routine> (<code>):` and its message lines."""

    routine: str
    code: int
    message: str

    def __str__(self) -> str:
        return f"Error in routine {self.routine} ({self.code}): {self.message}"


def program_version(text: str, path: Path, program: str, executable: str) -> str:
    """The QE version from the banner of `program` (PWSCF, PHONON, ...); foreign files raise."""
    banners = _BANNER.findall(text)
    if not banners:
        raise ParseError(
            path, f"no 'Program {program} v.X starts' banner: not a {executable} output"
        )
    name, version = banners[0]
    if name != program:
        raise ParseError(path, f"output of QE program {name}, expected {program} ({executable})")
    return version


def qe_errors(text: str) -> tuple[QEError, ...]:
    return tuple(
        QEError(routine, int(code), " ".join(line.strip() for line in body.splitlines() if line.strip()))
        for routine, code, body in _ERROR_BLOCK.findall(text)
    )


def processor_cores(text: str) -> int | None:
    """The cores QE reports it runs on (MPI processes × threads); 1 for a serial build; None without a banner."""
    found = _PROCESSOR_CORES.search(text)
    if found:
        return int(found.group(1))
    return 1 if _SERIAL.search(text) else None


def job_done(text: str) -> bool:
    return _JOB_DONE.search(text) is not None


def clock_to_seconds(clock: str) -> float:
    """QE's clock strings: `0.08s`, `2m40.10s`, `1h23m`, `1d 2h 3m` → seconds."""
    parts = _CLOCK_PART.findall(clock)
    if not parts:
        raise ValueError(f"unreadable QE clock {clock!r}")
    return sum(float(value) * _CLOCK_SECONDS[unit] for value, unit in parts)


def wall_clock_s(clock: str, path: Path) -> float:
    """`clock_to_seconds` for a clock read from the file at `path`: an unreadable one is a ParseError."""
    try:
        return clock_to_seconds(clock)
    except ValueError as err:
        raise ParseError(path, f"{err} in its timing line") from err


def wall_time_s(text: str, program: str, path: Path) -> float | None:
    """The last `<PROGRAM> : ... CPU ... WALL` line (the run's total), or None if never printed."""
    lines = re.findall(rf"^\s*{program}\s*:\s*(.*?)CPU\s+(.*?)WALL\s*$", text, re.MULTILINE)
    return wall_clock_s(lines[-1][1], path) if lines else None


def frozen(values, dtype=float) -> np.ndarray:
    """A read-only array, so results held in frozen dataclasses stay immutable."""
    array = np.array(values, dtype=dtype)
    array.setflags(write=False)
    return array
