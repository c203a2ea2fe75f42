"""What to predict for: structure files / folders, or documents from the store.

Every input becomes a `Candidate` (id, atoms, optional site PhDOS on the model grid, optional DFT
labels and α²F) or a `Rejected` (id, reason) — a file that cannot be read, an empty or disordered
structure. Nothing is dropped silently: the screening report lists every rejected input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from betenet.structure_files import unreadable_reason

# Files a folder scan picks up (ASE reads each by extension or content).
STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar", ".xyz", ".extxyz", ".json", ".pwi", ".in")
STRUCTURE_NAMES = ("POSCAR", "CONTCAR")


@dataclass
class Candidate:
    """One structure to predict for. `site_phdos` maps 'cpd'/'fpd' → (n_atoms, 51) arrays."""

    id: str
    atoms: Any  # ase.Atoms
    source: str
    site_phdos: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, float | None] | None = None  # DFT λ, ω_log, ω₂, Tc (AD, Eliashberg) on the model grid
    dft_a2f: np.ndarray | None = None  # DFT α²F on the model grid, for plots
    calc_id: str | None = None  # the store document it came from / was matched to

    @property
    def formula(self) -> str:
        return self.atoms.get_chemical_formula(mode="hill", empirical=False)


@dataclass(frozen=True)
class Rejected:
    id: str
    source: str
    reason: str


def expand_paths(paths: Iterable[Path | str]) -> tuple[list[Path], list[Rejected]]:
    """Files named directly, plus the structure files inside named folders (sorted, not recursive)."""
    files, missing = [], []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted((p for p in path.iterdir() if p.is_file() and _looks_like_structure(p)),
                           key=_natural_key)
            if not found:
                missing.append(Rejected(str(path), str(path), "folder holds no structure files "
                                        f"({', '.join(STRUCTURE_SUFFIXES)}, POSCAR, CONTCAR)"))
            files += found
        elif path.is_file():
            files.append(path)
        else:
            missing.append(Rejected(str(path), str(path), "no such file or folder"))
    return files, missing


def _looks_like_structure(path: Path) -> bool:
    return path.suffix.lower() in STRUCTURE_SUFFIXES or path.name.split(".")[0] in STRUCTURE_NAMES


def _natural_key(path: Path):
    stem = path.stem
    return (0, int(stem), "") if stem.isdigit() else (1, 0, stem)


def read_structure_files(paths: Iterable[Path | str]) -> tuple[list[Candidate], list[Rejected]]:
    """Candidates from files/folders; ids are file stems (made unique with the parent folder if needed)."""
    from ase.io import read

    files, rejected = expand_paths(paths)
    stems = [f.stem for f in files]
    candidates = []
    for path in files:
        ident = path.stem if stems.count(path.stem) == 1 else f"{path.parent.name}/{path.stem}"
        try:
            atoms = read(path)
        except Exception as err:  # ASE raises many types for unreadable files; the reason is what matters
            rejected.append(Rejected(ident, str(path), f"cannot read the structure: {unreadable_reason(path, err)}; "
                                     "give a CIF or POSCAR file"))
            continue
        problem = structure_problem(atoms)
        if problem:
            rejected.append(Rejected(ident, str(path), problem))
            continue
        candidates.append(Candidate(id=ident, atoms=atoms, source=str(path)))
    return candidates, rejected


def structure_problem(atoms) -> str | None:
    """Why `atoms` cannot be featurised as a periodic crystal (None when it can)."""
    if len(atoms) == 0:
        return "structure has no atoms"
    if not all(atoms.pbc) or atoms.cell.rank < 3:
        return "not a periodic 3-D crystal (the file gives no full unit cell)"
    occupancy = atoms.info.get("occupancy")
    if occupancy and any(sum(site.values()) < 0.999 or len(site) > 1 for site in occupancy.values()):
        return "disordered or partially occupied sites (the model needs an ordered cell)"
    if atoms.cell.volume < 1e-6:
        return "unit cell has zero volume"
    return None


def candidate_from_record(record, atoms, source: str, calc_id: str | None) -> Candidate:
    """A candidate carrying a dataset record's site PhDOS, DFT labels and α²F (all on the model grid)."""
    from betenet.model.variants import SITE_PHDOS_FIELDS

    labels = {"lambda": record.lambda_, "omega_log_K": record.omega_log_K, "omega_2_K": record.omega_2_K,
              "tc_K": record.tc_K, "tc_eliashberg_K": record.tc_eliashberg_K}
    return Candidate(
        id=record.id, atoms=atoms, source=source,
        site_phdos={name: np.asarray(rows) for name in SITE_PHDOS_FIELDS if (rows := getattr(record, name)) is not None},
        labels=labels if any(v is not None for v in labels.values()) else None,
        dft_a2f=np.asarray(record.a2f) if record.a2f is not None else None, calc_id=calc_id,
    )


def candidates_from_documents(docs) -> list[Candidate]:
    """Candidates from ElectronPhononDocs, with site PhDOS, DFT labels and α²F on the model grid."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from betenet.dataset.build import record_from_document

    return [candidate_from_record(record_from_document(doc), AseAtomsAdaptor.get_atoms(doc.structure),
                                  f"store document {doc.calc_id}", doc.calc_id) for doc in docs]
