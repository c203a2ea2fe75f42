"""matdyn.x files → phonon DOS (total + per atom), frequencies along q-points, the `lambda` file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from betenet.parsers._common import FLOAT, frozen, read_text, to_float
from betenet.parsers._table import numeric_rows
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


def parse_matdyn_dos(path: str | Path, site_labels: Sequence[str] | None = None) -> PhononDos:
    """Read matdyn's DOS file (`# Frequency[cm^-1] DOS PDOS`, then ω, total, one column per atom).

    `site_labels`: one label per atom in the input order, e.g. ["Al0", "O1"], or a species list
    (["Al", "O"]) from which "Al0", "O1" are made; default "site0", "site1", ...
    """
    path = Path(path)
    lines = read_text(path, "matdyn.x phonon DOS file").splitlines()
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
    if table.shape[0] < 2 or np.any(np.diff(table[:, 0]) <= 0):
        raise ParseError(path, "frequency column is not strictly increasing over ≥2 rows")
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
    text = read_text(path, "matdyn.x frequency file")
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


def parse_matdyn_lambda(path: str | Path) -> list[MatdynLambda]:
    """Read matdyn's `lambda` file: `Broadening σ lambda λ dos(Ef) N [omega_ln [K] ω]` per smearing."""
    path = Path(path)
    lines = read_text(path, "matdyn.x lambda file").splitlines()
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
    return rows
