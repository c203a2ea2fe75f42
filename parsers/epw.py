"""epw.x outputs → typed results: the α²F and phonon-DOS files, the phonon linewidths, epw.out, and
the built-in Wannier90's report (`<prefix>.wout`) and Hamiltonian (`<prefix>_hr.dat`, `_wsvec.dat`).

File formats (EPW 5.3.1 in QE 6.7; unchanged in EPW 5.4–5.7 for these files):
- `<prefix>.a2f.<ismear:02d>.<T>` — one per electronic smearing `ismear`: rows `ω[meV] α²F…` with one
  α²F column per phonon smearing, then a footer: `Integrated el-ph coupling` / `# λ…`,
  `Phonon smearing (meV)` / `# σ…`, `Electron smearing (eV) x`, `Fermi window (eV) x`,
  `Summed el-ph coupling x` (the q-sum of λ_qν, no phonon smearing).
- `<prefix>.phdos.<ismear:02d>.<T>` — rows `ω[meV] DOS…` (states/meV, one column per phonon smearing).
- `linewidth.phself.<T>K` — two `#` lines, then `iq  mode  ω[meV]  linewidth[meV]` for every fine q.
EPW drops modes with ω below `eps_acustic` from α²F and λ and clips negative λ_qν to zero without a
word, so the linewidth file is where negative (imaginary) interpolated frequencies show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from betenet.parsers._common import (
    FLOAT,
    QEError,
    frozen,
    program_version,
    qe_errors,
    read_text,
    to_float,
    wall_clock_s,
)
from betenet.parsers._table import expect_count, numeric_rows, read_table_lines, uniform_axis
from betenet.parsers.errors import ParseError

# ---------------------------------------------------------------------------------------------------
# α²F and phonon DOS files
# ---------------------------------------------------------------------------------------------------

_A2F_FOOTER = "Integrated el-ph coupling"
_FOOTER_VALUES = re.compile(rf"^\s*#\s*((?:{FLOAT}\s*)+)$")


@dataclass(frozen=True)
class EpwA2F:
    """α²F(ω) of one electronic smearing, one column per phonon smearing."""

    omega_meV: np.ndarray  # (n_omega,)
    a2f: np.ndarray  # (n_omega, n_phonon_smearings)
    phonon_smearings_meV: np.ndarray  # (n_phonon_smearings,)
    lambda_per_phonon_smearing: np.ndarray  # 2∫α²F/ω per column, as EPW integrates it
    electron_smearing_eV: float
    fermi_window_eV: float
    lambda_summed: float  # Σ_qν w_q λ_qν (no phonon smearing)


def _footer_numbers(lines: list[str], index: int, path: Path, title: str) -> np.ndarray:
    if index + 1 >= len(lines):
        raise ParseError(path, f"footer '{title}' has no value line (truncated file)")
    match = _FOOTER_VALUES.match(lines[index + 1])
    if not match:
        raise ParseError(path, f"line after '{title}' is not '# numbers': {lines[index + 1].strip()[:60]!r}")
    try:
        return np.array([to_float(token) for token in match.group(1).split()])
    except ValueError as err:  # numbers run together: '0.250.000'
        raise ParseError(path, f"line after '{title}' has an unreadable number: {err}") from err


def _labelled_value(lines: list[str], label: str, path: Path) -> float:
    pattern = re.compile(rf"^\s*{re.escape(label)}\s+({FLOAT})\s*$")
    for line in lines:
        match = pattern.match(line)
        if match:
            return to_float(match.group(1))
    raise ParseError(path, f"footer line '{label} <value>' missing (truncated or not an EPW a2f file)")


def _epw_axis(omega_meV: np.ndarray, n_points: int | None, path: Path) -> None:
    """EPW's frequency axis is ω_i = i·Δω, i = 1..nqstep: a lost first row shows in ω_1 ≠ Δω, a lost
    middle row in the spacing, a lost last row only in the count (`n_points` = the input's nqstep)."""
    expect_count(len(omega_meV), n_points, path, "frequency rows", "the epw input's nqstep")
    step = uniform_axis(omega_meV, path, "frequency column", printed_digits=7)
    if abs(omega_meV[0] - step) > 1e-6 * abs(omega_meV[-1]) + 0.01 * step:
        raise ParseError(path, f"first frequency {omega_meV[0]} meV is not the grid step {step:.7f} meV "
                               "(rows lost at the start)")


def parse_epw_a2f(path: str | Path, n_points: int | None = None) -> EpwA2F:
    """EPW's isotropic α²F file of one electronic smearing (`<prefix>.a2f.01.<T>`, ...).

    `n_points`: the epw input's `nqstep` (EPW writes that many rows); another count raises."""
    path = Path(path)
    lines = read_table_lines(path, "EPW a2f file")
    footer = next((i for i, line in enumerate(lines) if line.strip() == _A2F_FOOTER), None)
    if footer is None:
        raise ParseError(path, f"no '{_A2F_FOOTER}' footer: truncated, or not an EPW <prefix>.a2f.<n>.<T> file")
    table = numeric_rows(lines[:footer], path, first_line=1)
    if table.shape[1] < 2:
        raise ParseError(path, "α²F rows need ω and at least one α²F column")
    _epw_axis(table[:, 0], n_points, path)
    lambdas = _footer_numbers(lines, footer, path, _A2F_FOOTER)
    smear_index = next((i for i, line in enumerate(lines) if line.strip() == "Phonon smearing (meV)"), None)
    if smear_index is None:
        raise ParseError(path, "footer 'Phonon smearing (meV)' missing (truncated file)")
    smearings = _footer_numbers(lines, smear_index, path, "Phonon smearing (meV)")
    n_columns = table.shape[1] - 1
    if not len(lambdas) == len(smearings) == n_columns:
        raise ParseError(
            path, f"{n_columns} α²F columns but {len(lambdas)} λ and {len(smearings)} phonon smearings in the footer"
        )
    return EpwA2F(
        omega_meV=frozen(table[:, 0]),
        a2f=frozen(table[:, 1:]),
        phonon_smearings_meV=frozen(smearings),
        lambda_per_phonon_smearing=frozen(lambdas),
        electron_smearing_eV=_labelled_value(lines, "Electron smearing (eV)", path),
        fermi_window_eV=_labelled_value(lines, "Fermi window (eV)", path),
        lambda_summed=_labelled_value(lines, "Summed el-ph coupling", path),
    )


@dataclass(frozen=True)
class EpwPhononDos:
    """EPW's phonon DOS on its α²F frequency axis (from the fine q-points), one column per phonon
    smearing; states/meV per cell."""

    omega_meV: np.ndarray
    dos_states_per_meV: np.ndarray  # (n_omega, n_phonon_smearings)


def parse_epw_phdos(path: str | Path, n_points: int | None = None) -> EpwPhononDos:
    """`<prefix>.phdos.<ismear>.<T>`: rows of ω [meV] and the DOS per phonon smearing.

    `n_points`: the epw input's `nqstep` (EPW writes that many rows); another count raises."""
    path = Path(path)
    lines = read_table_lines(path, "EPW phdos file")
    first = lines[0].split()
    start = 0 if first and re.fullmatch(FLOAT, first[0]) else 1  # later EPWs print a title line first
    table = numeric_rows(lines[start:], path, first_line=start + 1)
    if table.shape[1] < 2:
        raise ParseError(path, "phonon DOS rows need ω and at least one DOS column")
    _epw_axis(table[:, 0], n_points, path)
    return EpwPhononDos(omega_meV=frozen(table[:, 0]), dos_states_per_meV=frozen(table[:, 1:]))


# ---------------------------------------------------------------------------------------------------
# Phonon linewidths (every fine q-point and mode)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpwLinewidths:
    """Interpolated phonon frequencies and el-ph linewidths at the fine q-points."""

    q_index: np.ndarray  # (n_rows,) 1-based fine q-point
    mode: np.ndarray  # (n_rows,) 1-based branch
    omega_meV: np.ndarray  # negative = imaginary (EPW keeps the sign of ω²)
    linewidth_meV: np.ndarray

    @property
    def lowest_frequency_meV(self) -> float:
        return float(self.omega_meV.min())

    @property
    def n_qpoints(self) -> int:
        return int(self.q_index.max())


def parse_epw_linewidths(path: str | Path, n_qpoints: int | None = None) -> EpwLinewidths:
    """`linewidth.phself.<T>K` (phonselfen=.true.): one row per fine q-point and mode, in that order.

    `n_qpoints`: the fine q-points of the run (epw.out's 'Size of q point mesh for interpolation');
    another count raises. Without it a table cut inside a q-point's modes is still caught."""
    path = Path(path)
    lines = read_table_lines(path, "EPW linewidth.phself file")
    if not lines[0].lstrip().startswith("#") or "Phonon freq" not in "".join(lines[:2]):
        raise ParseError(path, "no '# ... Phonon freq (meV) ...' header: not an EPW linewidth.phself file")
    table = numeric_rows(lines[2:], path, first_line=3, n_columns=4)
    n_modes = int(table[:, 1].max())
    if n_modes < 1:
        raise ParseError(path, f"mode column's largest value is {table[:, 1].max()}: modes count from 1")
    q_index, mode = np.divmod(np.arange(len(table)), n_modes)
    if len(table) % n_modes or np.any(table[:, 0] != q_index + 1) or np.any(table[:, 1] != mode + 1):
        raise ParseError(path, f"rows are not q-point 1, 2, … × mode 1..{n_modes} in order (rows lost or repeated)")
    expect_count(len(table) // n_modes, n_qpoints, path, "q-points", "the run's fine q-point mesh (epw.out)")
    return EpwLinewidths(
        q_index=frozen(table[:, 0], int),
        mode=frozen(table[:, 1], int),
        omega_meV=frozen(table[:, 2]),
        linewidth_meV=frozen(table[:, 3]),
    )


# ---------------------------------------------------------------------------------------------------
# epw.out
# ---------------------------------------------------------------------------------------------------

_WANNIER_BLOCK = re.compile(r"Wannier Function centers \(cartesian, alat\) and spreads \(ang\):\s*\n((?:\s*\(.*\)\s*:\s*\S+\s*\n)+)")
_WANNIER_LINE = re.compile(rf"\(\s*({FLOAT})\s+({FLOAT})\s+({FLOAT})\s*\)\s*:\s*({FLOAT})")
_EF_COARSE = re.compile(rf"Fermi energy coarse grid =\s*({FLOAT})\s*eV")
_EF_FINE = re.compile(rf"Fermi energy is calculated from the fine k-mesh: Ef =\s*({FLOAT})\s*eV")
_SMEARING_DOS = re.compile(
    rf"Gaussian Broadening:\s*({FLOAT})\s*eV, ngauss=\s*(-?\d+)\s*\n\s*DOS =\s*({FLOAT})\s*states/spin/eV/Unit Cell at Ef=\s*({FLOAT})\s*eV"
)
_LAMBDA = re.compile(rf"^\s*lambda :\s*({FLOAT})\s*$", re.MULTILINE)
_N_FINE_Q = re.compile(r"Size of q point mesh for interpolation:\s*(\d+)")
_N_FINE_K = re.compile(r"Size of k point mesh for interpolation:\s*(\d+)")
_FINISHED = re.compile(r"^\s*Total program execution\s*\n\s*EPW\s*:.*?CPU\s+(.*?)WALL", re.MULTILINE)


@dataclass(frozen=True)
class EpwSmearing:
    """One electronic smearing of the phonon self-energy: EPW's N(E_F) and E_F for it."""

    smearing_eV: float
    ngauss: int
    dos_states_per_spin_eV: float
    fermi_energy_eV: float


@dataclass(frozen=True)
class EpwOutput:
    """What an epw.x run reports in its standard output."""

    epw_version: str  # e.g. '5.3.1'
    finished: bool  # reached 'Total program execution'
    errors: tuple[QEError, ...]
    wall_time_s: float | None  # the run's total (after 'Total program execution'); None if unfinished
    wannier_centres_alat: np.ndarray | None  # (n_wann, 3), Cartesian, units of alat; None on restarts
    wannier_spreads_A2: np.ndarray | None  # (n_wann,), Å² (Wannier90's Ω_i; EPW labels them 'ang')
    fermi_energy_coarse_eV: float | None
    fermi_energy_fine_eV: float | None
    smearings: tuple[EpwSmearing, ...]
    lambda_per_smearing: np.ndarray  # 'lambda :' of every electronic smearing (Σ w_q λ_qν)
    n_fine_qpoints: int | None
    n_fine_kpoints: int | None  # k-points of the fine grid (EPW counts k and k+q, this is half)

    @property
    def ok(self) -> bool:
        return self.finished and not self.errors


def _first(pattern: re.Pattern, text: str, cast=to_float):
    match = pattern.search(text)
    return cast(match.group(1)) if match else None


def parse_epw_output(path: str | Path, n_smearings: int | None = None) -> EpwOutput:
    """epw.x standard output.

    A finished run prints one 'Gaussian Broadening' block and one 'lambda :' line per electronic
    smearing (`n_smearings`: the input's nsmear); another count in a finished run raises."""
    path = Path(path)
    text = read_text(path, "epw.x output")
    version = program_version(text, path, "EPW", "epw.x")
    centres = spreads = None
    block = _WANNIER_BLOCK.search(text)
    if block:
        rows = np.array([[to_float(x) for x in m] for m in _WANNIER_LINE.findall(block.group(1))])
        centres, spreads = frozen(rows[:, :3]), frozen(rows[:, 3])
    smearings = tuple(
        EpwSmearing(to_float(s), int(n), to_float(dos), to_float(ef)) for s, n, dos, ef in _SMEARING_DOS.findall(text)
    )
    n_k = _first(_N_FINE_K, text, int)
    finished = _FINISHED.search(text)
    lambdas = [to_float(x) for x in _LAMBDA.findall(text)]
    if finished:
        expect_count(len(smearings), n_smearings, path, "'Gaussian Broadening' blocks", "the epw input's nsmear")
        if _first(_N_FINE_Q, text, int) is None:
            raise ParseError(path, "finished run without its 'Size of q point mesh for interpolation' line")
        if len(lambdas) != len(smearings):
            raise ParseError(path, f"{len(smearings)} 'Gaussian Broadening' blocks but {len(lambdas)} 'lambda :' lines")
    return EpwOutput(
        epw_version=version,
        finished=finished is not None,
        errors=qe_errors(text),
        wall_time_s=wall_clock_s(finished.group(1), path) if finished else None,
        wannier_centres_alat=centres,
        wannier_spreads_A2=spreads,
        fermi_energy_coarse_eV=_first(_EF_COARSE, text),
        fermi_energy_fine_eV=_first(_EF_FINE, text),
        smearings=smearings,
        lambda_per_smearing=frozen(lambdas),
        n_fine_qpoints=_first(_N_FINE_Q, text, int),
        n_fine_kpoints=n_k // 2 if n_k is not None else None,
    )


# ---------------------------------------------------------------------------------------------------
# Wannier90 (built into EPW): report and Hamiltonian
# ---------------------------------------------------------------------------------------------------

_W90_FINAL = re.compile(r"^\s*Final State\s*$", re.MULTILINE)
_W90_WF = re.compile(rf"WF centre and spread\s+(\d+)\s+\(\s*({FLOAT}),\s*({FLOAT}),\s*({FLOAT})\s*\)\s+({FLOAT})")
_W90_OMEGA = {
    name: (f"Omega {label}", re.compile(rf"Omega {label}\s*=\s*({FLOAT})"))
    for name, label in (("omega_i_A2", "I"), ("omega_d_A2", "D"), ("omega_od_A2", "OD"), ("omega_total_A2", "Total"))
}


@dataclass(frozen=True)
class Wannier90Report:
    """The end of a Wannier90 run (`<prefix>.wout`)."""

    centres_A: np.ndarray  # (n_wann, 3) Cartesian, Å
    spreads_A2: np.ndarray  # (n_wann,)
    omega_i_A2: float
    omega_d_A2: float
    omega_od_A2: float
    omega_total_A2: float
    disentanglement_converged: bool | None  # None: no disentanglement (as many bands as WFs)


def parse_wannier90_wout(path: str | Path) -> Wannier90Report:
    path = Path(path)
    text = read_text(path, "Wannier90 .wout report")
    final = _W90_FINAL.search(text)
    if final is None:
        raise ParseError(path, "no 'Final State' section: Wannier90 did not finish (or not a .wout file)")
    tail = text[final.end():]
    rows = _W90_WF.findall(tail)
    if not rows:
        raise ParseError(path, "no 'WF centre and spread' lines after 'Final State'")
    omegas = {}
    for name, (label, pattern) in _W90_OMEGA.items():
        match = pattern.search(tail)
        if match is None:
            raise ParseError(path, f"no '{label} = …' spread summary after 'Final State'")
        omegas[name] = to_float(match.group(1))
    converged = None
    if "Disentanglement convergence criteria satisfied" in text:
        converged = True
    elif "Disentanglement convergence criteria not satisfied" in text:
        converged = False
    table = np.array([[to_float(x) for x in row[1:]] for row in rows])
    return Wannier90Report(
        centres_A=frozen(table[:, :3]), spreads_A2=frozen(table[:, 3]), disentanglement_converged=converged, **omegas
    )


@dataclass(frozen=True)
class WannierHamiltonian:
    """H_mn(R) in the Wannier basis (eV), R in lattice-vector units, with Wannier90's degeneracies
    and, when `_wsvec.dat` is given, the Wigner–Seitz shifts T_mn(R) of `use_ws_distance`."""

    lattice_vectors: np.ndarray  # (n_R, 3) int
    degeneracy: np.ndarray  # (n_R,) int
    hamiltonian_eV: np.ndarray  # (n_R, n_wann, n_wann) complex, [R, m, n]
    ws_shifts: dict[tuple[int, int, int, int, int], np.ndarray] | None  # (R1,R2,R3,m,n) → (N_T, 3)

    @property
    def n_wann(self) -> int:
        return self.hamiltonian_eV.shape[1]


def parse_wannier_hr(path: str | Path, wsvec_path: str | Path | None = None) -> WannierHamiltonian:
    """Wannier90's `<seedname>_hr.dat` (+ optional `<seedname>_wsvec.dat`)."""
    path = Path(path)
    lines = read_text(path, "Wannier90 _hr.dat file").splitlines()
    try:
        n_wann, n_r = int(lines[1]), int(lines[2])
    except (IndexError, ValueError) as err:
        raise ParseError(path, "lines 2-3 must hold num_wann and nrpts (not a Wannier90 _hr.dat file)") from err
    degeneracy: list[int] = []
    row = 3
    while len(degeneracy) < n_r and row < len(lines):
        degeneracy += [int(x) for x in lines[row].split()]
        row += 1
    if len(degeneracy) != n_r:
        raise ParseError(path, f"expected {n_r} degeneracies, found {len(degeneracy)}")
    table = numeric_rows(lines[row:], path, first_line=row + 1, n_columns=7)
    if len(table) != n_r * n_wann * n_wann:
        raise ParseError(path, f"{len(table)} matrix elements, expected nrpts·num_wann² = {n_r * n_wann * n_wann}")
    vectors = table[:, :3].astype(int).reshape(n_r, n_wann * n_wann, 3)[:, 0, :]
    hamiltonian = np.zeros((n_r, n_wann, n_wann), dtype=complex)
    r_index = np.repeat(np.arange(n_r), n_wann * n_wann)
    m, n = table[:, 3].astype(int) - 1, table[:, 4].astype(int) - 1
    hamiltonian[r_index, m, n] = table[:, 5] + 1j * table[:, 6]
    shifts = _parse_wsvec(Path(wsvec_path)) if wsvec_path is not None else None
    return WannierHamiltonian(
        lattice_vectors=frozen(vectors, int), degeneracy=frozen(degeneracy, int),
        hamiltonian_eV=frozen(hamiltonian, complex), ws_shifts=shifts,
    )


def _parse_wsvec(path: Path) -> dict[tuple[int, int, int, int, int], np.ndarray]:
    lines = read_text(path, "Wannier90 _wsvec.dat file").splitlines()
    shifts: dict[tuple[int, int, int, int, int], np.ndarray] = {}
    row = 1  # first line: a comment with the date
    try:
        while row < len(lines) and lines[row].strip():
            key = tuple(int(x) for x in lines[row].split())
            count = int(lines[row + 1])
            vectors = np.array([[int(x) for x in lines[row + 2 + j].split()] for j in range(count)], dtype=int)
            if len(key) != 5 or vectors.shape != (count, 3):
                raise ValueError(f"block at line {row + 1}")
            shifts[key] = vectors
            row += 2 + count
    except (IndexError, ValueError) as err:
        raise ParseError(path, f"malformed Wigner–Seitz block near line {row + 1}: {err}") from err
    if not shifts:
        raise ParseError(path, "no Wigner–Seitz shift blocks")
    return shifts
