"""k- and q-point grids from a linear density in Å⁻¹.

Rule: n_i = max(1, ceil(density · |b_i| / 2π)), with |b_i| the reciprocal lattice vector length
including 2π. So `density` is the number of grid points per unit of |b_i|/2π = 1/d_i (Å⁻¹), i.e.
a real-space length in Å: the grid spacing along b_i is at most 2π/density Å⁻¹. The seed's
settings are ≈ 40 for k and ≈ 15 for q. A tolerance of 1e-6 keeps float noise from adding a point
(density · |b_i|/2π = 4.0000000001 gives 4, not 5).
"""

from __future__ import annotations

import math

from betenet.physics import BOHR_TO_ANGSTROM
from betenet.qe.structure import as_cell

Grid = tuple[int, int, int]
_ROUNDING_TOLERANCE = 1e-6


def kgrid_from_density(structure, density_invA: float) -> Grid:
    """Monkhorst–Pack divisions (n1, n2, n3) for a pymatgen Structure or ASE Atoms."""
    if not density_invA > 0:
        raise ValueError(f"grid density must be > 0 (points per Å⁻¹), got {density_invA!r}")
    lengths = as_cell(structure).reciprocal_lengths_invA
    return tuple(
        max(1, math.ceil(density_invA * length / (2.0 * math.pi) - _ROUNDING_TOLERANCE))
        for length in lengths
    )


def elph_grids(structure, k_density_invA: float, q_density_invA: float) -> tuple[Grid, Grid]:
    """(k-grid, q-grid) for an electron-phonon run: each k_i rounded up to a multiple of q_i.

    ph.x's `electron_phonon='interpolated'` needs every q to map k-points onto k-points, hence
    k_i = m·q_i. The k-grid is never made coarser than its density asks.
    """
    qgrid = kgrid_from_density(structure, q_density_invA)
    kgrid = kgrid_from_density(structure, k_density_invA)
    kgrid = tuple(q * max(1, math.ceil(k / q)) for k, q in zip(kgrid, qgrid))
    return kgrid, qgrid


def _smooth_235(n: int) -> int:
    """The smallest m ≥ n whose only prime factors are 2, 3, 5 (sizes every FFT library runs fast)."""
    m = n
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


def symmetric_fft_grid(structure, ecut_Ry: float, symprec: float = 1e-3) -> Grid | None:
    """An FFT grid for a density cutoff `ecut_Ry` that every rotation of the crystal maps onto itself, or None when
    the grid pw.x chooses on its own already is.

    pw.x sizes each direction from the largest Miller index of a G-vector inside the cutoff along a_i,
    |m_i| ≤ √ecut · |a_i| / 2π (bohr units), so lattice vectors of different length get different sizes. ph.x then
    stops in phq_setup ("FFT grid incompatible with symmetry") wherever a rotation mixes a_i into a_j: bct In's
    QE cell at ecutrho 560 Ry (the remedy ladder's doubled cutoff) got (48, 48, 50). Directions that a rotation
    couples get the largest of their bounds, rounded up to a 2·3·5-smooth size."""
    import numpy as np
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    lengths_bohr = np.asarray(structure.lattice.abc) / BOHR_TO_ANGSTROM
    bounds = [_smooth_235(2 * math.floor(math.sqrt(ecut_Ry) * a / (2 * math.pi)) + 1) for a in lengths_bohr]
    group = list(range(3))  # union of directions that some rotation mixes

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for op in SpacegroupAnalyzer(structure, symprec=symprec).get_symmetry_operations(cartesian=False):
        rotation = np.rint(op.rotation_matrix).astype(int)
        for i in range(3):
            for j in range(3):
                if i != j and rotation[i, j]:
                    group[root(i)] = root(j)
    grid = tuple(max(bounds[j] for j in range(3) if root(j) == root(i)) for i in range(3))
    return grid if grid != tuple(bounds) else None
