"""The fcc-Al electron-phonon reference chain (QE's PHonon example03 settings, cheaper q-grid).

pw.x scf on a dense k-grid with `la2F` → pw.x scf → ph.x el-ph on a 2×2×2 q-grid → q2r.x `la2F`
→ matdyn.x DOS + α²F (`la2F`) → matdyn.x frequencies on Γ–X–L–Γ → lambda.x. All steps run in one
folder (ph.x reads pw.x's `./out`, lambda.x reads ph.x's `elph_dir/`). Settings: Debian's
`Al.pz-vbc.UPF`, a = 7.5 bohr, ecutwfc 15 Ry, Marzari–Vanderbilt smearing 0.05 Ry, k 16³ (la2F)
and 8³, q 2³, el-ph smearings 0.005…0.050 Ry. The 2³ q-grid is the cheapest that stays physical:
λ ≈ 0.36–0.40 and ω_log ≈ 300 K for smearings ≥ 0.015 Ry (the 4³ grid of example03 gives
λ ≈ 0.35–0.41 at about twice the cost). Used by the fixture generators, the real-QE tests and the
benchmarks; scripts import it as `tests.al_chain` with the repository root on `sys.path`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from betenet.parsers.ph import parse_ph_output
from betenet.physics import BOHR_TO_ANGSTROM
from betenet.qe.lambda_x import lambda_input_from_ph
from betenet.qe.matdyn import write_matdyn_input
from betenet.qe.ph import ph_parameters, write_ph_input
from betenet.qe.pseudo import PseudoFamily
from betenet.qe.pw import pw_parameters, write_pw_input
from betenet.qe.q2r import write_q2r_input
from betenet.qe.runner import RunResult, run_program

ALAT_BOHR = 7.5
DEBIAN_AL_PSEUDO = "Al.pz-vbc.UPF"
DENSE_KGRID = (16, 16, 16)
KGRID = (8, 8, 8)
QGRID = (2, 2, 2)
DOS_GRID = (10, 10, 10)
NDOS = 100
EL_PH_SIGMA_RY = 0.005
EL_PH_NSIGMA = 10
FORCE_CONSTANTS = "al.fc"
# Γ → X → L → Γ in Cartesian 2π/a (cubic a), 10 points per segment.
PATH_CART_2PI_A = np.array([[0, 0, 0], [1, 0, 0], [0.5, 0.5, 0.5], [0, 0, 0]], dtype=float)
PATH_POINTS = (10, 10, 10, 1)
LAMBDA_EMAX_THZ = 12.0  # above Al's highest phonon (~10 THz)
LAMBDA_DEGAUSS_THZ = 0.12

STEPS = ("scf_fit", "scf", "elph", "q2r", "matdyn_dos", "matdyn_path", "lambda")


def al_structure():
    """fcc Al, primitive cell with QE's ibrav=2 vectors, a = 7.5 bohr."""
    from pymatgen.core import Lattice, Structure

    a_A = ALAT_BOHR * BOHR_TO_ANGSTROM
    lattice = a_A / 2 * np.array([[-1, 0, 1], [0, 1, 1], [-1, 1, 0]], dtype=float)
    return Structure(Lattice(lattice), ["Al"], [[0.0, 0.0, 0.0]])


def _path_crystal() -> np.ndarray:
    # Reduced coordinates x_i = a_i·q with a_i in units of the cubic a and q in 2π/a.
    lattice_a = np.array([[-1, 0, 1], [0, 1, 1], [-1, 1, 0]], dtype=float) / 2
    return PATH_CART_2PI_A @ lattice_a.T


def chain_inputs(pseudo_dir: str | Path = "/usr/share/espresso/pseudo") -> dict[str, tuple[str, str]]:
    """label → (program, input text) for every step but lambda.x, whose input needs ph.x's q-points."""
    structure = al_structure()
    pseudos = PseudoFamily(pseudo_dir, filenames={"Al": DEBIAN_AL_PSEUDO})
    common = {
        "control": {"prefix": "al"},
        "system": {"ecutwfc": 15.0, "occupations": "smearing", "smearing": "mv", "degauss": 0.05},
        "electrons": {"conv_thr": 1e-8, "mixing_beta": 0.7},
    }
    scf_fit = pw_parameters("scf", common, {"system": {"la2F": True}})
    scf = pw_parameters("scf", common)
    elph = ph_parameters(
        "elph",
        {
            "prefix": "al",
            "tr2_ph": 1e-10,
            "fildyn": "al.dyn",
            "el_ph_sigma": EL_PH_SIGMA_RY,
            "el_ph_nsigma": EL_PH_NSIGMA,
        },
    )
    return {
        "scf_fit": ("pw", write_pw_input(structure, scf_fit, pseudos=pseudos, kpoints=DENSE_KGRID)),
        "scf": ("pw", write_pw_input(structure, scf, pseudos=pseudos, kpoints=KGRID)),
        "elph": ("ph", write_ph_input(elph, qgrid=QGRID, title="Electron-phonon coefficients for Al")),
        "q2r": ("q2r", write_q2r_input({"fildyn": "al.dyn", "flfrc": FORCE_CONSTANTS, "la2F": True})),
        "matdyn_dos": (
            "matdyn",
            write_matdyn_input(
                {"flfrc": FORCE_CONSTANTS, "la2F": True, "ndos": NDOS, "fldos": "phonon.dos"},
                dos_grid=DOS_GRID,
            ),
        ),
        "matdyn_path": (
            "matdyn",
            write_matdyn_input(
                {"flfrc": FORCE_CONSTANTS, "flfrq": "matdyn.freq"},
                qpoints=_path_crystal(),
                points_per_segment=PATH_POINTS,
            ),
        ),
    }


def run_al_chain(
    directory: str | Path,
    *,
    npool: int | None = None,
    timeout_s: float = 600.0,
    pseudo_dir: str | Path = "/usr/share/espresso/pseudo",
) -> dict[str, RunResult]:
    """Run the whole chain in `directory` (created); label → RunResult in run order."""
    directory = Path(directory)
    results: dict[str, RunResult] = {}
    for label, (program, text) in chain_inputs(pseudo_dir).items():
        results[label] = run_program(program, text, directory, label=label, npool=npool, timeout_s=timeout_s)
    text = lambda_input_from_ph(
        results["elph"].stdout_path,
        al_structure(),
        emax_THz=LAMBDA_EMAX_THZ,
        degauss_THz=LAMBDA_DEGAUSS_THZ,
    )
    results["lambda"] = run_program("lambda", text, directory, label="lambda", timeout_s=timeout_s)
    return results


def star_weighted_lambda(ph_output: str | Path) -> np.ndarray:
    """λ per el-ph smearing as lambda.x sums it: Σ_q n_q Σ_ν λ_qν / Σ_q n_q over ph.x's irreducible q,
    with n_q ph.x's own star size ("Number of q in the star") and λ_qν as ph.x prints them."""
    points = parse_ph_output(ph_output).q_points
    stars = np.array([point.star_size for point in points], dtype=float)
    per_q = np.array([point.lambda_per_mode.sum(axis=-1) for point in points])  # (n_q, n_smearings)
    return stars @ per_q / stars.sum()
