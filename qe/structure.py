"""One view of a crystal for the engine, whether it came as a pymatgen Structure or ASE Atoms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Cell:
    """Lattice vectors as rows (Å), element symbols per site, fractional coordinates per site."""

    lattice_A: np.ndarray  # (3, 3)
    symbols: tuple[str, ...]
    frac_coords: np.ndarray  # (n_sites, 3)

    @property
    def species(self) -> tuple[str, ...]:
        """Distinct element symbols in order of first appearance (QE's species order)."""
        return tuple(dict.fromkeys(self.symbols))

    @property
    def reciprocal_lengths_invA(self) -> np.ndarray:
        """|b_i| including the 2π factor, Å⁻¹."""
        reciprocal = 2.0 * np.pi * np.linalg.inv(self.lattice_A).T
        return np.linalg.norm(reciprocal, axis=1)


def as_cell(structure) -> Cell:
    """Cell from a pymatgen `Structure` or ASE `Atoms`; anything else is a TypeError."""
    if hasattr(structure, "lattice") and hasattr(structure, "frac_coords"):  # pymatgen
        if not structure.is_ordered:
            raise ValueError(
                f"{structure.composition.reduced_formula}: disordered structure (partial occupancies); "
                "QE needs an ordered cell — order it first (e.g. pymatgen's OrderDisorderedStructureTransformation)"
            )
        symbols = tuple(site.specie.symbol for site in structure)
        lattice = np.array(structure.lattice.matrix, dtype=float)
        frac = np.array(structure.frac_coords, dtype=float)
    elif hasattr(structure, "get_chemical_symbols") and hasattr(structure, "get_scaled_positions"):  # ASE
        if not all(structure.pbc):
            raise ValueError(f"ASE Atoms {structure.get_chemical_formula()} is not periodic in all directions")
        symbols = tuple(structure.get_chemical_symbols())
        lattice = np.array(structure.cell[:], dtype=float)
        frac = np.array(structure.get_scaled_positions(wrap=False), dtype=float)
    else:
        raise TypeError(f"expected a pymatgen Structure or ASE Atoms, got {type(structure).__name__}")
    if abs(np.linalg.det(lattice)) < 1e-8:
        raise ValueError(f"degenerate lattice (zero volume): {lattice.tolist()}")
    return Cell(lattice_A=lattice, symbols=symbols, frac_coords=frac)


def atomic_mass_amu(symbol: str) -> float:
    """Standard atomic mass (amu) of an element, from pymatgen's periodic table."""
    from pymatgen.core.periodic_table import Element

    return float(Element(symbol).atomic_mass)


def qe_symmetric_cell(structure, symprec: float = 1e-3):
    """Primitive pymatgen Structure oriented so pw.x finds the full point group.

    pw.x with ibrav=0 tests only rotations about Cartesian axes (cubic and hexagonal-about-z sets): a
    cell in an arbitrary orientation keeps too few symmetries (fcc Al from a CIF: 4 of 48), which costs
    many times more k and q points in ph.x. The spglib conventional standard cell has its axes along
    x, y, z (the 3- or 6-fold axis along z); reducing it to a primitive cell keeps that orientation.
    """
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    if not isinstance(structure, Structure):
        structure = AseAtomsAdaptor.get_structure(structure)
    conventional = SpacegroupAnalyzer(structure, symprec=symprec).get_conventional_standard_structure()
    return conventional.get_primitive_structure(tolerance=symprec)
