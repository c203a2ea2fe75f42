"""The remedy ladder: a bounded sequence of reruns of the coarse phonons that tells an artefact from a
real instability (DESIGN.md, "Trustworthy labels"), one rung per attempt, in this order:

1. imaginary at directly computed q-points (`genuine` so far) → a denser scf k-grid (× `remedy_k_factor`):
   too coarse an electronic grid for a metal's phonons makes spurious soft modes; a mode that survives it
   is genuine;
2. imaginary only between the computed q-points (`interpolation`) → a denser coarse q-grid
   (+ `remedy_q_step` per direction), as long as attempts remain;
3. the acoustic sum rule broken at Γ by more than `gamma_residual_max_fraction` of the top frequency →
   ecutrho × `remedy_ecutrho_factor` (exchange–correlation on a coarse density grid with non-linear core
   corrections).

A larger electronic smearing is never a rung: it can hide a real charge-density wave. The decision is a
pure function of the verdict, the settings and what ran; the Flow wiring is `flows.stability_gate`.
"""

from __future__ import annotations

import math
from typing import Any

from betenet.store.documents import PhononDosData, RemedyAttempt, StabilityData

def gamma_residual_fraction(verdict: StabilityData, coarse_dos: PhononDosData | None) -> float | None:
    """ph.x's largest |acoustic frequency| at Γ over the top of the coarse phonon DOS (None: unknown)."""
    if verdict.gamma_acoustic_meV is None or coarse_dos is None or not coarse_dos.omega_meV:
        return None
    top = max(coarse_dos.omega_meV)
    return verdict.gamma_acoustic_meV / top if top > 0 else None


def next_remedy(verdict: StabilityData, settings, coarse_dos: PhononDosData | None, ran: dict[str, Any],
                attempts: list[RemedyAttempt]) -> tuple[str, dict[str, Any], str] | None:
    """(rung, settings overrides, why) for the next attempt, or None when the verdict is final.

    `ran`: what the last attempt actually used — {"kgrid_scf": (k1, k2, k3), "qgrid_coarse": ..., "ecutrho_Ry": ...}.
    """
    if len(attempts) >= settings.remedy_max_attempts:
        return None
    done = {a.change.get("rung") for a in attempts}
    if verdict.cause == "genuine" and "denser_k" not in done:
        kgrid = tuple(settings.remedy_k_factor * k for k in ran["kgrid_scf"])
        overrides: dict[str, Any] = {"kgrid_scf": kgrid}
        if settings.kgrid_elph is not None:  # the dense el-ph grid must stay a multiple of the scf grid
            overrides["kgrid_elph"] = tuple(math.ceil(e / k) * k for e, k in zip(settings.kgrid_elph, kgrid))
        return "denser_k", overrides, f"imaginary at computed q-points ({verdict.cause_reason}): is the k-grid " \
            f"{tuple(ran['kgrid_scf'])} too coarse?"
    if verdict.cause == "interpolation":
        qgrid = tuple(q + settings.remedy_q_step for q in ran["qgrid_coarse"])
        return "denser_q", {"qgrid_coarse": qgrid}, f"imaginary only between computed q-points " \
            f"({verdict.cause_reason}): is the q-grid {tuple(ran['qgrid_coarse'])} too coarse?"
    fraction = gamma_residual_fraction(verdict, coarse_dos)
    if verdict.stable and fraction is not None and fraction > settings.gamma_residual_max_fraction \
            and "higher_ecutrho" not in done:
        ecutrho = round(settings.remedy_ecutrho_factor * ran["ecutrho_Ry"], 1)
        return "higher_ecutrho", {"ecutrho_Ry": ecutrho}, (
            f"acoustic sum rule broken at Γ by {verdict.gamma_acoustic_meV:.2f} meV, {100 * fraction:.0f} % of the "
            f"top frequency (> {100 * settings.gamma_residual_max_fraction:.0f} %): ecutrho {ran['ecutrho_Ry']} Ry "
            "too low for the density?")
    return None


def attempt_record(step: int, rung: str, overrides: dict[str, Any], why: str, verdict: StabilityData,
                   wall_time_s: float) -> RemedyAttempt:
    """What one attempt changed and what the phonons said after it."""
    return RemedyAttempt(
        step=step, change={"rung": rung, **{k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()}},
        why=why, stable=verdict.stable, cause=verdict.cause, lowest_frequency_meV=verdict.lowest_frequency_meV,
        lowest_mode=verdict.imaginary_modes[0] if verdict.imaginary_modes else None, wall_time_s=wall_time_s,
    )
