"""Structure → phonons from a universal interatomic potential: phonopy finite displacements.

    supercell      the smallest diagonal multiple of the unit cell whose every lattice vector is at least
                   `supercell_min_length_A` (10 Å: 4×4×4 for primitive fcc Al or bcc Nb, 3×3×3 for the alkali metals, 4×4×3 for MgB₂)
    displacement   `displacement_A` = 0.03 Å: CHGNet's forces are too coarse for phonopy's usual 0.01 Å
                   (DESIGN.md); SevenNet-0's frequencies change by < 0.1 meV between the two
    force constants phonopy's, symmetrised (translational sum rule), from its symmetry-reduced displacements
    DOS            `phonons.dos.phonon_dos` on `dos_mesh` (12³, 200 points: what preset `fast` gives matdyn,
                   and so the campaign's coarse PhDOS): the same path as q2r.x's force constants; 20³ (preset
                   `production`) costs 4–6× the tetrahedron time (≈ 4 s for one atom) and changes the 51 bins
                   by 0.6–1.6 % (L1; SevenNet-0 Al, Nb, Pb)
    lowest mode    on `lowest_mesh` (16³) and its q-point

The unit cell is used as given (no primitive search), so the per-site rows follow the structure's sites.
Results are cached per structure and settings as JSON under `cache_dir` (default
`BETENET_HOME/mlip-phonons/<potential>/`): the potential is deterministic, so a cached result is the result.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from betenet.phonons.dos import Grid, LowestMode, lowest_mode, phonon_dos
from betenet.phonons.potentials import DEFAULT_POTENTIAL, require_package
from betenet.settings import get_settings
from betenet.store.documents import PhononDosData

CACHE_FORMAT = 1


@dataclass(frozen=True)
class PhononSettings:
    """The documented knobs of an MLIP phonon calculation (part of the cache key)."""

    potential: str = DEFAULT_POTENTIAL
    supercell_min_length_A: float = 10.0
    displacement_A: float = 0.03
    dos_mesh: Grid = (12, 12, 12)
    dos_points: int = 200
    lowest_mesh: Grid = (16, 16, 16)


@dataclass(frozen=True)
class MlipPhonons:
    """What a potential says about one structure's phonons."""

    potential: str  # registry name, e.g. "sevennet-0"
    potential_version: str  # its package and version, e.g. "sevenn 0.13.0"
    settings: PhononSettings
    supercell: Grid
    n_displacements: int
    dos: PhononDosData
    lowest: LowestMode
    wall_s: float  # of the force evaluations and phonopy, when computed (not when read from the cache)

    def to_json(self) -> dict:
        return {"format": CACHE_FORMAT, "potential": self.potential, "potential_version": self.potential_version,
                "settings": asdict(self.settings), "supercell": list(self.supercell),
                "n_displacements": self.n_displacements, "dos": self.dos.model_dump(mode="json"),
                "lowest": asdict(self.lowest), "wall_s": self.wall_s}

    @classmethod
    def from_json(cls, obj: dict) -> "MlipPhonons":
        settings = {k: tuple(v) if isinstance(v, list) else v for k, v in obj["settings"].items()}
        lowest = {**obj["lowest"], "q_crystal": tuple(obj["lowest"]["q_crystal"]), "mesh": tuple(obj["lowest"]["mesh"])}
        return cls(obj["potential"], obj["potential_version"], PhononSettings(**settings), tuple(obj["supercell"]),
                   obj["n_displacements"], PhononDosData.model_validate(obj["dos"]), LowestMode(**lowest),
                   obj["wall_s"])


def supercell_for(lattice_lengths_A: Iterable[float], min_length_A: float) -> Grid:
    """Diagonal multiples making every lattice vector at least `min_length_A` long."""
    return tuple(max(1, math.ceil(min_length_A / length - 1e-9)) for length in lattice_lengths_A)


class MlipPhononCalculator:
    """Phonons of structures from one potential (its ASE calculator loaded once), cached per structure.

    `calculator`: any ASE calculator to use instead of the registry's (the potential's name then only
    labels the results and the cache)."""

    def __init__(self, settings: PhononSettings = PhononSettings(), *, calculator=None,
                 cache_dir: Path | str | None = None):
        self.settings = settings
        self._potential = require_package(settings.potential)
        self.potential_version = self._potential.version
        self._calculator = calculator
        self.cache_dir = Path(cache_dir) if cache_dir is not None else \
            get_settings().home / "mlip-phonons" / settings.potential

    @property
    def calculator(self):
        if self._calculator is None:
            self._calculator = self._potential.calculator()
        return self._calculator

    def cache_path(self, atoms) -> Path:
        payload = json.dumps({"cell": np.round(atoms.cell[:], 6).tolist(), "symbols": atoms.get_chemical_symbols(),
                              "frac": np.round(atoms.get_scaled_positions(wrap=True), 6).tolist(),
                              "settings": asdict(self.settings), "version": self.potential_version},
                             sort_keys=True)
        return self.cache_dir / f"{hashlib.sha256(payload.encode()).hexdigest()[:24]}.json"

    def phonons(self, structure) -> MlipPhonons:
        """The potential's phonons of one structure (pymatgen Structure or ase.Atoms), from the cache if there."""
        atoms = _as_atoms(structure)
        path = self.cache_path(atoms)
        if path.is_file():
            return MlipPhonons.from_json(json.loads(path.read_text()))
        result = self._compute(atoms)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(result.to_json()))
        partial.replace(path)
        return result

    def phonons_of_all(self, structures, names: list[str], *, progress: bool = True) -> list[MlipPhonons]:
        """`phonons` for each structure, with a progress bar on the terminal for batches; a structure the
        potential gives no phonons for is a ValueError naming it (`names`, one per structure)."""
        from rich.progress import track

        structures = list(structures)
        results = []
        for structure, name in track(zip(structures, names), total=len(structures), transient=True,
                                     description=f"phonons from {self.settings.potential}",
                                     disable=not progress or len(structures) < 2):
            try:
                results.append(self.phonons(structure))
            except ValueError as err:
                raise ValueError(f"{name}: {self.settings.potential}: {err}") from err
        return results

    def phonopy_object(self, atoms):
        """The Phonopy object holding the potential's force constants for `atoms` (not cached)."""
        from ase import Atoms
        from phonopy import Phonopy
        from phonopy.structure.atoms import PhonopyAtoms

        unit_cell = PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=np.asarray(atoms.cell[:]),
                                 scaled_positions=atoms.get_scaled_positions(wrap=True))
        supercell = supercell_for(atoms.cell.lengths(), self.settings.supercell_min_length_A)
        phonon = Phonopy(unit_cell, supercell_matrix=np.diag(supercell), primitive_matrix="P")  # the cell as given: rows follow its sites
        phonon.generate_displacements(distance=self.settings.displacement_A)
        forces = []
        for displaced in phonon.supercells_with_displacements:
            cell = Atoms(displaced.symbols, cell=displaced.cell, scaled_positions=displaced.scaled_positions, pbc=True)
            cell.calc = self.calculator
            forces.append(np.asarray(cell.get_forces()))
        phonon.forces = forces
        phonon.produce_force_constants()
        phonon.symmetrize_force_constants()
        return phonon

    def _compute(self, atoms) -> MlipPhonons:
        start = time.perf_counter()
        phonon = self.phonopy_object(atoms)
        dos = phonon_dos(phonon, self.settings.dos_mesh, self.settings.dos_points)
        lowest = lowest_mode(phonon, self.settings.lowest_mesh)
        return MlipPhonons(self.settings.potential, self.potential_version, self.settings,
                           tuple(int(n) for n in np.diag(phonon.supercell_matrix)),
                           len(phonon.supercells_with_displacements), dos, lowest, time.perf_counter() - start)


def _as_atoms(structure):
    if hasattr(structure, "get_scaled_positions"):
        return structure
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_atoms(structure)
