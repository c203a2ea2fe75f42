"""The physics core: unit conversions, the model grid, α²F moments and the Allen–Dynes Tc.

One module used by parsers, dataset and model alike, so every number in the project comes from the same
formulas (BETE-NET seed conventions, see DESIGN.md). The moment and Tc functions accept NumPy arrays or
torch tensors (the model uses them differentiably); the last axis is the frequency axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import savgol_filter

# Unit conversions as used by the seed paper's code.
RY_TO_MEV = 13605.693
CM1_TO_MEV = 0.12398
THZ_TO_MEV = 4.135667696
MEV_PER_K = 0.08617  # meV → K: divide by this
BOHR_TO_ANGSTROM = 0.529177210903

# The 51-bin model grid (meV) and the fine grid the targets are smoothed on.
MODEL_GRID_MEV = np.arange(0.25, 101, 2.0)
N_MODEL_BINS = MODEL_GRID_MEV.size  # 51: α²F targets and site-PhDOS rows alike
FINE_GRID_MEV = np.arange(0.25, 101, 0.1)
MODEL_GRID_STEP_MEV = 2.0
SAVGOL_WINDOW = 101
SAVGOL_ORDER = 3
DEFAULT_MU_STAR = 0.10


def mev_to_kelvin(value_meV):
    return value_meV / MEV_PER_K


def kelvin_to_mev(value_K):
    return value_K * MEV_PER_K


def _xp(array):
    """NumPy or torch, whichever `array` belongs to (torch is never imported here)."""
    if type(array).__module__.startswith("torch"):
        import torch

        return torch
    return np


# ---------------------------------------------------------------------------------------------------
# Spectra onto the model grid
# ---------------------------------------------------------------------------------------------------


def to_model_grid(omega_meV, values) -> np.ndarray:
    """Seed processing of a spectrum (α²F or a phonon DOS) onto the 51-bin model grid.

    Linear interpolation onto the 0.1 meV grid (zero outside the data), Savitzky–Golay smoothing
    (window 101, order 3), interpolation onto the 51 bins, negatives clipped to 0.
    `values` may be 1-D (n_omega,) or 2-D (n_series, n_omega), e.g. one row per atom.
    """
    omega_meV = np.asarray(omega_meV, dtype=float)
    values = np.asarray(values, dtype=float)
    if omega_meV.ndim != 1 or values.shape[-1] != omega_meV.size:
        raise ValueError(
            f"spectrum shape {values.shape} does not match frequency axis of length {omega_meV.size}"
        )
    if omega_meV.size < 2 or np.any(np.diff(omega_meV) <= 0):
        raise ValueError("frequency axis must be strictly increasing with at least two points")
    rows = np.atleast_2d(values)
    fine = np.stack([np.interp(FINE_GRID_MEV, omega_meV, row, left=0.0, right=0.0) for row in rows])
    smooth = savgol_filter(fine, SAVGOL_WINDOW, SAVGOL_ORDER, axis=-1)
    coarse = np.stack([np.interp(MODEL_GRID_MEV, FINE_GRID_MEV, row) for row in smooth])
    coarse = np.clip(coarse, 0.0, None)
    return coarse[0] if values.ndim == 1 else coarse


# ---------------------------------------------------------------------------------------------------
# Moments of α²F
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Moments:
    """λ and the two characteristic frequencies of an α²F spectrum."""

    lambda_: float
    omega_log_meV: float
    omega_2_meV: float

    @property
    def omega_log_K(self) -> float:
        return mev_to_kelvin(self.omega_log_meV)

    @property
    def omega_2_K(self) -> float:
        return mev_to_kelvin(self.omega_2_meV)


def _bin_width(omega_meV) -> float:
    omega = np.asarray(omega_meV, dtype=float)
    steps = np.diff(omega)
    if steps.size == 0 or not np.allclose(steps, steps[0], rtol=1e-4, atol=1e-9):
        raise ValueError("α²F moments need a uniform frequency grid")
    return float(steps[0])


def _positive_part(omega_meV, a2f, first_bin: int):
    """Frequencies and α²F restricted to ω > 0 and to bins from `first_bin` on."""
    omega = np.asarray(omega_meV, dtype=float)
    keep = np.arange(omega.size) >= first_bin
    keep &= omega > 0
    index = np.nonzero(keep)[0]
    xp = _xp(a2f)
    if xp is np:
        return omega[index], np.asarray(a2f, dtype=float)[..., index]
    import torch

    omega_t = torch.as_tensor(omega[index], dtype=a2f.dtype, device=a2f.device)
    return omega_t, a2f[..., torch.as_tensor(index, device=a2f.device)]


def lambda_from_a2f(omega_meV, a2f, first_bin: int = 0):
    """λ = 2 Σ α²F(ω)/ω Δω over positive frequencies (rectangle rule on a uniform grid)."""
    d_omega = _bin_width(omega_meV)
    omega, spectrum = _positive_part(omega_meV, a2f, first_bin)
    return 2.0 * (spectrum / omega).sum(-1) * d_omega


def omega_log_from_a2f(omega_meV, a2f, first_bin: int = 0):
    """ω_log = exp[(2/λ) Σ α²F(ω) ln ω / ω Δω], in the unit of `omega_meV` (meV)."""
    xp = _xp(a2f)
    d_omega = _bin_width(omega_meV)
    omega, spectrum = _positive_part(omega_meV, a2f, first_bin)
    lam = 2.0 * (spectrum / omega).sum(-1) * d_omega
    return xp.exp(2.0 / lam * (spectrum * xp.log(omega) / omega).sum(-1) * d_omega)


def omega_2_from_a2f(omega_meV, a2f, first_bin: int = 0):
    """ω₂ = sqrt[(2/λ) Σ α²F(ω) ω Δω], in meV."""
    xp = _xp(a2f)
    d_omega = _bin_width(omega_meV)
    omega, spectrum = _positive_part(omega_meV, a2f, first_bin)
    lam = 2.0 * (spectrum / omega).sum(-1) * d_omega
    return xp.sqrt(2.0 / lam * (spectrum * omega).sum(-1) * d_omega)


def moments_from_a2f(omega_meV, a2f, first_bin: int = 0) -> Moments:
    """All three moments of a 1-D NumPy α²F spectrum."""
    return Moments(
        lambda_=float(lambda_from_a2f(omega_meV, a2f, first_bin)),
        omega_log_meV=float(omega_log_from_a2f(omega_meV, a2f, first_bin)),
        omega_2_meV=float(omega_2_from_a2f(omega_meV, a2f, first_bin)),
    )


def model_grid_moments(a2f_51) -> Moments:
    """Moments of an α²F on the 51-bin model grid, summing bins 1..50 as the seed does."""
    return moments_from_a2f(MODEL_GRID_MEV, a2f_51, first_bin=1)


# ---------------------------------------------------------------------------------------------------
# Critical temperature
# ---------------------------------------------------------------------------------------------------


def _mcmillan_factor(lam, omega_log_K, mu_star):
    """ω_log/1.2·exp[−1.04(1+λ)/(λ−μ*(1+0.62λ))] and whether the exponent's denominator is > 0."""
    xp = _xp(lam)
    denominator = lam - mu_star * (1.0 + 0.62 * lam)
    coupled = denominator > 0
    safe_denominator = xp.where(coupled, denominator, xp.ones_like(denominator))
    return omega_log_K / 1.2 * xp.exp(-1.04 * (1.0 + lam) / safe_denominator), coupled


def _as_result(tc, coupled):
    xp = _xp(tc)
    tc = xp.where(coupled, tc, xp.zeros_like(tc))
    return float(tc) if xp is np and np.ndim(tc) == 0 else tc


def allen_dynes_tc(lambda_, omega_log_K, omega_2_K, mu_star: float = DEFAULT_MU_STAR):
    """Allen–Dynes Tc (K) with the f1 strong-coupling and f2 shape corrections.

    Where λ ≤ μ*(1 + 0.62λ) the formula predicts no superconductivity and Tc is 0 K exactly
    (a physical answer of the formula, not a placeholder). Works element-wise on arrays/tensors.
    """
    lam = lambda_ if _xp(lambda_) is not np else np.asarray(lambda_, dtype=float)
    base, coupled = _mcmillan_factor(lam, omega_log_K, mu_star)
    ratio = omega_2_K / omega_log_K
    f1 = (1.0 + (lam / (2.46 * (1.0 + 3.8 * mu_star))) ** 1.5) ** (1.0 / 3.0)
    f2 = 1.0 + lam**2 * (ratio - 1.0) / (lam**2 + (1.82 * (1.0 + 6.3 * mu_star) * ratio) ** 2)
    return _as_result(base * f1 * f2, coupled)


def mcmillan_tc(lambda_, omega_log_K, mu_star: float = DEFAULT_MU_STAR):
    """Allen–Dynes-modified McMillan Tc without f1·f2 — the number QE's lambda.x prints, K."""
    lam = lambda_ if _xp(lambda_) is not np else np.asarray(lambda_, dtype=float)
    return _as_result(*_mcmillan_factor(lam, omega_log_K, mu_star))


@dataclass(frozen=True)
class Superconductivity:
    """Everything a user reads off one α²F spectrum."""

    lambda_: float
    omega_log_K: float
    omega_2_K: float
    tc_K: float
    mu_star: float


def superconductivity_from_a2f(
    omega_meV, a2f, mu_star: float = DEFAULT_MU_STAR, first_bin: int = 0
) -> Superconductivity:
    m = moments_from_a2f(omega_meV, a2f, first_bin)
    return Superconductivity(
        lambda_=m.lambda_,
        omega_log_K=m.omega_log_K,
        omega_2_K=m.omega_2_K,
        tc_K=allen_dynes_tc(m.lambda_, m.omega_log_K, m.omega_2_K, mu_star),
        mu_star=mu_star,
    )
