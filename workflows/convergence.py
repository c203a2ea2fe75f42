"""k-grid convergence of λ(σ) and the smearing-sensitivity check, as pure functions.

The double-delta smearing σ of the el-ph sum is trustworthy only where the dense k-grid resolves it: a
flat stretch of λ(σ) on one grid is no evidence (large σ over-smooths). So a `converge` run raises the
dense grid step by step and reports the smallest σ from which on λ and ω_log of the last two grids agree
within the tolerance. Without `converge` the seed's σ is reported and λ's change towards its neighbouring
smearings is measured and flagged.
"""

from __future__ import annotations

from collections.abc import Sequence

from betenet.store.documents import A2FData, ConvergenceData, ConvergenceStep

Grid = tuple[int, int, int]
# Flag names (the quality module of the stability work lists the others).
SMEARING_SENSITIVE = "smearing_sensitive"
UNCONVERGED = "unconverged"
# Largest |Δλ|/λ towards a neighbouring smearing before the label is flagged. On the committed campaign
# (preset fast, σ step 0.002 Ry, reported at 0.020 Ry) 11 of the 14 ok metals stay at ≤ 0.038 (median
# 0.024); Na 0.052, Au 0.055 and Cs 0.073 stand above the bulk: λ(σ) still steep at the reported σ.
# The check compares neighbours on the settings' own σ step: a finer step (production, 0.001 Ry) makes it
# more lenient, a coarser one (test, 0.005 Ry) stricter.
SMEARING_SENSITIVITY_LIMIT = 0.05


def relative_difference(a: float, b: float) -> float:
    """|a − b| / max(|a|, |b|) (0 when both are 0)."""
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale else 0.0


def convergence_step(kgrid: Grid, a2f_all: Sequence[A2FData], wall_time_s: float) -> ConvergenceStep:
    """One dense grid's λ(σ), ω_log(σ) from its α²F spectra."""
    spectra = sorted(a2f_all, key=lambda a: a.smearing_Ry)
    return ConvergenceStep(kgrid=tuple(kgrid), smearing_Ry=[a.smearing_Ry for a in spectra],
                           lambda_=[a.lambda_ for a in spectra], omega_log_K=[a.omega_log_K for a in spectra],
                           wall_time_s=wall_time_s)


def step_differences(previous: ConvergenceStep, last: ConvergenceStep) -> list[float]:
    """Per smearing, the larger relative difference of λ and of ω_log between two grids."""
    if previous.smearing_Ry != last.smearing_Ry:
        raise ValueError(f"the grids {previous.kgrid} and {last.kgrid} have different smearings")
    return [max(relative_difference(l0, l1), relative_difference(w0, w1))
            for l0, l1, w0, w1 in zip(previous.lambda_, last.lambda_, previous.omega_log_K, last.omega_log_K)]


def converged_smearing_index(previous: ConvergenceStep, last: ConvergenceStep, tolerance: float) -> int | None:
    """0-based index of the smallest σ from which on every larger σ agrees within `tolerance`, or None.

    Agreement must hold up to the largest σ: two unconverged λ(σ) curves can cross at one σ by chance."""
    differences = step_differences(previous, last)
    index = None
    for i in reversed(range(len(differences))):
        if differences[i] > tolerance:
            break
        index = i
    return index


def next_kgrid(kgrid: Grid, kgrid_scf: Grid, k_step: int) -> Grid:
    """The next dense grid: `k_step` more scf grids, so it stays a multiple of the scf grid (ph.x maps the
    scf grid's el-ph matrix elements onto it)."""
    return tuple(int(k + k_step * n) for k, n in zip(kgrid, kgrid_scf))


def convergence_verdict(steps: Sequence[ConvergenceStep], tolerance: float, max_steps: int,
                        default_smearing_Ry: float) -> ConvergenceData | None:
    """The outcome after the last step, or None while another grid is due (no agreement, steps left)."""
    if len(steps) < 2:
        return None
    previous, last = steps[-2], steps[-1]
    index = converged_smearing_index(previous, last, tolerance)
    common = dict(tolerance=tolerance, steps=list(steps), wall_time_s=sum(s.wall_time_s for s in steps))
    grids = f"k-grids {_grid(previous.kgrid)} and {_grid(last.kgrid)}"
    if index is not None:
        sigma = last.smearing_Ry[index]
        return ConvergenceData(converged=True, chosen_smearing_Ry=sigma, **common,
                               reason=f"λ and ω_log of {grids} agree within {tolerance:.0%} from σ = {sigma:g} Ry up")
    if len(steps) < max_steps:
        return None
    differences = step_differences(previous, last)
    top = len(differences) - 1
    return ConvergenceData(
        converged=False, chosen_smearing_Ry=default_smearing_Ry, **common,
        reason=f"after {len(steps)} grids, λ or ω_log of {grids} differ by {differences[top]:.1%} at the largest "
               f"σ = {last.smearing_Ry[top]:g} Ry (tolerance {tolerance:.0%}): reported at the default σ")


def smearing_sensitivity(a2f_all: Sequence[A2FData], smearing_index: int) -> float | None:
    """Largest |Δλ|/λ between the α²F at `smearing_index` (1-based) and its neighbouring smearings."""
    by_index = {a.smearing_index: a.lambda_ for a in a2f_all}
    if smearing_index not in by_index:
        return None
    here = by_index[smearing_index]
    neighbours = [by_index[i] for i in (smearing_index - 1, smearing_index + 1) if i in by_index]
    return max((abs(n - here) / abs(here) for n in neighbours), default=None) if here else None


def _grid(kgrid: Sequence[int]) -> str:
    return "×".join(map(str, kgrid))
