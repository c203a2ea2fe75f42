"""Dynamic stability from the coarse phonons, with phonopy as an independent reader of q2r.x's
force constants: the dense-mesh lowest frequency and a cross-check of matdyn's per-site DOS.

phonopy gives right frequencies from q2r.x force constants only with `calculator='qe'` and the cell
in bohr (checked on fcc Al: 40.7 meV vs matdyn's 40.86 meV); without it, it is off ~7× silently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from betenet.physics import BOHR_TO_ANGSTROM, THZ_TO_MEV
from betenet.store.documents import PhononDosData, StabilityData

Grid = tuple[int, int, int]


def phonopy_from_q2r(structure: Structure, force_constants: str | Path):
    """A Phonopy object holding q2r.x's real-space force constants for `structure`."""
    from phonopy import Phonopy
    from phonopy.interface.qe import PH_Q2R
    from phonopy.structure.atoms import PhonopyAtoms

    cell = PhonopyAtoms(
        symbols=[site.specie.symbol for site in structure],
        cell=np.asarray(structure.lattice.matrix) / BOHR_TO_ANGSTROM,
        scaled_positions=structure.frac_coords,
    )
    q2r = PH_Q2R(str(force_constants))
    q2r.run(cell)
    phonon = Phonopy(cell, supercell_matrix=np.diag(q2r.dimension), primitive_matrix="P", calculator="qe")
    phonon.force_constants = q2r.fc
    return phonon


def phonopy_check(structure: Structure, force_constants: str | Path, mesh: Grid,
                  matdyn_dos: PhononDosData | None) -> tuple[float, float | None]:
    """(lowest frequency on the dense mesh in meV, max |Δ| of per-site DOS fractions vs matdyn)."""
    phonon = phonopy_from_q2r(structure, force_constants)
    phonon.run_mesh(list(mesh), with_eigenvectors=True, is_mesh_symmetry=False)
    lowest_meV = float(np.min(phonon.mesh.frequencies)) * THZ_TO_MEV
    deviation = None
    if matdyn_dos is not None:
        phonon.run_projected_dos()
        pdos = np.asarray(phonon.projected_dos.projected_dos)  # (n_atoms, n_freq)
        ours = pdos.sum(axis=1) / pdos.sum()
        theirs = np.trapezoid(np.asarray(matdyn_dos.projected_states_per_meV), matdyn_dos.omega_meV, axis=1)
        theirs = theirs / theirs.sum()
        deviation = float(np.max(np.abs(ours - theirs)))
    return lowest_meV, deviation


def dos_lowest_meV(dos: PhononDosData) -> float:
    """Lowest frequency of a matdyn DOS: its axis starts at the mesh's lowest frequency (or 0)."""
    return float(dos.omega_meV[0])


def stability_verdict(structure: Structure, *, ph_lowest_meV: float | None, matdyn_dos: PhononDosData,
                      force_constants: str | Path, qgrid: Grid, threshold_meV: float,
                      phonopy_mesh: Grid | None, gamma_acoustic_meV: float | None = None) -> StabilityData:
    """Stable when no frequency (ph.x q-points, matdyn DOS support, phonopy mesh) < −threshold."""
    candidates = [dos_lowest_meV(matdyn_dos)]
    if ph_lowest_meV is not None:
        candidates.append(ph_lowest_meV)
    phonopy_lowest = deviation = None
    if phonopy_mesh is not None:
        phonopy_lowest, deviation = phonopy_check(structure, force_constants, phonopy_mesh, matdyn_dos)
        candidates.append(phonopy_lowest)
    lowest = float(min(candidates))
    return StabilityData(
        stable=lowest >= -threshold_meV, lowest_frequency_meV=lowest, threshold_meV=threshold_meV,
        qgrid=tuple(qgrid), ph_lowest_frequency_meV=ph_lowest_meV,
        phonopy_mesh=tuple(phonopy_mesh) if phonopy_mesh else None,
        phonopy_lowest_frequency_meV=phonopy_lowest, phonopy_pdos_max_deviation=deviation,
        gamma_acoustic_meV=gamma_acoustic_meV,
    )


def confirm_on_elph_grid(verdict: StabilityData, fine_dos: PhononDosData) -> StabilityData:
    """The coarse verdict, revoked when the el-ph q-grid's force constants interpolate to imaginary modes
    (fcc Pb, fast preset: stable on 2×2×2, −4.9 meV on 3×3×3); QE's α²F is then meaningless (λ < 0)."""
    lowest = dos_lowest_meV(fine_dos)
    return verdict.model_copy(update={
        "stable": verdict.stable and lowest >= -verdict.threshold_meV,
        "elph_qgrid": tuple(fine_dos.qgrid), "elph_lowest_frequency_meV": lowest,
    })


def unstable_reason(verdict: StabilityData) -> str:
    """The document's status_reason for an unstable verdict: how imaginary, and on which q-grid."""
    if verdict.elph_lowest_frequency_meV is not None and verdict.elph_lowest_frequency_meV < -verdict.threshold_meV:
        return (f"imaginary modes on the el-ph {verdict.elph_qgrid} q-grid: lowest frequency "
                f"{verdict.elph_lowest_frequency_meV:.2f} meV below −{verdict.threshold_meV} meV (the coarse "
                f"{verdict.qgrid} grid passed at {verdict.lowest_frequency_meV:.2f} meV); no α²F stored")
    return (f"imaginary modes: lowest frequency {verdict.lowest_frequency_meV:.2f} meV below "
            f"−{verdict.threshold_meV} meV on the coarse {verdict.qgrid} q-grid")
