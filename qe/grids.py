"""k- and q-point grids from a linear density in Å⁻¹.

Rule: n_i = max(1, ceil(density · |b_i| / 2π)), with |b_i| the reciprocal lattice vector length
including 2π. So `density` is the number of grid points per unit of |b_i|/2π = 1/d_i (Å⁻¹), i.e.
a real-space length in Å: the grid spacing along b_i is at most 2π/density Å⁻¹. The seed's
settings are ≈ 40 for k and ≈ 15 for q. A tolerance of 1e-6 keeps float noise from adding a point
(density · |b_i|/2π = 4.0000000001 gives 4, not 5).
"""

from __future__ import annotations

import math

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
