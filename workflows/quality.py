"""The document's quality block: numbers that say how far its labels can be trusted, and named flags.

`build-dataset` leaves a flagged document out unless the flag is allowed (`--allow-flag NAME`), so every
flag here is a reason a computational materials scientist would hesitate to train on the label.
"""

from __future__ import annotations

from pymatgen.core import Structure

from betenet.store.documents import A2FData, ConvergenceData, PhononDosData, QELambdaRow, QualityData, StabilityData
from betenet.workflows.convergence import (
    SMEARING_SENSITIVE,
    SMEARING_SENSITIVITY_LIMIT,
    UNCONVERGED,
    smearing_sensitivity,
)
from betenet.workflows.outputs import QETaskDoc
from betenet.workflows.remedy import gamma_residual_fraction
from betenet.workflows.spin import SPIN_ORBIT_FLAG, spin_orbit_flags

# λ of the interpolated α²F and lambda.x's direct q-point sum further apart than this, relatively: the el-ph
# q-grid does not resolve the coupling (QE's own ph_metal Al: 4³ q-grid, 0.020 Ry, 0.4269 vs 0.4262: 0.2 %;
# the 2³ test grid: 0.400 vs 0.329, 18 %).
INTERPOLATION_MISMATCH_MAX = 0.10

FLAGS: dict[str, str] = {
    "acoustic_gamma": "imaginary acoustic modes near Γ only (a sum-rule residual): stored, but the phonons are suspect",
    "gamma_residual_large": "ph.x's acoustic frequencies at Γ exceed the settings' fraction of the top frequency "
                            "after the remedy ladder: phonons stiffened by a coarse density grid (raise ecutrho)",
    "interpolation_mismatch": f"λ of the interpolated α²F and the direct q-point sum differ by more than "
                              f"{100 * INTERPOLATION_MISMATCH_MAX:.0f} %: the el-ph q-grid is too coarse",
    SMEARING_SENSITIVE: f"λ changes by more than {100 * SMEARING_SENSITIVITY_LIMIT:.0f} % towards a neighbouring "
                        "el-ph smearing at the reported one: λ(σ) still steep (run with --converge)",
    UNCONVERGED: "--converge found no smearing at which λ and ω_log of the last two dense k-grids agree",
    SPIN_ORBIT_FLAG: "an element whose phonons and coupling change with spin–orbit coupling (workflows/spin.py), "
                     "computed scalar-relativistically",
}


def interpolation_mismatch(chosen: A2FData | None, lambda_qsum: list[QELambdaRow]) -> float | None:
    """|λ(α²F) − λ(q-sum)| / λ(q-sum) at the reported smearing (None without a q-sum there)."""
    if chosen is None:
        return None
    direct = next((r.lambda_ for r in lambda_qsum if abs(r.smearing_Ry - chosen.smearing_Ry) < 1e-9), None)
    if direct is None or direct <= 0:
        return None
    return abs(chosen.lambda_ - direct) / direct


def quality_of(settings, structure: Structure, stability: StabilityData | None, coarse_dos: PhononDosData | None,
               chosen: A2FData | None, lambda_qsum: list[QELambdaRow], magnetism: QETaskDoc | None = None,
               a2f_all: list[A2FData] = (), convergence: ConvergenceData | None = None) -> QualityData:
    """The quality block of a document from its verdict, coarse phonons, reported spectrum (with every
    smearing's and the converge steps'), and the spin-polarised check (when it ran)."""
    residual = gamma_residual_fraction(stability, coarse_dos) if stability is not None else None
    mismatch = interpolation_mismatch(chosen, lambda_qsum)
    flags = spin_orbit_flags(structure.symbol_set)
    if stability is not None and stability.cause == "acoustic_gamma":
        flags.append("acoustic_gamma")
    if residual is not None and residual > settings.gamma_residual_max_fraction:
        flags.append("gamma_residual_large")
    if mismatch is not None and mismatch > INTERPOLATION_MISMATCH_MAX:
        flags.append("interpolation_mismatch")
    sensitivity = smearing_sensitivity(list(a2f_all), chosen.smearing_index) if chosen is not None else None
    if sensitivity is not None and sensitivity > SMEARING_SENSITIVITY_LIMIT:
        flags.append(SMEARING_SENSITIVE)
    if convergence is not None and not convergence.converged:
        flags.append(UNCONVERGED)
    return QualityData(
        gamma_residual_fraction=residual, interpolation_mismatch=mismatch, smearing_sensitivity=sensitivity,
        convergence=convergence, flags=flags,
        magnetic_moment_muB=magnetism.total_magnetization_muB if magnetism else None,
        absolute_magnetic_moment_muB=magnetism.absolute_magnetization_muB if magnetism else None,
    )
