"""ph.x standard output → `PhOutput`: frequencies per q-point, el-ph λ/γ per mode and smearing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from betenet.parsers._common import (
    FLOAT,
    QEError,
    frozen,
    job_done,
    processor_cores,
    program_version,
    qe_errors,
    read_text,
    to_float,
    wall_time_s,
)
from betenet.parsers.errors import ParseError
from betenet.physics import CM1_TO_MEV

_GRID = re.compile(
    r"Dynamical matrices for \(\s*(\d+),\s*(\d+),\s*(\d+)\)\s+uniform grid of q-points\s*\n"
    r"\s*\(\s*(\d+)\s*q-points\):\s*\n\s*N\s+xq\(1\)\s+xq\(2\)\s+xq\(3\)\s*\n"
)
_GRID_ROW = re.compile(rf"^\s*\d+\s+({FLOAT})\s+({FLOAT})\s+({FLOAT})\s*$")
_Q_START = re.compile(rf"^\s*Calculation of q\s*=\s*({FLOAT})\s+({FLOAT})\s+({FLOAT})", re.MULTILINE)
_Q_SINGLE = re.compile(
    rf"Computing dynamical matrix for\s*\n\s*q\s*=\s*\(\s*({FLOAT})\s+({FLOAT})\s+({FLOAT})\s*\)"
)
_NAT = re.compile(r"number of atoms/cell\s*=\s*(\d+)")
_ALAT = re.compile(rf"lattice parameter \(alat\)\s*=\s*({FLOAT})\s*a\.u\.")
_STAR = re.compile(r"Number of q in the star\s*=\s*(\d+)")
# `freq (    1) =   0.17 [THz] =   5.77 [cm-1]`; very old versions wrote `omega(` instead.
_FREQ = re.compile(
    rf"^\s*(?:freq|omega)\s*\(\s*(\d+)\s*\)\s*=\s*({FLOAT})\s*\[THz\]\s*=\s*({FLOAT})\s*\[cm-1\]",
    re.MULTILINE,
)
_IRREP = re.compile(r"^\s*Representation\s*#\s*(\d+)\s+modes?\s*#\s*([\d\s]+?)\s*$")
# The plan printed before the linear response: `Representation     2      2 modes -  Done`.
_IRREP_PLAN = re.compile(
    r"^\s*Representation\s+(\d+)\s+\d+\s+modes?\s*-.*?(To be done|Not done in this run|Done)\s*$", re.MULTILINE
)
_SMEARING = re.compile(
    rf"Gaussian Broadening:\s*({FLOAT})\s*Ry,\s*ngauss=\s*(-?\d+)\s*\n"
    rf"\s*DOS\s*=\s*({FLOAT})\s*states/spin/Ry/Unit Cell at Ef=\s*({FLOAT})\s*eV\s*\n"
    r"((?:\s*lambda\(\s*\d+\)\s*=.*\n?)+)"
)
_MODE_LAMBDA = re.compile(r"lambda\(\s*(\d+)\)\s*=\s*(\S+)\s+gamma=\s*(\S+)\s*GHz")


@dataclass(frozen=True, eq=False)  # holds arrays, whose == is element-wise: compare by identity
class ElphSmearing:
    """El-ph coupling of one q-point at one double-delta smearing (`Gaussian Broadening` block)."""

    sigma_ry: float
    ngauss: int
    dos_ef_states_per_spin_ry: float  # N(E_F) per spin per unit cell, as ph.x prints it
    fermi_energy_ev: float
    lambda_per_mode: np.ndarray  # (n_modes,)
    gamma_per_mode_GHz: np.ndarray  # (n_modes,) phonon linewidths


@dataclass(frozen=True)
class Irrep:
    """One irreducible representation's linear-response SCF."""

    index: int
    modes: tuple[int, ...]
    converged: bool


@dataclass(frozen=True, eq=False)  # holds arrays, whose == is element-wise: compare by identity
class PhQPoint:
    """One q-point computed in the run. Imaginary modes keep ph.x's negative sign."""

    index: int | None  # 1-based position in the run's q-point list; None if the run had no list
    q_cart_2pi_alat: np.ndarray  # (3,) Cartesian, units of 2π/alat
    star_size: int | None  # q-points in the star: the weight lambda.x needs
    frequencies_thz: np.ndarray  # (3·n_atoms,), empty if the linear response did not converge
    frequencies_cm1: np.ndarray
    irreps: tuple[Irrep, ...]  # linear responses solved in this run
    irreps_done_before: tuple[int, ...]  # read back by a recover run
    irreps_not_done: tuple[int, ...]  # left out by start_irr/last_irr: no frequencies then
    irreps_to_do: tuple[int, ...]  # planned for this run; one left unsolved means the run stopped mid-q
    elph: tuple[ElphSmearing, ...]  # one per smearing, empty without electron_phonon

    @property
    def frequencies_meV(self) -> np.ndarray:
        return self.frequencies_cm1 * CM1_TO_MEV

    @property
    def converged(self) -> bool:
        """Every linear response solved here converged (and there was at least one, or a recovered one)."""
        solved = bool(self.irreps) or bool(self.irreps_done_before)
        return solved and all(irrep.converged for irrep in self.irreps)

    @property
    def complete(self) -> bool:
        """All irreps of this q-point are done, so its dynamical matrix was diagonalised.

        False for a start_irr/last_irr part and for a q-point cut short by max_seconds, where some
        irreps converged and the rest were never started.
        """
        solved = {irrep.index for irrep in self.irreps if irrep.converged}
        return not self.irreps_not_done and set(self.irreps_to_do) <= solved

    @property
    def sigmas_ry(self) -> np.ndarray:
        return np.array([block.sigma_ry for block in self.elph])

    @property
    def lambda_per_mode(self) -> np.ndarray:
        """(n_smearings, n_modes)."""
        return np.array([block.lambda_per_mode for block in self.elph])

    @property
    def gamma_per_mode_GHz(self) -> np.ndarray:
        """(n_smearings, n_modes)."""
        return np.array([block.gamma_per_mode_GHz for block in self.elph])


@dataclass(frozen=True, eq=False)  # holds arrays, whose == is element-wise: compare by identity
class PhOutput:
    """What a ph.x run reports; `q_points` holds only the q-points this run computed."""

    qe_version: str
    job_done: bool
    converged: bool  # every linear-response SCF of every computed q-point converged
    errors: tuple[QEError, ...]
    wall_time_s: float | None
    processor_cores: int | None  # MPI processes × threads from the banner (core-hours = wall × cores)
    n_atoms: int | None
    q_grid: tuple[int, int, int] | None  # ldisp grid (nq1, nq2, nq3)
    alat_bohr: float | None  # the unit of the q-points' 2π/alat
    grid_q_points_cart_2pi_alat: np.ndarray  # (n_irreducible, 3) the run's full list; (0, 3) if none
    q_points: tuple[PhQPoint, ...]

    @property
    def ok(self) -> bool:
        return self.job_done and self.converged and not self.errors

    @property
    def complete(self) -> bool:
        """Every q-point of the grid was finished here (False for start_q/last_q or start_irr/last_irr parts)."""
        listed = len(self.grid_q_points_cart_2pi_alat)
        all_q = listed == 0 or sorted(q.index for q in self.q_points if q.index) == list(range(1, listed + 1))
        return all_q and all(q.complete for q in self.q_points)

    @property
    def has_elph(self) -> bool:
        return any(q.elph for q in self.q_points)

    @property
    def lowest_frequency_cm1(self) -> float | None:
        values = [q.frequencies_cm1.min() for q in self.q_points if q.frequencies_cm1.size]
        return float(min(values)) if values else None


def _grid(text: str, path: Path) -> tuple[tuple[int, int, int] | None, np.ndarray]:
    found = _GRID.search(text)
    if not found:
        if re.search(r"uniform grid of q-points|^\s*\(\s*\d+\s*q-points\):|^\s*N\s+xq\(1\)", text, re.MULTILINE):
            raise ParseError(path, "the 'Dynamical matrices for (n1, n2, n3) uniform grid of q-points' header "
                                   "is incomplete (a line of it missing)")
        return None, np.zeros((0, 3))
    rows = []
    for line in text[found.end() :].splitlines():
        row = _GRID_ROW.match(line)
        if not row:
            break
        rows.append([to_float(value) for value in row.groups()])
    if len(rows) != int(found.group(4)):
        raise ParseError(path, f"the q-point list announces {found.group(4)} q-points and lists {len(rows)}")
    grid = tuple(int(found.group(i)) for i in (1, 2, 3))
    return grid, np.array(rows).reshape(-1, 3)


def _irreps(section: str) -> tuple[Irrep, ...]:
    irreps, current = [], None
    for line in section.splitlines():
        header = _IRREP.match(line)
        if header:
            current = (int(header.group(1)), tuple(int(m) for m in header.group(2).split()))
        elif current and "No convergence has been achieved" in line:
            irreps.append(Irrep(*current, converged=False))
            current = None
        elif current and "Convergence has been achieved" in line:
            irreps.append(Irrep(*current, converged=True))
            current = None
    return tuple(irreps)


def _elph(section: str, path: Path, n_modes: int | None) -> tuple[ElphSmearing, ...]:
    blocks = []
    for sigma, ngauss, dos, fermi, rows in _SMEARING.findall(section):
        modes = _MODE_LAMBDA.findall(rows)
        try:
            lambdas = [to_float(lam) for _, lam, _ in modes]
            gammas = [to_float(gamma) for _, _, gamma in modes]
        except ValueError as err:
            raise ParseError(path, f"unreadable λ/γ value at smearing {sigma} Ry: {err}") from err
        if n_modes is not None and len(modes) != n_modes:
            raise ParseError(
                path, f"smearing {sigma} Ry lists λ for {len(modes)} modes, expected {n_modes}"
            )
        blocks.append(
            ElphSmearing(
                sigma_ry=to_float(sigma),
                ngauss=int(ngauss),
                dos_ef_states_per_spin_ry=to_float(dos),
                fermi_energy_ev=to_float(fermi),
                lambda_per_mode=frozen(lambdas),
                gamma_per_mode_GHz=frozen(gammas),
            )
        )
    announced = section.count("Gaussian Broadening:")
    if len(blocks) != announced:
        raise ParseError(path, f"{announced} 'Gaussian Broadening:' lines but {len(blocks)} complete el-ph blocks "
                               "(broadening, DOS and λ lines)")
    return tuple(blocks)


def _sections(text: str) -> list[tuple[np.ndarray, str]]:
    """(q, text of that q's calculation) for every `Calculation of q` in the run."""
    starts = list(_Q_START.finditer(text))
    if not starts:
        single = _Q_SINGLE.search(text)
        if not single:
            return []
        return [(np.array([to_float(v) for v in single.groups()]), text[single.start() :])]
    bounds = [m.start() for m in starts] + [len(text)]
    return [
        (np.array([to_float(v) for v in m.groups()]), text[bounds[i] : bounds[i + 1]])
        for i, m in enumerate(starts)
    ]


def _index(q: np.ndarray, grid: np.ndarray) -> int | None:
    if not len(grid):
        return None
    matches = np.nonzero(np.all(np.abs(grid - q) < 1e-5, axis=1))[0]
    return int(matches[0]) + 1 if matches.size else None


def parse_ph_output(path: str | Path, truncated_ok: bool = False) -> PhOutput:
    """Parse ph.x stdout (QE 6.x and 7.x layouts), including start_q/last_q and start_irr/last_irr parts.

    Raises ParseError for a missing/empty/foreign file, a run cut off without `JOB DONE.` or a QE
    error message, and a converged q-point whose frequencies are missing or of the wrong count.
    `truncated_ok`: read a run that was killed (no JOB DONE, no error message) up to the q-point it
    was computing: ph.x starts a q-point's 'Calculation of q' only after the previous one's
    dynamical matrix and el-ph files are written, so every earlier q-point is final. The result has
    `job_done` False.
    """
    path = Path(path)
    text = read_text(path, "ph.x output")
    version = program_version(text, path, "PHONON", "ph.x")
    errors = qe_errors(text)
    done = job_done(text)
    if not done and not errors and truncated_ok:
        starts = list(_Q_START.finditer(text))
        text = text[: starts[-1].start()] if starts else text
    elif not done and not errors:
        raise ParseError(
            path,
            "truncated ph.x output: no 'JOB DONE.' line and no QE error message "
            "(killed or still running? a recover run can continue it)",
        )
    nat = _NAT.search(text)
    n_atoms = int(nat.group(1)) if nat else None
    n_modes = 3 * n_atoms if n_atoms else None
    q_grid, grid_points = _grid(text, path)
    q_points = []
    sections = _sections(text)
    if len(_FREQ.findall(text)) != sum(len(_FREQ.findall(section)) for _, section in sections):
        raise ParseError(path, "frequencies printed outside any 'Calculation of q' section (its title line missing)")
    if len(sections) > 1 and q_grid is None:  # several q-points: an ldisp run, which prints its q-point list first
        raise ParseError(path, f"{len(sections)} 'Calculation of q' sections but no 'Dynamical matrices for "
                               "(n1, n2, n3) uniform grid of q-points' list")
    titles = [tuple(np.round(q, 6)) for q, _ in sections]
    if len(set(titles)) != len(titles):
        raise ParseError(path, "a 'Calculation of q' title appears twice: ph.x computes each q-point once per run")
    for q, section in sections:
        freqs = _FREQ.findall(section)
        plan = _IRREP_PLAN.findall(section)
        star = _STAR.search(section)
        point = PhQPoint(
            index=_index(q, grid_points),
            q_cart_2pi_alat=frozen(q),
            star_size=int(star.group(1)) if star else None,
            frequencies_thz=frozen([to_float(thz) for _, thz, _ in freqs]),
            frequencies_cm1=frozen([to_float(cm1) for _, _, cm1 in freqs]),
            irreps=_irreps(section),
            irreps_done_before=tuple(int(i) for i, status in plan if status == "Done"),
            irreps_not_done=tuple(int(i) for i, status in plan if status == "Not done in this run"),
            irreps_to_do=tuple(int(i) for i, status in plan if status == "To be done"),
            elph=_elph(section, path, n_modes),
        )
        where = f"q = {np.array2string(q, precision=7)}"
        if point.converged and point.complete and not errors and not freqs:
            raise ParseError(path, f"{where} converged but no 'freq (' lines follow (frequencies missing)")
        if freqs and n_modes is not None and len(freqs) != n_modes:
            raise ParseError(path, f"{where} lists {len(freqs)} frequencies, expected 3·{n_atoms}")
        q_points.append(point)
    if len({len(q.elph) for q in q_points if q.elph}) > 1:
        raise ParseError(path, "q-points report different numbers of el-ph smearings "
                               f"({[len(q.elph) for q in q_points]}): ph.x prints el_ph_nsigma blocks for each")
    if done and not errors and not q_points:
        raise ParseError(path, "no 'Calculation of q' section: ph.x computed no q-point")
    converged = bool(q_points) and all(q.converged for q in q_points) and not errors
    converged = converged and "No convergence has been achieved" not in text
    return PhOutput(
        qe_version=version,
        job_done=done,
        converged=converged,
        errors=errors,
        wall_time_s=wall_time_s(text, "PHONON", path),
        processor_cores=processor_cores(text),
        n_atoms=n_atoms,
        q_grid=q_grid,
        alat_bohr=to_float(alat.group(1)) if (alat := _ALAT.search(text)) else None,
        grid_q_points_cart_2pi_alat=frozen(grid_points),
        q_points=tuple(q_points),
    )
