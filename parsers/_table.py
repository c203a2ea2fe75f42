"""Numeric tables in QE's small data files: rows of Fortran reals after a header."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from betenet.parsers._common import FLOAT, read_text, to_float
from betenet.parsers.errors import ParseError

_NUMBER = re.compile(rf"^{FLOAT}$")


def numeric_rows(lines: list[str], path: Path, first_line: int, n_columns: int | None = None) -> np.ndarray:
    """Every non-blank line as a row of floats; a text row or a ragged row raises ParseError.

    `first_line` is the 1-based file line of lines[0], so errors point at the real line.
    """
    rows = []
    for offset, line in enumerate(lines):
        tokens = line.split()
        if not tokens:
            continue
        where = f"line {first_line + offset}"
        if not all(_NUMBER.match(token) for token in tokens):
            raise ParseError(path, f"{where} is not numeric: {line.strip()[:60]!r}")
        if n_columns is None:
            n_columns = len(tokens)
        if len(tokens) != n_columns:
            raise ParseError(path, f"{where} has {len(tokens)} columns, expected {n_columns}")
        rows.append([to_float(token) for token in tokens])
    if not rows:
        raise ParseError(path, "no data rows after the header")
    return np.array(rows)


def read_table_lines(path: Path, what: str) -> list[str]:
    """The lines of a data file QE writes in whole records: a last line without its line end is one the
    program (or the copy) was cut off in, whose last number may be a prefix of the real one."""
    text = read_text(path, what)
    if not text.endswith("\n"):
        raise ParseError(path, f"last line {text.splitlines()[-1].strip()[-40:]!r} has no line end: the file "
                               "was cut while being written (truncated)")
    return text.splitlines()


def expect_count(found: int, expected: int | None, path: Path, what: str, source: str) -> None:
    """`found` rows/values against the count the run's own input implies (`source` names it)."""
    if expected is not None and found != expected:
        raise ParseError(path, f"{found} {what}, expected {expected} from {source} (truncated, or rows lost)")


def uniform_axis(axis: np.ndarray, path: Path, what: str, printed_digits: int) -> float:
    """The step of an axis QE writes as first + i·step; a dropped or repeated row breaks it.

    `printed_digits`: significant digits of the printed values (the tolerance)."""
    if len(axis) < 2:
        raise ParseError(path, f"{what} has {len(axis)} row(s), expected a grid of at least 2")
    step = (axis[-1] - axis[0]) / (len(axis) - 1)
    tolerance = 10.0 ** (1 - printed_digits) * max(abs(axis[0]), abs(axis[-1]))
    if step <= 0 or np.abs(axis - (axis[0] + step * np.arange(len(axis)))).max() > tolerance + 0.01 * step:
        raise ParseError(path, f"{what} is not an evenly spaced increasing grid (a row lost or repeated)")
    return float(step)
