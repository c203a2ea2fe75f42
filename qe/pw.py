"""pw.x input writer: scf, nscf and vc-relax from a pymatgen Structure or ASE Atoms.

The cell is always written as `ibrav = 0` with CELL_PARAMETERS in Å and ATOMIC_POSITIONS in crystal
coordinates, so no information is lost to QE's Bravais-lattice conventions. The writer owns the
structural variables (ibrav, nat, ntyp, celldm/A) and `pseudo_dir`; the caller owns the physics
(cutoffs, smearing, convergence, `la2F`, ...), layered with `pw_parameters(preset, overrides)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from betenet.qe.namelist import fixed, format_namelist
from betenet.qe.params import deep_merge
from betenet.qe.pseudo import PseudoEntry, PseudoFamily
from betenet.qe.structure import as_cell, atomic_mass_amu

NAMELISTS = ("control", "system", "electrons", "ions", "cell")
CALCULATIONS = ("scf", "nscf", "bands", "relax", "vc-relax")
_NEEDS_IONS = {"relax", "vc-relax"}
_NEEDS_CELL = {"vc-relax"}
_WRITER_OWNED = {
    "control": {"pseudo_dir"},
    "system": {"ibrav", "nat", "ntyp", "celldm", "A", "B", "C", "cosAB", "cosAC", "cosBC"},
}

# Shared by every preset: one prefix/outdir so ph.x finds the pw.x data when run in the same folder.
PW_DEFAULTS: dict[str, Any] = {
    "control": {"prefix": "betenet", "outdir": "./out", "tprnfor": True, "tstress": True},
    "system": {"occupations": "smearing", "smearing": "mv", "degauss": 0.02},
    "electrons": {"conv_thr": 1e-10, "mixing_beta": 0.7},
}
PW_PRESETS: dict[str, dict[str, Any]] = {
    "scf": {"control": {"calculation": "scf"}},
    # Explicit k-lists (e.g. a full grid for Wannierisation) must not be symmetry-reduced.
    "nscf": {"control": {"calculation": "nscf"}, "system": {"nosym": True, "noinv": True}},
    "vc-relax": {
        "control": {"calculation": "vc-relax", "forc_conv_thr": 1e-4, "etot_conv_thr": 1e-6},
        "ions": {"ion_dynamics": "bfgs"},
        "cell": {"cell_dynamics": "bfgs", "press_conv_thr": 0.5},
    },
}


def pw_parameters(preset: str, *overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """PW_DEFAULTS ← PW_PRESETS[preset] ← overrides (left to right), as a new dict."""
    if preset not in PW_PRESETS:
        raise ValueError(f"Invalid preset={preset!r}, use one of {tuple(PW_PRESETS)}")
    return deep_merge(PW_DEFAULTS, PW_PRESETS[preset], *overrides)


def write_pw_input(
    structure,
    parameters: Mapping[str, Mapping[str, Any]],
    *,
    pseudos: Mapping[str, PseudoEntry] | PseudoFamily,
    kpoints: Sequence[int] | Sequence[Sequence[float]] | np.ndarray,
    kshift: Sequence[int] = (0, 0, 0),
    masses_amu: Mapping[str, float] | None = None,
) -> str:
    """The text of a pw.x input.

    parameters: {"control": {...}, "system": {...}, "electrons": {...}[, "ions", "cell"]}; use
        `pw_parameters("scf", {...})` to start from the defaults.
    pseudos: element → PseudoEntry (all in one folder, QE has one `pseudo_dir`) or a PseudoFamily.
    kpoints: (n1, n2, n3) → `K_POINTS automatic` with `kshift`; or an (N, 3)/(N, 4) array of
        crystal coordinates [+ weights] → `K_POINTS crystal` (an explicit list, e.g. for nscf).
    masses_amu: element → mass for ATOMIC_SPECIES; default the standard atomic masses.
    """
    cell = as_cell(structure)
    unknown = set(parameters) - set(NAMELISTS)
    if unknown:
        raise ValueError(f"unknown pw.x namelist(s) {sorted(unknown)}; use {NAMELISTS}")
    for namelist, owned in _WRITER_OWNED.items():
        clash = owned & set(parameters.get(namelist, {}))
        if clash:
            raise ValueError(
                f"&{namelist} {sorted(clash)} are set by write_pw_input from the structure and pseudos; "
                "remove them from the parameters"
            )
    calculation = parameters.get("control", {}).get("calculation", "scf")
    if calculation not in CALCULATIONS:
        raise ValueError(f"Invalid calculation={calculation!r}, use one of {CALCULATIONS}")
    for namelist, needs in (("ions", _NEEDS_IONS), ("cell", _NEEDS_CELL)):
        if parameters.get(namelist) and calculation not in needs:
            raise ValueError(f"&{namelist} given for calculation={calculation!r}, which does not read it")

    entries = _pseudo_entries(pseudos, cell.species)
    pseudo_dirs = {entry.path.parent for entry in entries.values()}
    if len(pseudo_dirs) != 1:
        raise ValueError(f"pw.x takes one pseudo_dir, the pseudos lie in {sorted(map(str, pseudo_dirs))}")

    control = {**parameters.get("control", {}), "pseudo_dir": str(pseudo_dirs.pop())}
    system = {"ibrav": 0, "nat": len(cell.symbols), "ntyp": len(cell.species), **parameters.get("system", {})}
    blocks = [format_namelist("control", control), format_namelist("system", system)]
    blocks.append(format_namelist("electrons", parameters.get("electrons", {})))
    if calculation in _NEEDS_IONS:
        blocks.append(format_namelist("ions", parameters.get("ions", {})))
    if calculation in _NEEDS_CELL:
        blocks.append(format_namelist("cell", parameters.get("cell", {})))

    masses = {el: atomic_mass_amu(el) for el in cell.species} | dict(masses_amu or {})
    blocks.append(
        "ATOMIC_SPECIES\n"
        + "".join(f"  {el} {masses[el]:.6f} {entries[el].filename}\n" for el in cell.species)
    )
    blocks.append(
        "CELL_PARAMETERS angstrom\n"
        + "".join(f"  {fixed(v[0])} {fixed(v[1])} {fixed(v[2])}\n" for v in cell.lattice_A)
    )
    blocks.append(
        "ATOMIC_POSITIONS crystal\n"
        + "".join(
            f"  {symbol} {fixed(x)} {fixed(y)} {fixed(z)}\n"
            for symbol, (x, y, z) in zip(cell.symbols, cell.frac_coords)
        )
    )
    blocks.append(_k_points_card(kpoints, kshift))
    return "".join(blocks)


def _pseudo_entries(pseudos, species) -> dict[str, PseudoEntry]:
    if isinstance(pseudos, PseudoFamily):
        return pseudos.for_elements(species)
    missing = [el for el in species if el not in pseudos]
    if missing:
        raise ValueError(f"no pseudopotential given for {missing}; pass a PseudoFamily or add them")
    return {el: pseudos[el] for el in species}


def _k_points_card(kpoints, kshift) -> str:
    array = np.asarray(kpoints)
    if array.ndim == 1:
        grid = [int(n) for n in array]
        if len(grid) != 3 or any(n < 1 for n in grid) or not np.allclose(array, grid):
            raise ValueError(f"a k-point grid is three positive integers, got {kpoints!r}")
        shift = [int(s) for s in kshift]
        if len(shift) != 3 or any(s not in (0, 1) for s in shift):
            raise ValueError(f"kshift is three 0/1 flags, got {kshift!r}")
        return "K_POINTS automatic\n  {} {} {} {} {} {}\n".format(*grid, *shift)
    if array.ndim != 2 or array.shape[1] not in (3, 4) or len(array) == 0:
        raise ValueError(f"an explicit k-point list has shape (N, 3) or (N, 4), got {array.shape}")
    weights = array[:, 3] if array.shape[1] == 4 else np.ones(len(array))
    lines = "".join(
        f"  {fixed(k[0])} {fixed(k[1])} {fixed(k[2])} {fixed(w, 8)}\n" for k, w in zip(array[:, :3], weights)
    )
    return f"K_POINTS crystal\n  {len(array)}\n{lines}"

