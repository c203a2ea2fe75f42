"""Checks that decide whether an EPW α²F may be trusted: Wannier band interpolation against DFT, and
the sign of the interpolated phonon frequencies.

Band check: the Wannier Hamiltonian (`<prefix>_hr.dat`) is Fourier-interpolated at k-points halfway
between the coarse-grid points (where interpolation errors peak) and compared with pw.x eigenvalues
there. Inside the frozen window the two agree exactly *on* the coarse grid by construction, so only
off-grid points test the Wannierisation. Energies within `window_eV` of E_F are compared both ways
(every DFT level to its nearest Wannier level and back), which needs no band-index bookkeeping
(excluded semicore bands, disentangled bands above the window).
On fcc Al (8³ coarse k): `Al:sp3` projections miss by up to 0.18 eV within 0.5 eV of E_F,
`Al:s;p;d` by 0.015 eV.
"""

from __future__ import annotations

import numpy as np

from betenet.parsers.epw import EpwLinewidths, WannierHamiltonian
from betenet.store.documents import InterpolatedPhononCheck, WannierBandCheck  # document schema: they are stored


def wannier_eigenvalues_eV(hamiltonian: WannierHamiltonian, k_crystal: np.ndarray) -> np.ndarray:
    """Band energies (nk, n_wann) of H(k) = Σ_R e^{2πik·R} H(R)/deg(R), with Wannier90's
    Wigner–Seitz shifts when present (H_mn(R) spread over R + T, T in T_mn(R))."""
    k = np.atleast_2d(np.asarray(k_crystal, dtype=float))
    n_wann = hamiltonian.n_wann
    flat = np.zeros((len(k), n_wann * n_wann), dtype=complex)
    if hamiltonian.ws_shifts is None:
        phases = np.exp(2j * np.pi * k @ hamiltonian.lattice_vectors.T)  # (nk, n_R)
        weighted = hamiltonian.hamiltonian_eV / hamiltonian.degeneracy[:, None, None]
        flat += phases @ weighted.reshape(len(weighted), -1)
    else:
        vectors, values, slots = [], [], []
        for ir, (r, degeneracy) in enumerate(zip(hamiltonian.lattice_vectors, hamiltonian.degeneracy)):
            for m in range(n_wann):
                for n in range(n_wann):
                    shifts = hamiltonian.ws_shifts[(r[0], r[1], r[2], m + 1, n + 1)]
                    vectors.append(r + shifts)
                    values.append(np.full(len(shifts), hamiltonian.hamiltonian_eV[ir, m, n] / (degeneracy * len(shifts))))
                    slots.append(np.full(len(shifts), m * n_wann + n))
        phases = np.exp(2j * np.pi * k @ np.concatenate(vectors).T)  # (nk, n_terms)
        np.add.at(flat.T, np.concatenate(slots), (phases * np.concatenate(values)).T)
    hk = flat.reshape(len(k), n_wann, n_wann)
    return np.linalg.eigvalsh(0.5 * (hk + hk.conj().transpose(0, 2, 1)))


def compare_bands(dft_eV: np.ndarray, wannier_eV: np.ndarray, *, fermi_energy_eV: float, window_eV: float,
                  tolerance_eV: float) -> WannierBandCheck:
    """Nearest-level distances both ways for the levels within ±window_eV of E_F, per k-point."""
    dft_eV, wannier_eV = np.asarray(dft_eV, dtype=float), np.asarray(wannier_eV, dtype=float)
    if dft_eV.shape[0] != wannier_eV.shape[0]:
        raise ValueError(f"{dft_eV.shape[0]} DFT k-points vs {wannier_eV.shape[0]} Wannier k-points")
    errors = []
    for dft, wannier in zip(dft_eV, wannier_eV):
        for ours, theirs in ((dft, wannier), (wannier, dft)):
            inside = ours[np.abs(ours - fermi_energy_eV) < window_eV]
            errors += [float(np.min(np.abs(theirs - level))) for level in inside]
    if not errors:
        raise ValueError(f"no band within ±{window_eV} eV of E_F={fermi_energy_eV} eV at any check k-point")
    errors_eV = np.array(errors)
    worst = float(errors_eV.max())
    return WannierBandCheck(
        n_kpoints=len(dft_eV), fermi_energy_eV=fermi_energy_eV, window_eV=window_eV, tolerance_eV=tolerance_eV,
        n_levels_compared=len(errors_eV), max_abs_error_eV=worst, rms_error_eV=float(np.sqrt(np.mean(errors_eV**2))),
        passed=worst <= tolerance_eV,
    )


def check_interpolated_phonons(linewidths: EpwLinewidths, threshold_meV: float) -> InterpolatedPhononCheck:
    imaginary = int(np.sum(linewidths.omega_meV < -threshold_meV))
    return InterpolatedPhononCheck(
        n_qpoints=linewidths.n_qpoints, lowest_frequency_meV=linewidths.lowest_frequency_meV,
        threshold_meV=threshold_meV, n_imaginary_modes=imaginary, passed=imaginary == 0,
    )
