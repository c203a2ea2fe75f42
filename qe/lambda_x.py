"""lambda.x input writer: λ, ω_log and McMillan Tc from ph.x's per-q el-ph files.

lambda.x (PHonon/PH/lambda.f90) reads list-directed from standard input:
    emax[THz]  degauss[THz]  ngauss      α²F axis 0..emax; Gaussian (ngauss=0) or M-P smearing over q
    nks                                  number of irreducible q-points (≤ 200)
    qx qy qz wk     × nks                q (Cartesian, 2π/alat) and weight; weights are normalised
    elph file       × nks                ph.x's elph_dir/elph.inp_lambda.<iq>, same order (≤ 80 chars)
    mu_star                              μ* of the Allen–Dynes-modified McMillan formula
lambda.x does not check q against the files; the weights (star sizes) carry the physics. It accepts
at most 50 smearings per file and 100 modes.

`lambda_input_from_ph(ph_output, structure, ...)` builds the input from a finished ph.x run: the
irreducible q-points from its parsed stdout, their star sizes from the crystal's point group (+ time
reversal, which ph.x's "Number of q in the star" leaves out for crystals without inversion), the
elph files in ph.x's order.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from betenet.physics import DEFAULT_MU_STAR
from betenet.qe.namelist import fixed
from betenet.qe.structure import as_cell

MAX_QPOINTS = 200  # lambda.f90's fixed array sizes (QE 6.7): npk, nmodex, nsigx
MAX_MODES = 100
MAX_SMEARINGS = 50
MAX_FILENAME_CHARS = 80
ELPH_FILE = "elph_dir/elph.inp_lambda.{index}"


def write_lambda_input(
    qpoints: Sequence[Sequence[float]] | np.ndarray,
    weights: Sequence[float],
    elph_files: Sequence[str | Path],
    *,
    emax_THz: float,
    degauss_THz: float = 0.12,
    ngauss: int = 0,
    mu_star: float = DEFAULT_MU_STAR,
) -> str:
    """The text of a lambda.x input (see the module docstring for the format).

    qpoints: (N, 3) Cartesian in 2π/alat, as ph.x prints them; weights: N star sizes (any
    normalisation); elph_files: N paths relative to where lambda.x runs. emax_THz must exceed the
    highest phonon frequency (α²F is cut there).
    """
    q = np.asarray(qpoints, dtype=float)
    w = np.asarray(weights, dtype=float)
    files = [str(f) for f in elph_files]
    if q.ndim != 2 or q.shape[1] != 3 or not 1 <= len(q) <= MAX_QPOINTS:
        raise ValueError(f"qpoints must have shape (N, 3) with 1 ≤ N ≤ {MAX_QPOINTS}, got {q.shape}")
    if w.shape != (len(q),) or np.any(w <= 0):
        raise ValueError(f"need {len(q)} positive weights, got {list(weights)!r}")
    if len(files) != len(q):
        raise ValueError(f"need one elph file per q-point ({len(q)}), got {len(files)}")
    too_long = [f for f in files if len(f) > MAX_FILENAME_CHARS or "!" in f]
    if too_long:
        raise ValueError(f"lambda.x reads file names of ≤ {MAX_FILENAME_CHARS} characters without '!': {too_long}")
    if not emax_THz > 0 or not degauss_THz > 0:
        raise ValueError(f"emax_THz and degauss_THz must be > 0, got {emax_THz!r}, {degauss_THz!r}")
    if ngauss < 0 and ngauss not in (-1, -99):
        raise ValueError(f"ngauss={ngauss}: 0 Gaussian, 1.. Methfessel–Paxton, -1 Marzari–Vanderbilt, -99 Fermi–Dirac")

    lines = [f"{emax_THz:.6f} {degauss_THz:.6f} {ngauss}", f"{len(q)}"]
    lines += [f"{fixed(a)} {fixed(b)} {fixed(c)} {weight:.6f}" for (a, b, c), weight in zip(q, w)]
    lines += files
    lines.append(f"{mu_star:.6f}")
    return "\n".join(lines) + "\n"


def lambda_input_from_ph(
    ph_output: str | Path,
    structure,
    *,
    emax_THz: float,
    degauss_THz: float = 0.12,
    ngauss: int = 0,
    mu_star: float = DEFAULT_MU_STAR,
) -> str:
    """lambda.x input for a finished ph.x el-ph run whose stdout is `ph_output`.

    lambda.x must run in the same folder (it reads `elph_dir/`). The q-list comes from the parsed
    ph.x output (parser looked up in the program registry), the weights from `star_sizes`.
    """
    from betenet.qe.programs import get_program

    ph_output = Path(ph_output)
    parsed = get_program("ph").load_parser()(ph_output)
    if not parsed.has_elph or not parsed.complete:
        raise ValueError(
            f"{ph_output}: lambda.x needs an el-ph run over every q of the grid "
            f"(electron_phonon set: {parsed.has_elph}; all q computed: {parsed.complete})"
        )
    qpoints, weights = star_weighted_qpoints(parsed, structure, ph_output)
    return write_lambda_input(
        qpoints, weights, elph_files(ph_output.parent, len(qpoints)), emax_THz=emax_THz, degauss_THz=degauss_THz,
        ngauss=ngauss, mu_star=mu_star,
    )


def star_weighted_qpoints(parsed_ph, structure, where: str | Path) -> tuple[np.ndarray, list[int]]:
    """(irreducible q-points of a parsed ph.x output, Cartesian 2π/alat; their star sizes), checked to
    add up to the q-grid. Every part of a q-split run lists all of them, so any part will do."""
    qpoints = parsed_ph.grid_q_points_cart_2pi_alat
    weights = star_sizes(structure, qpoints)
    n_grid = int(np.prod(parsed_ph.q_grid))
    if sum(weights) != n_grid:
        raise ValueError(
            f"{where}: star sizes {weights} add up to {sum(weights)}, not the {parsed_ph.q_grid} grid's {n_grid} "
            "points: the symmetry found here differs from ph.x's (does the structure match the run?)"
        )
    return qpoints, weights


def elph_files(directory: str | Path, n_qpoints: int) -> list[str]:
    """ph.x's el-ph files of q-points 1..n_qpoints, relative to `directory`, where lambda.x runs."""
    files = [ELPH_FILE.format(index=i) for i in range(1, n_qpoints + 1)]
    missing = [f for f in files if not (Path(directory) / f).is_file()]
    if missing:
        raise FileNotFoundError(f"el-ph files {missing} missing in {directory}: did every ph.x (split) run finish?")
    return files


def zero_gamma_acoustic_modes(path: str | Path) -> bool:
    """Give Γ's three acoustic modes of one ph.x el-ph file ω² = 0 and λ = γ = 0, in place; False if the file is not Γ.

    The acoustic sum rule makes them uniform translations: no frequency, no coupling (what matdyn's `asr` imposes
    on the interpolated α²F). ph.x prints them as tiny ω² of either sign, and a negative one is NaN in lambda.x's
    α²F (√ω²), so without this a metal whose Γ residual comes out imaginary (fcc Al, 4³ q) had no q-sum.
    """
    path = Path(path)
    lines = path.read_text().splitlines()
    header = lines[0].split()
    if any(abs(float(x)) > 1e-8 for x in header[:3]):
        return False
    n_modes = int(header[4])
    w2, end = [], 1
    while len(w2) < n_modes:  # ω² in Fortran 6e14.6 records
        w2 += [float(x) for x in lines[end].split()]
        end += 1
    acoustic = set(np.argsort(np.abs(w2))[:3].tolist())
    w2 = [0.0 if nu in acoustic else value for nu, value in enumerate(w2)]
    records = ["".join(f"{value:14.6E}" for value in w2[i:i + 6]) for i in range(0, n_modes, 6)]
    body = []
    for line in lines[end:]:
        if line.lstrip().startswith("lambda(") and int(line.split("(")[1].split(")")[0]) - 1 in acoustic:
            nu = int(line.split("(")[1].split(")")[0])
            line = f"     lambda({nu:5d})={0.0:8.4f}   gamma={0.0:8.2f} GHz"  # lambda.f90's format 9010
        body.append(line)
    path.write_text("\n".join([lines[0], *records, *body]) + "\n")
    return True


def beyond_limits(n_qpoints: int, n_modes: int, n_smearings: int) -> str | None:
    """Why lambda.x (fixed array sizes) cannot take this run, or None when it can."""
    limits = ((n_qpoints, MAX_QPOINTS, "irreducible q-points"), (n_modes, MAX_MODES, "phonon modes"),
              (n_smearings, MAX_SMEARINGS, "el-ph smearings"))
    over = [f"{n} {what} (at most {limit})" for n, limit, what in limits if n > limit]
    return f"beyond lambda.x's fixed array sizes: {', '.join(over)}" if over else None


def star_sizes(
    structure, qpoints_cart_alat: np.ndarray, *, alat_A: float | None = None, symprec: float = 1e-5
) -> list[int]:
    """Number of distinct q in the star of each q (point group + time reversal).

    q is Cartesian in 2π/alat; alat defaults to |a1|, pw.x's choice for CELL_PARAMETERS in Å (give
    `alat_A` for runs with ibrav ≠ 0). In reduced coordinates q_i = a_i·q/alat, and a rotation R
    (acting on fractional positions) maps q to Rᵀq. Time reversal adds −q (λ(q) = λ(−q) without
    magnetism).
    """
    import spglib

    cell = as_cell(structure)
    numbers = [sorted(cell.species).index(s) + 1 for s in cell.symbols]
    with warnings.catch_warnings():  # spglib 2.x warns about its legacy error mode on every call
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset = spglib.get_symmetry_dataset((cell.lattice_A, cell.frac_coords, numbers), symprec=symprec)
    if dataset is None:
        raise ValueError(f"spglib found no symmetry for the structure at symprec={symprec}")
    transposed = np.asarray(dataset.rotations).transpose(0, 2, 1)
    lattice_alat = cell.lattice_A / (alat_A or np.linalg.norm(cell.lattice_A[0]))
    sizes = []
    for q in np.atleast_2d(qpoints_cart_alat):
        images = transposed @ (lattice_alat @ q)
        images = np.concatenate([images, -images])
        # Equal modulo a reciprocal lattice vector ⇔ equal reduced coordinates modulo 1.
        sizes.append(len(np.unique(np.round(images, 5) % 1.0, axis=0)))
    return sizes
