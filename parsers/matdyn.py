"""matdyn.x files → phonon DOS (total + per atom), frequencies along q-points, the `lambda` file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from betenet.parsers._common import FLOAT, frozen, to_float
from betenet.parsers._table import expect_count, numeric_rows, read_table_lines, uniform_axis
from betenet.parsers.errors import ParseError
from betenet.physics import CM1_TO_MEV, mcmillan_tc

_DOS_HEADER = re.compile(r"^\s*#\s*Frequency\[cm\^-1\]\s+DOS\s+PDOS", re.IGNORECASE)
_SPECIES = re.compile(r"^[A-Z][a-z]?$")
_PLOT_HEADER = re.compile(r"&plot\s+nbnd=\s*(\d+)\s*,\s*nks=\s*(\d+)\s*/")
# f10.4 columns can run together ("-1234.5678-1234.5678"), so split on the numbers themselves.
_FIXED_FLOAT = re.compile(r"[-+]?\d*\.\d+(?:[EeDd][-+]?\d+)?")
_LAMBDA_ROW = re.compile(
    rf"^\s*Broadening\s+({FLOAT})\s+lambda\s+({FLOAT})\s+dos\(Ef\)\s+({FLOAT})"
    rf"(?:\s+omega_ln\s*\[K\]\s+({FLOAT}))?\s*$"
)


# ---------------------------------------------------------------------------------------------------
# Phonon DOS (fldos, dos=.true.)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # holds arrays, whose == is element-wise: compare by identity
class PhononDos:
    """Total and per-atom phonon DOS, in states/meV so that ∫ total dω_meV = 3·n_atoms.

    matdyn writes states/cm⁻¹ against cm⁻¹; both axes are converted with CM1_TO_MEV.
    """

    omega_meV: np.ndarray  # (n_omega,)
    total: np.ndarray  # (n_omega,) states/meV
    projected: np.ndarray  # (n_atoms, n_omega) states/meV, one row per site in input order
    site_labels: tuple[str, ...]  # "Al0", "Al1", ... (or "site0", ... without species)
    species: tuple[str, ...] | None  # element per site when known

    @property
    def n_atoms(self) -> int:
        return self.projected.shape[0]

    @property
    def omega_cm1(self) -> np.ndarray:
        return self.omega_meV / CM1_TO_MEV


def _labels(site_labels: Sequence[str] | None, n_atoms: int, path: Path):
    if site_labels is None:
        return tuple(f"site{i}" for i in range(n_atoms)), None
    labels = [str(label) for label in site_labels]
    if len(labels) != n_atoms:
        raise ParseError(
            path, f"has {n_atoms} per-atom PDOS columns but {len(labels)} site labels were given"
        )
    if all(_SPECIES.match(label) for label in labels):  # a species list: label by site index
        return tuple(f"{element}{i}" for i, element in enumerate(labels)), tuple(labels)
    species = tuple(re.sub(r"\d+$", "", label) for label in labels)
    return tuple(labels), species if all(_SPECIES.match(s) for s in species) else None


def parse_matdyn_dos(
    path: str | Path, site_labels: Sequence[str] | None = None, n_points: int | None = None
) -> PhononDos:
    """Read matdyn's DOS file (`# Frequency[cm^-1] DOS PDOS`, then ω, total, one column per atom).

    `site_labels`: one label per atom in the input order, e.g. ["Al0", "O1"], or a species list
    (["Al", "O"]) from which "Al0", "O1" are made; default "site0", "site1", ...
    `n_points`: the `ndos` of the matdyn input (matdyn writes exactly that many rows); a table with
    another count raises. Without it a cut table is still caught where its top row has DOS > 0.
    """
    path = Path(path)
    lines = read_table_lines(path, "matdyn.x phonon DOS file")
    first = next(i for i, line in enumerate(lines) if line.strip())
    if not _DOS_HEADER.match(lines[first]):
        raise ParseError(
            path,
            f"first line {lines[first].strip()[:60]!r} is not matdyn's '# Frequency[cm^-1] DOS PDOS' "
            "header: not a matdyn.x phonon DOS file",
        )
    table = numeric_rows(lines[first + 1 :], path, first_line=first + 2)
    if table.shape[1] < 3:
        raise ParseError(
            path, f"{table.shape[1]} columns; expected frequency, total DOS and ≥1 per-atom column"
        )
    expect_count(table.shape[0], n_points, path, "DOS rows", "the matdyn input's ndos")
    uniform_axis(table[:, 0], path, "frequency column", printed_digits=10)
    # matdyn's DOS is a tetrahedron DOS from the lowest to the highest frequency, and a tetrahedron DOS
    # vanishes at the top of its band: a last row with states left is not the last row matdyn wrote.
    if abs(table[-1, 1]) > 1e-9 * np.abs(table[:, 1]).max():
        raise ParseError(path, f"last row (ω = {table[-1, 0]:.4f} cm⁻¹) has DOS {table[-1, 1]:.3e} ≠ 0: the "
                               "spectrum does not reach the top frequency (truncated)")
    labels, species = _labels(site_labels, table.shape[1] - 2, path)
    return PhononDos(
        omega_meV=frozen(table[:, 0] * CM1_TO_MEV),
        total=frozen(table[:, 1] / CM1_TO_MEV),
        projected=frozen(table[:, 2:].T / CM1_TO_MEV),
        site_labels=labels,
        species=species,
    )


# ---------------------------------------------------------------------------------------------------
# Frequencies (flfrq, the `&plot nbnd=..., nks=... /` file)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # holds arrays, whose == is element-wise: compare by identity
class PhononFrequencies:
    """Phonon frequencies at matdyn's q-points; imaginary modes are negative, as matdyn writes them."""

    q_points_cart_2pi_alat: np.ndarray  # (n_q, 3)
    frequencies_cm1: np.ndarray  # (n_q, n_branches)

    @property
    def frequencies_meV(self) -> np.ndarray:
        return self.frequencies_cm1 * CM1_TO_MEV


def parse_matdyn_freq(path: str | Path) -> PhononFrequencies:
    """Read matdyn's `flfrq` file: `&plot nbnd= N, nks= M /`, then per q a coordinate line and N values."""
    path = Path(path)
    text = "\n".join(read_table_lines(path, "matdyn.x frequency file"))
    header = _PLOT_HEADER.search(text)
    if not header:
        raise ParseError(path, "no '&plot nbnd=..., nks=... /' header: not a matdyn.x frequency file")
    n_bands, n_q = int(header.group(1)), int(header.group(2))
    values = [to_float(v) for v in _FIXED_FLOAT.findall(text[header.end() :])]
    expected = n_q * (3 + n_bands)
    if len(values) != expected:
        raise ParseError(
            path,
            f"{len(values)} numbers after the header, expected {n_q} q-points × (3 + {n_bands}) = "
            f"{expected} (truncated or wrong header)",
        )
    table = np.array(values).reshape(n_q, 3 + n_bands)
    return PhononFrequencies(
        q_points_cart_2pi_alat=frozen(table[:, :3]), frequencies_cm1=frozen(table[:, 3:])
    )


# ---------------------------------------------------------------------------------------------------
# The `lambda` file (la2F=.true., dos=.true.)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatdynLambda:
    """One row of matdyn's `lambda` file: λ and ω_log at one el-ph smearing.

    matdyn prints no Tc; `mcmillan_tc_K` gives the Allen–Dynes-modified McMillan value lambda.x
    would print for these λ and ω_log.
    """

    sigma_ry: float  # the `Broadening` column
    lambda_: float
    dos_ef_states_per_spin_ry: float
    omega_log_K: float | None  # absent in QE < 6.2 layouts

    def mcmillan_tc_K(self, mu_star: float = 0.10) -> float:
        if self.omega_log_K is None:
            raise ValueError("this lambda file has no omega_ln column (QE < 6.2); no Tc without ω_log")
        return float(mcmillan_tc(self.lambda_, self.omega_log_K, mu_star))


def parse_matdyn_lambda(path: str | Path, n_smearings: int | None = None) -> list[MatdynLambda]:
    """Read matdyn's `lambda` file: `Broadening σ lambda λ dos(Ef) N [omega_ln [K] ω]` per smearing.

    `n_smearings`: how many el-ph smearings the run interpolated (ph.x's el_ph_nsigma, at most 10 in QE
    6.7): matdyn writes one row each, so another count raises."""
    path = Path(path)
    lines = read_table_lines(path, "matdyn.x lambda file")
    if not any("Electron-phonon coupling constant" in line for line in lines[:5]):
        raise ParseError(
            path, "no 'Electron-phonon coupling constant, lambda' title: not matdyn's lambda file"
        )
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or "Electron-phonon coupling constant" in line:
            continue
        row = _LAMBDA_ROW.match(line)
        if not row:
            raise ParseError(path, f"line {number} is not a 'Broadening ... lambda ...' row: {line.strip()[:60]!r}")
        sigma, lam, dos, omega_log = row.groups()
        rows.append(
            MatdynLambda(
                sigma_ry=to_float(sigma),
                lambda_=to_float(lam),
                dos_ef_states_per_spin_ry=to_float(dos),
                omega_log_K=to_float(omega_log) if omega_log is not None else None,
            )
        )
    if not rows:
        raise ParseError(path, "no 'Broadening ... lambda ...' rows (truncated?)")
    expect_count(len(rows), n_smearings, path, "'Broadening' rows", "the run's number of el-ph smearings")
    if len({row.omega_log_K is None for row in rows}) > 1:
        raise ParseError(path, "some rows have an omega_ln column and some not (a row cut short)")
    if any(b.sigma_ry <= a.sigma_ry for a, b in zip(rows, rows[1:])):
        raise ParseError(path, "broadenings are not increasing (a row repeated or out of place)")
    return rows
