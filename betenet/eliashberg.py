"""Tc from the linearised isotropic Migdal–Eliashberg equations on the imaginary (Matsubara) axis.

Allen–Dynes (`physics.allen_dynes_tc`) is a fit to Eliashberg solutions; it drifts for strong coupling
(λ ≳ 1.5) and unusual α²F shapes. This module solves the equations themselves for a given α²F(ω) and μ*.

Equations (Carbotte, RMP 62, 1027 (1990); Allen & Mitrović, Solid State Phys. 37, 1 (1982)), energies in
meV, k_B T = T·MEV_PER_K, fermionic frequencies ω_n = πT(2n+1):

    λ(ν)      = 2 ∫ dω α²F(ω) ω / (ω² + ν²)                      (bosonic ν = ω_n − ω_m = 2πT(n−m))
    Z_n ω_n   = ω_n + πT Σ_m λ(n−m) sgn ω_m = ω_n + πT [λ(0) + 2 Σ_{k=1..n} λ(k)]      (n ≥ 0, exact)
    Z_n Δ_n   = πT Σ_{|ω_m|<ω_c} [λ(n−m) − μ*(ω_c)] Δ_m / |ω_m|

With the even gap Δ(−ω_n) = Δ(ω_n), i.e. Δ_{−m−1} = Δ_m, the gap equation lives on the N positive
frequencies below ω_c: Z_n Δ_n = πT Σ_{m<N} K_nm Δ_m / ω_m with K_nm = λ(n−m) + λ(n+m+1) − 2μ*(ω_c).
Its matrix is similar to the symmetric B = s K s, s_n = sqrt(πT / (Z_n ω_n)); Tc is where B's largest
eigenvalue ρ(T) crosses 1 (ρ grows as T falls).

μ*: Allen–Dynes' μ* and the Eliashberg μ*(ω_c) are different numbers. The Coulomb pseudopotential at a
cutoff ω follows 1/μ*(ω) = 1/μ + ln(E_F/ω), so a μ* quoted at a reference frequency ω_ref becomes
μ*(ω_c) = μ* / (1 + μ* ln(ω_ref/ω_c)): larger for ω_c > ω_ref, as less of the repulsion is renormalised
away. `mu_star_at_cutoff` is the one place of that conversion. The reference is the top phonon frequency
ω_max, the retardation scale of Morel–Anderson's renormalisation: with it the Eliashberg Tc is 0.94–1.03 ×
Allen–Dynes for smooth spectra with 0.5 ≤ λ ≤ 1.5 and 0.99–1.00 × for the campaign's Mo, Pt, Ir, Ta, while
ω_log (or ω₂) as reference gives 0.85–0.96 × (tests/test_eliashberg.py, benchmarks/RESULTS.md).

The non-linear equations (R_m = sqrt(ω_m² + Δ_m²) for |ω_m|) give Δ(iω_n) below Tc: `matsubara_gap`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft
from scipy.optimize import brentq
from scipy.sparse.linalg import LinearOperator, eigsh

from betenet import physics

# ω_c = CUTOFF_FACTOR × ω_max: once μ* is rescaled, Tc moves by < 0.5 % from 10× to 40× (measured for
# Al, Mo, Ta; the tests check Mo); 10× is the customary choice and keeps N ≈ ω_c/(2πT) modest.
CUTOFF_FACTOR = 10.0
# Below this the number of Matsubara points (≈ ω_c/2πT, ~7600 for Al at 0.1 K) costs more than the
# answer is worth for a screen; a Tc below it is reported as "below", not computed.
LOWEST_TEMPERATURE_K = 0.1
# The upper end of the search, × sqrt(λ⟨ω²⟩): Tc approaches 0.1827·sqrt(λ⟨ω²⟩) from below as λ → ∞
# (Allen & Dynes, PRB 12, 905 (1975)) and μ* > 0 only lowers it; the rigorous bound for Einstein phonons
# is 0.372 (Kiessling, Altshuler & Yuzbashyan, arXiv:2409.02121). A root above it raises, never hides.
UPPER_BOUND_FACTOR = 0.4
# At least this many positive Matsubara frequencies below ω_c at any temperature solved for.
MIN_MATSUBARA = 8
# Clipped negative α²F (interpolation noise of real spectra: 2.7 % of λ for the stored fcc Al) is
# tolerated up to this fraction of λ; more means the spectrum itself is wrong.
MAX_NEGATIVE_FRACTION = 0.10
TOP_FREQUENCY_LEVEL = 0.01  # ω_max: the highest ω where α²F ≥ 1 % of its maximum
MU_STAR_MAX = 0.3  # μ* of real metals lies in 0.08–0.2; beyond 0.3 is a typo, not a material
_DENSE_BELOW = 64  # the eigenproblem is solved densely up to this size, by Lanczos (FFT products) above
_RTOL_K = 1e-5  # relative tolerance of the Tc root
_KERNEL_BLOCK = 1 << 20  # elements per block of the λ(k) sum


class EliashbergInputError(ValueError):
    """An α²F spectrum or a parameter the Eliashberg solver cannot use (the message says what to do)."""


class EliashbergConvergenceError(ValueError):
    """The non-linear gap equations did not converge at the temperature asked for."""


@dataclass(frozen=True)
class EliashbergTc:
    """Result of `eliashberg_tc`: a Tc, or the temperature it is known to lie below — never a placeholder.

    tc_K: the critical temperature, or None when Tc < below_K (then `reason` says why).
    below_K: the lowest temperature solved at, when tc_K is None; else None.
    mu_star: the Allen–Dynes-scale μ* given; mu_star_c: μ*(ω_c) used in the equations.
    omega_ref_meV: the reference frequency of the μ* conversion (ω_max); omega_c_meV: the cutoff.
    lambda_: λ of the clipped spectrum; negative_fraction: clipped negative weight / lambda_.
    n_matsubara: positive Matsubara frequencies below ω_c at tc_K (or at below_K).
    """

    tc_K: float | None
    below_K: float | None
    reason: str
    mu_star: float
    mu_star_c: float
    omega_ref_meV: float
    omega_c_meV: float
    lambda_: float
    negative_fraction: float
    n_matsubara: int


@dataclass(frozen=True, eq=False)  # holds arrays
class CheckedSpectrum:
    """α²F on ω > 0 with negatives clipped, and the record of what was clipped.

    omega_meV, a2f: (n_omega,) uniform grid; lambda_: λ after clipping; negative_fraction: the removed
    weight 2∫|α²F<0|/ω dω over lambda_; omega_max_meV: the top phonon frequency, the highest ω where
    α²F reaches TOP_FREQUENCY_LEVEL of its maximum (a Gaussian's far tail does not count).
    """

    omega_meV: np.ndarray
    a2f: np.ndarray
    lambda_: float
    negative_fraction: float
    omega_max_meV: float


def check_spectrum(
    omega_meV, a2f, max_negative_fraction: float = MAX_NEGATIVE_FRACTION, first_bin: int = 0
) -> CheckedSpectrum:
    """Validate a 1-D α²F on a uniform grid, drop ω ≤ 0, clip negatives and record their weight.

    `first_bin` drops the bins before it, as the physics moments do (1 on the 51-bin model grid).

    Raises EliashbergInputError for a shape mismatch, non-finite values, no positive weight, or negative
    weight above `max_negative_fraction` of λ.
    """
    omega = np.asarray(omega_meV, dtype=float)
    spectrum = np.asarray(a2f, dtype=float)
    if omega.ndim != 1 or spectrum.shape != omega.shape or omega.size < 2:
        raise EliashbergInputError(
            f"α²F of shape {spectrum.shape} on a frequency axis of shape {omega.shape}: pass two 1-D arrays "
            "of the same length (≥ 2)"
        )
    if not (np.all(np.isfinite(omega)) and np.all(np.isfinite(spectrum))):
        bad = np.flatnonzero(~(np.isfinite(omega) & np.isfinite(spectrum)))
        raise EliashbergInputError(
            f"α²F spectrum has {bad.size} non-finite values (first at index {bad[0]}): fix or re-parse it"
        )
    keep = (omega > 0) & (np.arange(omega.size) >= first_bin)
    omega, spectrum = omega[keep], spectrum[keep]
    positive = np.clip(spectrum, 0.0, None)
    if omega.size < 2 or not np.any(positive > 0):
        raise EliashbergInputError("α²F spectrum has no positive weight at ω > 0: nothing to solve for")
    try:
        lam = float(physics.lambda_from_a2f(omega, positive))
    except ValueError as err:
        raise EliashbergInputError(f"{err}: resample the α²F onto evenly spaced frequencies") from err
    negative = float(physics.lambda_from_a2f(omega, positive - spectrum))
    if negative > max_negative_fraction * lam:
        raise EliashbergInputError(
            f"α²F has negative weight {negative:.4g} = {negative / lam:.1%} of λ = {lam:.4g}, above the "
            f"tolerated {max_negative_fraction:.0%}: the spectrum is not a physical α²F (check its smearing "
            "or interpolation), or raise max_negative_fraction knowingly"
        )
    return CheckedSpectrum(
        omega_meV=omega,
        a2f=positive,
        lambda_=lam,
        negative_fraction=negative / lam,
        omega_max_meV=float(omega[np.flatnonzero(positive >= TOP_FREQUENCY_LEVEL * positive.max())[-1]]),
    )


def mu_star_at_cutoff(mu_star: float, omega_ref_meV: float, omega_c_meV: float) -> float:
    """μ*(ω_c) = μ* / (1 + μ* ln(ω_ref/ω_c)): the μ* quoted at ω_ref, moved to the cutoff ω_c.

    Raises EliashbergInputError when μ* is outside [0, MU_STAR_MAX] or the denominator is not positive.
    """
    if not 0.0 <= mu_star <= MU_STAR_MAX:
        raise EliashbergInputError(f"mu_star = {mu_star!r} is outside [0, {MU_STAR_MAX}]: pass a Coulomb "
                                   "pseudopotential of a real metal (typically 0.10–0.13)")
    denominator = 1.0 + mu_star * np.log(omega_ref_meV / omega_c_meV)
    if denominator <= 0:
        raise EliashbergInputError(
            f"μ* = {mu_star} cannot be moved from {omega_ref_meV:.4g} to ω_c = {omega_c_meV:.4g} meV "
            "(1 + μ* ln(ω_ref/ω_c) ≤ 0): lower omega_c_meV"
        )
    return float(mu_star / denominator)


def matsubara_count(temperature_K: float, omega_c_meV: float) -> int:
    """Number N of positive fermionic frequencies ω_n = πT(2n+1) below ω_c (N ≈ ω_c / 2πT)."""
    pi_t = np.pi * physics.kelvin_to_mev(temperature_K)
    return max(int(np.ceil((omega_c_meV / pi_t - 1.0) / 2.0)), 0)


def bosonic_kernel(omega_meV, a2f, temperature_K: float, n_max: int) -> np.ndarray:
    """λ(k) = 2 Σ_ω α²F(ω) ω / (ω² + (2πTk)²) Δω for k = 0..n_max−1, shape (n_max,); uniform ω grid.

    The rectangle rule of `physics.lambda_from_a2f`, so λ(0) is exactly the λ of the spectrum.
    """
    omega = np.asarray(omega_meV, dtype=float)
    weight = 2.0 * np.asarray(a2f, dtype=float) * (omega[1] - omega[0]) * omega
    nu = 2.0 * np.pi * physics.kelvin_to_mev(temperature_K) * np.arange(n_max)
    kernel = np.empty(n_max)
    step = max(1, _KERNEL_BLOCK // omega.size)  # (n_omega, step) blocks bound the memory of a long kernel
    for start in range(0, n_max, step):
        block = nu[start : start + step]
        kernel[start : start + step] = weight @ (1.0 / (omega[:, None] ** 2 + block[None, :] ** 2))
    return kernel


def _matsubara_axis(omega_meV, a2f, temperature_K: float, omega_c_meV: float):
    """(N, πT, λ(k) for k < 2N, ω_n (N,), Z_n ω_n of the normal state (N,)) at one temperature."""
    if not temperature_K > 0:
        raise EliashbergInputError(f"temperature_K = {temperature_K!r}: the equations need T > 0")
    n = matsubara_count(temperature_K, omega_c_meV)
    if n == 0:
        raise EliashbergInputError(
            f"no Matsubara frequency below ω_c = {omega_c_meV:.4g} meV at {temperature_K:.4g} K: "
            "raise omega_c_meV"
        )
    pi_t = np.pi * physics.kelvin_to_mev(temperature_K)
    lam = bosonic_kernel(omega_meV, a2f, temperature_K, 2 * n)
    omega_n = pi_t * (2 * np.arange(n) + 1)
    return n, pi_t, lam, omega_n, omega_n + pi_t * (2.0 * np.cumsum(lam[:n]) - lam[0])


def _folded_product(lam: np.ndarray, n: int):
    """x ↦ Σ_{m<N} [λ(n−m) + parity·λ(n+m+1)] x_m, n < N, by FFT.

    That is Σ_{m=−N..N−1} λ(|n−m|) x_m over the extension x_{−m−1} = parity·x_m (even gap: +1; the odd
    ω_m/R_m of Z: −1): one symmetric-Toeplitz product of size 2N on a circulant of length ≥ 4N − 1.
    """
    length = fft.next_fast_len(4 * n - 1, real=True)
    circulant = np.zeros(length)
    circulant[: 2 * n] = lam
    circulant[length - 2 * n + 1 :] = lam[:0:-1]
    circulant_hat = fft.rfft(circulant)

    def product(x, parity=1.0):
        extended = np.concatenate([parity * x[::-1], x])
        return fft.irfft(circulant_hat * fft.rfft(extended, length), length)[n : 2 * n]

    return product


def gap_eigenvalue(omega_meV, a2f, temperature_K: float, mu_star_c: float, omega_c_meV: float) -> float:
    """Largest eigenvalue ρ(T) of the linearised gap equation (module docstring); Tc is where ρ = 1.

    `a2f` must be non-negative on a uniform grid of ω > 0 (see `check_spectrum`); `mu_star_c` is the
    μ* at the cutoff `omega_c_meV` (see `mu_star_at_cutoff`).
    """
    n, pi_t, lam, _, z_omega = _matsubara_axis(omega_meV, a2f, temperature_K, omega_c_meV)
    s = np.sqrt(pi_t / z_omega)
    if n <= _DENSE_BELOW:
        index = np.arange(n)
        kernel = lam[np.abs(index[:, None] - index[None, :])] + lam[index[:, None] + index[None, :] + 1]
        b = s[:, None] * (kernel - 2.0 * mu_star_c) * s[None, :]
        return float(np.linalg.eigvalsh(b)[-1])
    folded = _folded_product(lam, n)

    def apply(x):
        sx = s * x.ravel()
        return s * (folded(sx) - 2.0 * mu_star_c * sx.sum())

    operator = LinearOperator((n, n), matvec=apply, dtype=float)
    return float(eigsh(operator, k=1, which="LA", v0=s, tol=1e-10, return_eigenvectors=False)[0])


def _prepared(omega_meV, a2f, mu_star, omega_c_meV, max_negative_fraction, first_bin):
    """(checked spectrum, ω_c, μ*(ω_c)) with the default cutoff and the μ* conversion of this module."""
    spectrum = check_spectrum(omega_meV, a2f, max_negative_fraction, first_bin)
    omega_c = CUTOFF_FACTOR * spectrum.omega_max_meV if omega_c_meV is None else float(omega_c_meV)
    if not omega_c > spectrum.omega_max_meV:
        raise EliashbergInputError(
            f"omega_c_meV = {omega_c:.4g} is not above the top phonon frequency "
            f"{spectrum.omega_max_meV:.4g} meV: the cutoff must lie well above the spectrum "
            f"(default {CUTOFF_FACTOR:g} × ω_max)"
        )
    return spectrum, omega_c, mu_star_at_cutoff(mu_star, spectrum.omega_max_meV, omega_c)


def eliashberg_tc(
    omega_meV,
    a2f,
    mu_star: float = physics.DEFAULT_MU_STAR,
    omega_c_meV: float | None = None,
    lowest_temperature_K: float = LOWEST_TEMPERATURE_K,
    max_negative_fraction: float = MAX_NEGATIVE_FRACTION,
    first_bin: int = 0,
) -> EliashbergTc:
    """Tc (K) of the isotropic Eliashberg equations for α²F(ω) (shape (n_omega,), uniform ω grid in meV).

    `mu_star` is on the Allen–Dynes scale (referred to ω_max) and is moved to the cutoff `omega_c_meV`
    (default CUTOFF_FACTOR × ω_max) by `mu_star_at_cutoff`. The root of ρ(T) = 1 is bracketed from the
    Allen–Dynes estimate within [lowest_temperature_K, upper bound] and found by Brent's method to a
    relative 1e-5. If ρ < 1 at `lowest_temperature_K`, tc_K is None and below_K says Tc lies below it.
    `first_bin` as in `check_spectrum` (1 for the 51-bin model grid, like `physics.model_grid_moments`).
    Raises EliashbergInputError for an unusable spectrum or parameter, or when Tc is too high for the
    cutoff (fewer than MIN_MATSUBARA frequencies below ω_c at the upper bound).
    """
    spectrum, omega_c, mu_c = _prepared(
        omega_meV, a2f, mu_star, omega_c_meV, max_negative_fraction, first_bin
    )
    if not lowest_temperature_K > 0:
        raise EliashbergInputError(f"lowest_temperature_K = {lowest_temperature_K!r} must be positive")

    def rho_minus_one(temperature_K):
        return gap_eigenvalue(spectrum.omega_meV, spectrum.a2f, temperature_K, mu_c, omega_c) - 1.0

    def result(tc_K, below_K, reason, temperature_K):
        return EliashbergTc(
            tc_K=tc_K,
            below_K=below_K,
            reason=reason,
            mu_star=mu_star,
            mu_star_c=mu_c,
            omega_ref_meV=spectrum.omega_max_meV,
            omega_c_meV=omega_c,
            lambda_=spectrum.lambda_,
            negative_fraction=spectrum.negative_fraction,
            n_matsubara=matsubara_count(temperature_K, omega_c),
        )

    d_omega = spectrum.omega_meV[1] - spectrum.omega_meV[0]
    lambda_omega2 = 2.0 * np.sum(spectrum.a2f * spectrum.omega_meV) * d_omega  # λ⟨ω²⟩, meV²
    bound_K = physics.mev_to_kelvin(UPPER_BOUND_FACTOR * np.sqrt(lambda_omega2))
    high_K = min(bound_K, physics.mev_to_kelvin(omega_c / (np.pi * (2 * MIN_MATSUBARA - 1))))
    if high_K <= lowest_temperature_K:
        raise EliashbergInputError(
            f"the upper bound {high_K:.4g} K is not above lowest_temperature_K = "
            f"{lowest_temperature_K:.4g} K: raise omega_c_meV or lower lowest_temperature_K"
        )
    # Start from Allen–Dynes: the bracket then costs two or three solves instead of a walk from the ends.
    moments = physics.moments_from_a2f(spectrum.omega_meV, spectrum.a2f)
    guess_K = physics.allen_dynes_tc(moments.lambda_, moments.omega_log_K, moments.omega_2_K, mu_star)
    start_K = float(np.clip(guess_K, lowest_temperature_K, high_K))
    low, high = _bracket(rho_minus_one, start_K, lowest_temperature_K, high_K)
    if low is None:
        reason = f"largest gap eigenvalue < 1 at the lowest temperature solved, {lowest_temperature_K:g} K"
        return result(None, lowest_temperature_K, reason, lowest_temperature_K)
    if high is None:
        raise EliashbergInputError(
            f"Tc is above {high_K:.4g} K, where fewer than {MIN_MATSUBARA} Matsubara frequencies lie below "
            f"ω_c = {omega_c:.4g} meV: raise omega_c_meV"
        )
    tc_K = float(brentq(rho_minus_one, low, high, rtol=_RTOL_K))
    return result(tc_K, None, "", tc_K)


@dataclass(frozen=True, eq=False)  # holds arrays
class MatsubaraGap:
    """The non-linear isotropic Eliashberg equations solved at one temperature.

    omega_n_meV, delta_meV, z: (N,) positive Matsubara frequencies below ω_c, Δ(iω_n) and Z(iω_n);
    delta_meV is exactly 0 in the normal state (the equations' solution above Tc). iterations: the
    fixed-point iterations it took.
    """

    temperature_K: float
    omega_n_meV: np.ndarray
    delta_meV: np.ndarray
    z: np.ndarray
    mu_star_c: float
    omega_c_meV: float
    iterations: int

    @property
    def delta_0_meV(self) -> float:
        """Δ(iπT), the gap to plot against T: → 0 at Tc, → the gap edge Δ(0) at low T and weak coupling."""
        return float(self.delta_meV[0])


def matsubara_gap(
    omega_meV,
    a2f,
    temperature_K: float,
    mu_star: float = physics.DEFAULT_MU_STAR,
    omega_c_meV: float | None = None,
    max_negative_fraction: float = MAX_NEGATIVE_FRACTION,
    first_bin: int = 0,
    tolerance: float = 1e-10,
    max_iterations: int = 20000,
) -> MatsubaraGap:
    """Δ(iω_n) and Z(iω_n) of the non-linear equations at `temperature_K` (same inputs as `eliashberg_tc`).

        Z_n = 1 + (πT/ω_n) Σ_m λ(n−m) ω_m/R_m,   Z_n Δ_n = πT Σ_{|ω_m|<ω_c} [λ(n−m) − μ*(ω_c)] Δ_m/R_m,
        R_m = sqrt(ω_m² + Δ_m²).

    Z's sum runs over all m: its exact normal-state part plus the correction (ω_m/R_m − 1) inside ω_c
    (Δ_m ≪ ω_m beyond). Fixed-point iteration from Δ = ω_max/20 until the largest change is below
    `tolerance` × max|Δ|; when Δ falls below `tolerance` × its start the state is normal (Δ = 0).
    Convergence slows as T → Tc; raises EliashbergConvergenceError after `max_iterations`.
    """
    spectrum, omega_c, mu_c = _prepared(
        omega_meV, a2f, mu_star, omega_c_meV, max_negative_fraction, first_bin
    )
    n, pi_t, lam, omega_n, z_omega_normal = _matsubara_axis(
        spectrum.omega_meV, spectrum.a2f, temperature_K, omega_c
    )
    folded = _folded_product(lam, n)
    start = spectrum.omega_max_meV / 20.0
    delta = np.full(n, start)
    for iteration in range(1, max_iterations + 1):
        inverse_r = 1.0 / np.hypot(omega_n, delta)
        z = (z_omega_normal + pi_t * folded(omega_n * inverse_r - 1.0, parity=-1.0)) / omega_n
        phi = delta * inverse_r
        new = pi_t * (folded(phi) - 2.0 * mu_c * phi.sum()) / z
        change = np.max(np.abs(new - delta))
        delta = new
        if np.max(np.abs(delta)) < tolerance * start:
            delta = np.zeros(n)
            break
        if change <= tolerance * np.max(np.abs(delta)):
            break
    else:
        raise EliashbergConvergenceError(
            f"the gap equations did not converge in {max_iterations} iterations at {temperature_K:.4g} K "
            "(critical slowing down near Tc): solve a little further from Tc or raise max_iterations"
        )
    return MatsubaraGap(
        temperature_K=float(temperature_K),
        omega_n_meV=omega_n,
        delta_meV=delta,
        z=z,
        mu_star_c=mu_c,
        omega_c_meV=omega_c,
        iterations=iteration,
    )


def _bracket(f, start_K: float, low_K: float, high_K: float, factor: float = 1.5):
    """(T_lo, T_hi) with f(T_lo) > 0 ≥ f(T_hi), walking geometrically from `start_K` within [low_K, high_K].

    (None, T) when f ≤ 0 down to low_K (Tc below low_K); (T, None) when f > 0 up to high_K.
    """
    t = start_K
    if f(t) > 0:
        while t < high_K:
            above = min(t * factor, high_K)
            if f(above) <= 0:
                return t, above
            t = above
        return t, None
    while t > low_K:
        below = max(t / factor, low_K)
        if f(below) > 0:
            return below, t
        t = below
    return None, t
