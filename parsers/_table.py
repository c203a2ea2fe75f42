"""Numeric tables in QE's small data files: rows of Fortran reals after a header."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from betenet.parsers._common import FLOAT, to_float
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
