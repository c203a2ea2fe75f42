"""Spin physics the workflow does not compute, made explicit: magnetism and spin–orbit coupling.

- Magnetism: a structure with a magnetism-prone element first gets a collinear spin-polarised pw.x scf
  (the `magnetism` task: nspin=2, same cutoffs and k-grid as the scf). A moment above
  `magnetic_moment_threshold_muB` per magnetism-prone atom makes the material 'unsupported' (el-ph of a
  magnetic metal needs spin-polarised phonons and spin fluctuations, out of scope) and no phonons run.
- Spin–orbit coupling: the pseudopotentials are scalar-relativistic, so documents of structures with an
  element whose phonons or λ change with SOC carry the quality flag `spin_orbit_neglected`.
"""

from __future__ import annotations

from collections.abc import Iterable

from pymatgen.core import Structure

from betenet.workflows.outputs import QETaskDoc

MAGNETISM_TASK = "magnetism"  # task key of the spin-polarised check (tasks, provenance)
SPIN_ORBIT_FLAG = "spin_orbit_neglected"

# Open 3d shells that order magnetically in metals and compounds, open 4f (Ce–Yb: La is 4f⁰, Lu 4f¹⁴) and
# open 5f (U–Cm; Th is 5f⁰). Left out: V (non-magnetic as a metal and in its A15 superconductors) and Pd
# (Stoner-enhanced but non-magnetic in DFT: its paramagnons are beyond what an scf check can see).
MAGNETISM_PRONE = frozenset({
    "Cr", "Mn", "Fe", "Co", "Ni",
    "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb",
    "U", "Np", "Pu", "Am", "Cm",
})

# Heavy 6p-block elements whose p bands at the Fermi level are split by SOC, which changes the phonons and λ:
SPIN_ORBIT_SENSITIVE: dict[str, str] = {
    "Pb": "SOC softens the phonons and raises λ (Heid et al., PRB 81, 174527 (2010))",
    "Tl": "SOC changes phonons and λ, less than in Pb (Heid et al., PRB 81, 174527 (2010))",
    "Bi": "SOC is needed for the phonon dispersion (Díaz-Sánchez, Romero, Gonze, PRB 76, 104302 (2007))",
    "Hg": "6p/6s bands at E_F with a Pb-like SOC splitting (Z = 80, next to Tl)",
    "Po": "6p metal with the largest SOC splitting of the block (Z = 84)",
}

# Why 0.1 μB: a non-magnetic metal's spin-polarised scf converges to |m| ≪ 0.01 μB per atom (smearing noise),
# while the weakest itinerant magnets carry ≥ 0.1 μB per magnetic atom (Ni 0.6, ZrZn₂ ≈ 0.17 per f.u.);
# pymatgen's CollinearMagneticStructureAnalyzer likewise treats |m| < 0.1 μB as non-magnetic.
DEFAULT_MOMENT_THRESHOLD_MUB = 0.1
# QE's starting_magnetization (fraction of the valence charge, −1..1): 0.5 lands ferromagnets in their
# magnetic basin (QE's own examples start Fe, Co, Ni at 0.5–0.8) and lets a non-magnet relax to zero.
STARTING_MAGNETIZATION = 0.5


def magnetic_elements(structure: Structure) -> list[str]:
    """The structure's magnetism-prone elements, sorted (empty: no spin-polarised check runs)."""
    return sorted(el for el in structure.symbol_set if el in MAGNETISM_PRONE)


def spin_orbit_flags(elements: Iterable[str]) -> list[str]:
    """[SPIN_ORBIT_FLAG] when any element is spin–orbit sensitive, else []."""
    return [SPIN_ORBIT_FLAG] if set(elements) & SPIN_ORBIT_SENSITIVE.keys() else []


def magnetic_reason(structure: Structure, check: QETaskDoc, threshold_muB: float) -> str | None:
    """Why the material is 'unsupported' (its moment per magnetism-prone atom above the threshold), or None.

    The absolute magnetisation ∫|m| is compared, not the total ∫m: it is ≥ |total| and also catches a
    ferrimagnetic or antiparallel solution whose moments cancel in the total."""
    absolute = check.absolute_magnetization_muB
    if absolute is None:
        raise ValueError(f"spin-polarised check in {check.dir_name} printed no magnetisation: was nspin=2 set?")
    n_magnetic = sum(site.specie.symbol in MAGNETISM_PRONE for site in structure)
    per_atom = absolute / n_magnetic
    if per_atom <= threshold_muB:
        return None
    return (f"magnetic: the spin-polarised scf's absolute magnetisation is {per_atom:.2f} μB per "
            f"{'/'.join(magnetic_elements(structure))} atom (total {check.total_magnetization_muB:.2f} μB per cell) > "
            f"magnetic_moment_threshold_muB={threshold_muB:g}; el-ph of magnetic metals is out of scope")
