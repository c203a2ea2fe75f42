"""Where a material's imaginary phonon modes are, and what they mean: a cause for every instability.

An imaginary frequency is a finding, not yet a verdict. The evidence comes in two kinds:

- *direct*: frequencies ph.x computed at its q-points (or, equivalently, the q2r.x force constants
  evaluated at the commensurate points of their q-grid, which Fourier interpolation reproduces);
- *interpolated*: frequencies between those points (phonopy's dense mesh on the same force constants).

The cause, in this order:

``genuine``         imaginary at a directly computed q-point away from Γ's acoustic modes, or an acoustic
                    branch near Γ whose imaginary |ω| grows with |q| (a negative elastic constant);
``acoustic_gamma``  only acoustic branches within `gamma_radius_invA` of Γ, not growing with |q|: a
                    sum-rule residual or an interpolation wiggle;
``interpolation``   imaginary only on the interpolated mesh, every directly computed q-point real: the
                    q-grid is too coarse for the force constants' range.

Only the remedy ladder decides whether a `genuine` finding survives denser grids; this module only says
where the modes are and which kind of evidence shows them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from betenet.physics import BOHR_TO_ANGSTROM, THZ_TO_MEV
from betenet.store.documents import Cause

N_ACOUSTIC = 3


@dataclass(frozen=True)
class ModeSample:
    """Phonon frequencies at a set of q-points. Shapes: q_frac (n, 3) in crystal coordinates of the
    reciprocal lattice, q_norm_invA (n,) with the 2π convention, frequencies_meV (n, 3·n_atoms) ascending
    per q-point (imaginary modes negative)."""

    source: str  # e.g. "ph.x q-points", "q-grid 4×4×4", "phonopy mesh 16×16×16"
    direct: bool  # computed by ph.x (not interpolated)
    q_frac: np.ndarray
    q_norm_invA: np.ndarray
    frequencies_meV: np.ndarray


@dataclass(frozen=True)
class Mode:
    """One imaginary mode: where it is and how imaginary."""

    source: str
    direct: bool
    q_crystal: tuple[float, float, float]
    q_norm_invA: float
    branch: int  # 0-based, ascending frequency at that q
    frequency_meV: float


@dataclass(frozen=True)
class Finding:
    cause: Cause | None  # None: no mode below −threshold
    reason: str
    modes: tuple[Mode, ...]  # the lowest mode of each q-point found imaginary, most imaginary first


@dataclass(frozen=True)
class CauseThresholds:
    """The documented numbers of the classification.

    `threshold_meV`: a mode counts as imaginary below −threshold (the stability gate's threshold).
    `gamma_radius_invA`: "near Γ" for acoustic modes. 0.3 Å⁻¹ is about a fifth of Γ–X in fcc Al, Ag and
    Pd (2π/a ≈ 1.5 Å⁻¹): the first shell of a 16³ phonopy mesh, where a Γ sum-rule residual leaks into
    the interpolation, lies inside it.
    `born_growth_ratio`: an acoustic branch is "growing" when its |ω| at the outermost imaginary |q|
    shell is at least this many times its |ω| at the innermost one (a linear dispersion over a factor ≥ 2
    in |q| gives ≥ 2; a residual decays away from Γ).
    """

    threshold_meV: float
    gamma_radius_invA: float = 0.3
    born_growth_ratio: float = 1.5

    @classmethod
    def from_settings(cls, settings) -> "CauseThresholds":
        """From the DFPT or EPW workflow settings."""
        return cls(threshold_meV=settings.stability_threshold_meV, gamma_radius_invA=settings.gamma_radius_invA,
                   born_growth_ratio=settings.born_growth_ratio)

    def __post_init__(self):
        if not self.threshold_meV >= 0:
            raise ValueError(f"Invalid threshold_meV={self.threshold_meV!r}: must be ≥ 0")
        if not self.gamma_radius_invA > 0:
            raise ValueError(f"Invalid gamma_radius_invA={self.gamma_radius_invA!r}: must be > 0")
        if not self.born_growth_ratio > 1:
            raise ValueError(f"Invalid born_growth_ratio={self.born_growth_ratio!r}: must be > 1")


def _folded(q_frac: np.ndarray) -> np.ndarray:
    """Crystal coordinates folded into [-0.5, 0.5)."""
    return (np.asarray(q_frac, dtype=float) + 0.5) % 1.0 - 0.5


def q_norms_invA(q_frac: np.ndarray, reciprocal_matrix_invA: np.ndarray) -> np.ndarray:
    """|q| in Å⁻¹ (2π convention) of the shortest image of each crystal-coordinate q."""
    return np.linalg.norm(_folded(q_frac) @ np.asarray(reciprocal_matrix_invA), axis=1)


def sample_from_ph_output(ph, lattice) -> ModeSample:
    """The q-points a ph.x run computed (`betenet.parsers.ph.PhOutput`) on the pymatgen `lattice` it ran
    on: ph.x prints q in Cartesian units of 2π/alat, alat in bohr."""
    computed = [q for q in ph.q_points if q.frequencies_cm1.size]
    if not computed:
        raise ValueError("the ph.x output holds no q-point with frequencies: nothing to classify")
    if ph.alat_bohr is None:
        raise ValueError("the ph.x output gives no 'lattice parameter (alat)': cannot place its q-points")
    q_cart_invA = np.array([q.q_cart_2pi_alat for q in computed]) * 2 * np.pi / (ph.alat_bohr * BOHR_TO_ANGSTROM)
    q_frac = q_cart_invA @ np.asarray(lattice.matrix).T / (2 * np.pi)
    return ModeSample("ph.x q-points", True, _folded(q_frac), np.linalg.norm(q_cart_invA, axis=1),
                      np.sort(np.array([q.frequencies_meV for q in computed]), axis=1))


def grid_points(qgrid: Sequence[int]) -> np.ndarray:
    """The commensurate points of a q-grid in crystal coordinates, (n1·n2·n3, 3)."""
    return np.array(list(itertools.product(*(range(n) for n in qgrid))), dtype=float) / np.asarray(qgrid)


def sample_from_phonopy(phonon, q_frac: np.ndarray, source: str, direct: bool) -> ModeSample:
    """Frequencies of a `phonopy.Phonopy` (e.g. `stability.phonopy_from_q2r`) at `q_frac` of its primitive
    cell's reciprocal lattice."""
    phonon.run_qpoints(np.asarray(q_frac))
    frequencies = np.sort(np.asarray(phonon.qpoints.frequencies) * THZ_TO_MEV, axis=1)
    reciprocal_invA = 2 * np.pi * np.linalg.inv(phonon.primitive.cell).T / BOHR_TO_ANGSTROM  # cell in bohr
    return ModeSample(source, direct, _folded(q_frac), q_norms_invA(q_frac, reciprocal_invA), frequencies)


def force_constant_samples(phonon, qgrid: Sequence[int], mesh: Sequence[int]) -> list[ModeSample]:
    """q2r.x force constants as evidence: their q-grid's commensurate points (direct — the Fourier sum
    reproduces ph.x's dynamical matrices there) and a Γ-centred dense mesh (interpolated)."""
    label = "×".join(map(str, qgrid))
    return [
        sample_from_phonopy(phonon, grid_points(qgrid), f"q-grid {label} (ph.x points)", direct=True),
        sample_from_phonopy(phonon, grid_points(mesh), f"phonopy mesh {'×'.join(map(str, mesh))}", direct=False),
    ]


def imaginary_modes(samples: Sequence[ModeSample], threshold_meV: float) -> list[Mode]:
    """The lowest mode of every q-point below −threshold, most imaginary first."""
    modes = []
    for sample in samples:
        lowest = sample.frequencies_meV.min(axis=1)
        for i in np.flatnonzero(lowest < -threshold_meV):
            modes.append(Mode(sample.source, sample.direct, tuple(float(x) for x in sample.q_frac[i]),
                              float(sample.q_norm_invA[i]), int(np.argmin(sample.frequencies_meV[i])),
                              float(lowest[i])))
    return sorted(modes, key=lambda m: (m.frequency_meV, not m.direct, m.q_norm_invA))


def _near_gamma_acoustic(mode: Mode, radius_invA: float) -> bool:
    return mode.branch < N_ACOUSTIC and mode.q_norm_invA < radius_invA


def _grows_with_q(modes: Sequence[Mode], ratio: float) -> bool:
    """The acoustic |ω| of the outermost |q| shell is `ratio` × that of the innermost (Γ itself left out)."""
    away = [m for m in modes if m.q_norm_invA > 1e-6]
    shells = sorted({round(m.q_norm_invA, 4) for m in away})
    if len(shells) < 2:
        return False
    inner = min(-m.frequency_meV for m in away if round(m.q_norm_invA, 4) == shells[0])
    outer = max(-m.frequency_meV for m in away if round(m.q_norm_invA, 4) == shells[-1])
    return outer >= ratio * inner


def classify(samples: Sequence[ModeSample], thresholds: CauseThresholds, max_modes: int = 12) -> Finding:
    """The cause of the imaginary modes in `samples` (see the module docstring for the rules)."""
    modes = imaginary_modes(samples, thresholds.threshold_meV)
    listed = tuple(modes[:max_modes])
    if not modes:
        return Finding(None, f"no mode below −{thresholds.threshold_meV} meV", ())
    radius = thresholds.gamma_radius_invA
    off_gamma = [m for m in modes if not _near_gamma_acoustic(m, radius)]
    direct = [m for m in off_gamma if m.direct]
    if direct:
        worst = direct[0]
        return Finding("genuine", f"imaginary at a directly computed q-point ({worst.source}): "
                       f"{worst.frequency_meV:.2f} meV at q = {_fmt_q(worst.q_crystal)} (|q| = "
                       f"{worst.q_norm_invA:.2f} Å⁻¹), branch {worst.branch}", listed)
    if off_gamma:
        worst = off_gamma[0]
        return Finding("interpolation", f"imaginary only between the computed q-points ({worst.source}: "
                       f"{worst.frequency_meV:.2f} meV at q = {_fmt_q(worst.q_crystal)}, |q| = "
                       f"{worst.q_norm_invA:.2f} Å⁻¹); every directly computed q-point is real", listed)
    if _grows_with_q(modes, thresholds.born_growth_ratio):
        return Finding("genuine", f"an acoustic branch near Γ is imaginary with |ω| growing with |q| "
                       f"(down to {modes[0].frequency_meV:.2f} meV): a negative elastic constant", listed)
    return Finding("acoustic_gamma", f"only acoustic modes within {radius} Å⁻¹ of Γ (down to "
                   f"{modes[0].frequency_meV:.2f} meV), not growing with |q|: a sum-rule residual or "
                   "interpolation wiggle", listed)


def _fmt_q(q_frac) -> str:
    return "(" + ", ".join(f"{x:.3f}" for x in q_frac) + ")"
