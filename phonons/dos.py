"""Force constants (a Phonopy object) → the phonon DOS the store and the model read.

One function for every source of force constants, so that an interatomic potential's phonons and DFT's
are processed identically: phonopy's linear tetrahedron method on a Γ-centred mesh, total and per-site
(projected on each atom of the unit cell, in its order), on matdyn.x's frequency axis (`ndos` points
from min(0, lowest mesh frequency) to the highest), in states/meV. The result is the store's
`PhononDosData`, which `dataset.build.site_phdos_rows` puts onto the 51 model bins (`to_model_grid`).
Fed q2r.x's force constants it reproduces matdyn's stored coarse PhDOS on the 51 bins to about 1–2 %
of the spectrum (tests/test_phonons_dos.py): the two tetrahedron codes differ a little, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from betenet.physics import THZ_TO_MEV
from betenet.qe.matdyn import DEFAULT_NDOS
from betenet.store.documents import PhononDosData

Grid = tuple[int, int, int]


@dataclass(frozen=True)
class LowestMode:
    """The lowest phonon frequency on a mesh (negative: imaginary) and where it is."""

    frequency_meV: float
    q_crystal: tuple[float, float, float]
    branch: int  # 0-based, ascending at that q
    mesh: Grid


def site_labels_of(phonon) -> list[str]:
    """'Mg1', 'B2', …: species + 1-based index of the unit cell's atoms (the workflow's labels)."""
    return [f"{symbol}{i}" for i, symbol in enumerate(phonon.primitive.symbols, start=1)]


def phonon_dos(phonon, mesh: Grid, n_points: int = DEFAULT_NDOS) -> PhononDosData:
    """Total and per-site DOS of `phonon`'s force constants on a `mesh` (tetrahedra), matdyn's axis."""
    phonon.run_mesh(list(mesh), with_eigenvectors=True, is_mesh_symmetry=False, is_gamma_center=True)
    frequencies_THz = np.asarray(phonon.mesh.frequencies)
    if not np.all(np.isfinite(frequencies_THz)) or float(frequencies_THz.max()) <= 0.0:
        raise ValueError(f"the force constants give no phonon spectrum (highest frequency "
                         f"{np.nanmax(frequencies_THz) * THZ_TO_MEV:.3g} meV): zero forces, e.g. from a potential whose "
                         "cutoff is shorter than the nearest-neighbour distance (SevenNet-0's 5 Å in bcc Cs)")
    low, high = min(0.0, float(frequencies_THz.min())), float(frequencies_THz.max())
    pitch = (high - low) / (n_points - 1)
    axis = {"freq_min": low, "freq_max": high, "freq_pitch": pitch, "use_tetrahedron_method": True}
    phonon.run_projected_dos(**axis)
    phonon.run_total_dos(**axis)  # its own tetrahedron sum, not the projections added up
    omega_meV = np.asarray(phonon.projected_dos.frequency_points)[:n_points] * THZ_TO_MEV
    projected = np.asarray(phonon.projected_dos.projected_dos)[:, :n_points] / THZ_TO_MEV
    total = np.asarray(phonon.total_dos.dos)[:n_points] / THZ_TO_MEV
    return PhononDosData(
        omega_meV=omega_meV.tolist(), total_states_per_meV=total.tolist(),
        projected_states_per_meV=projected.tolist(), site_labels=site_labels_of(phonon),
        qgrid=tuple(int(n) for n in np.diag(phonon.supercell_matrix)), dos_grid=tuple(mesh),
    )


def lowest_mode(phonon, mesh: Grid) -> LowestMode:
    """The lowest frequency on a Γ-centred `mesh` and its q-point (crystal coordinates) and branch."""
    phonon.run_mesh(list(mesh), is_mesh_symmetry=False, is_gamma_center=True)
    frequencies_meV = np.asarray(phonon.mesh.frequencies) * THZ_TO_MEV
    q_index, branch = np.unravel_index(int(np.argmin(frequencies_meV)), frequencies_meV.shape)
    q = np.asarray(phonon.mesh.qpoints)[q_index]
    return LowestMode(float(frequencies_meV[q_index, branch]), tuple(float(x) for x in q), int(branch), tuple(mesh))
