"""QE's `a2F.dosN` files (matdyn.x with la2F=.true., dos=.true.) → `A2FSpectrum` in meV."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from betenet.parsers._common import FLOAT, frozen, to_float
from betenet.parsers._table import expect_count, numeric_rows, read_table_lines
from betenet.parsers.errors import ParseError
from betenet.physics import RY_TO_MEV

_TITLE = re.compile(r"Eliashberg function a2F", re.IGNORECASE)
_FOOTER = re.compile(rf"^\s*lambda\s*=\s*({FLOAT})\s+Delta\s*=\s*({FLOAT})\s*$")
_INDEX = re.compile(r"a2F\.dos(\d+)$")
_SMEARING_IN_HEADER = re.compile(rf"(?:broadening|smearing|degauss)\D*?({FLOAT})\s*Ry", re.IGNORECASE)


@dataclass(frozen=True, eq=False)  # holds arrays, whose == is element-wise: compare by identity
class A2FSpectrum:
    """α²F(ω) of one el-ph smearing on matdyn's uniform grid.

    QE writes ω in Ry with six significant digits; the axis here is rebuilt from the first point and
    the file's full-precision `Delta` so it is exactly uniform (physics.lambda_from_a2f needs that).
    """

    omega_meV: np.ndarray  # (n_omega,)
    a2f: np.ndarray  # (n_omega,) total α²F (both spins), dimensionless
    a2f_per_mode: np.ndarray  # (n_modes, n_omega) contribution of each phonon branch
    sigma_index: int  # N of a2F.dosN: the N-th el-ph smearing
    sigma_ry: float | None  # from the header if it states one, else sigma_index × el_ph_sigma_ry
    lambda_qe: float  # the `lambda =` QE printed under the table
    delta_omega_meV: float

    @property
    def n_modes(self) -> int:
        return self.a2f_per_mode.shape[0]


def parse_a2f_dos(path: str | Path, el_ph_sigma_ry: float | None = None, n_points: int | None = None) -> A2FSpectrum:
    """Read one `a2F.dosN` file: ω (Ry), total α²F, one column per mode, then `lambda = ... Delta = ...`.

    `el_ph_sigma_ry`: the ph.x el_ph_sigma, to turn the file index N into the smearing N·el_ph_sigma
    (QE's a2F.dosN headers do not state the smearing). `n_points`: the matdyn input's `ndos` (matdyn
    writes that many rows). Raises ParseError for a foreign file, a text or ragged row, a missing
    footer (truncated file) or another row count.
    """
    path = Path(path)
    lines = read_table_lines(path, "QE a2F.dos file")
    header = [i for i, line in enumerate(lines) if line.lstrip().startswith("#")]
    if not any(_TITLE.search(lines[i]) for i in header):
        raise ParseError(path, "no '# Eliashberg function a2F' header: not a QE a2F.dos file")
    footer = next((i for i, line in enumerate(lines) if _FOOTER.match(line)), None)
    if footer is None:
        raise ParseError(path, "no closing 'lambda = ... Delta = ...' line: truncated a2F.dos file")
    start = header[-1] + 1
    table = numeric_rows(lines[start:footer], path, first_line=start + 1)
    if table.shape[1] < 3:
        raise ParseError(path, f"{table.shape[1]} columns; expected ω, total α²F and ≥1 mode column")
    expect_count(table.shape[0], n_points, path, "α²F rows", "the matdyn input's ndos")
    lambda_qe, delta_ry = (to_float(v) for v in _FOOTER.match(lines[footer]).groups())
    omega_ry = table[0, 0] + delta_ry * np.arange(len(table))
    # Six printed digits: the rebuilt axis must match the printed one to that precision.
    if not np.allclose(omega_ry, table[:, 0], rtol=5e-5, atol=1e-10):
        raise ParseError(path, f"frequency column is not the uniform grid of step Delta = {delta_ry} Ry")
    modes = table[:, 2:].T
    if not np.allclose(modes.sum(axis=0), table[:, 1], rtol=1e-3, atol=1e-5 * np.abs(table[:, 1]).max()):
        raise ParseError(path, "per-mode columns do not add up to the total α²F column")
    index = _INDEX.search(path.name)
    if index is None:
        raise ParseError(path, "file name does not end in 'a2F.dosN': cannot tell which smearing it is")
    sigma_index = int(index.group(1))
    in_header = next(
        (_SMEARING_IN_HEADER.search(lines[i]) for i in header if _SMEARING_IN_HEADER.search(lines[i])),
        None,
    )
    if in_header:
        sigma_ry = to_float(in_header.group(1))
    else:
        sigma_ry = sigma_index * el_ph_sigma_ry if el_ph_sigma_ry is not None else None
    return A2FSpectrum(
        omega_meV=frozen(omega_ry * RY_TO_MEV),
        a2f=frozen(table[:, 1]),
        a2f_per_mode=frozen(modes),
        sigma_index=sigma_index,
        sigma_ry=sigma_ry,
        lambda_qe=lambda_qe,
        delta_omega_meV=delta_ry * RY_TO_MEV,
    )
