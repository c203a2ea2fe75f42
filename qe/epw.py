"""epw.x input writer (EPW 5.3.1 as shipped with QE 6.7) and the k/q lists an EPW run needs.

EPW reads the crystal from the nscf `<prefix>.save` and the phonons from `dvscf_dir` (the `save/`
folder, see `betenet.workflows.epw_save`), so the input holds only the physics. The writer owns the
grid and structure variables (`amass`, `nk*`, `nq*`, `nkf*`, `nqf*`, `filqf`, `proj`, `wdata`); the
caller owns the rest, layered with `epw_parameters(preset, overrides)`. Units are EPW's: eV for
`degaussw`, `delta_smear`, `fsthick` and the Wannier windows, meV for `degaussq`/`delta_qsmear`.

Choices checked on fcc Al (fixtures/qe-6.7/epw/README.md):
- `delta_approx=.true.`, `ngaussw=0`: the double-delta Gaussian linewidth of ph.x; EPW's default
  (Fermi occupations × δ(ε_k+q − ε_k − ω)) gives negative linewidths at the smearings used here.
- `vme=.false.`: dipole velocities (EPW computes velocities on every fine k even when only λ is
  wanted; the dipole form is the cheaper one). A restart must use the same `vme` as the first run.
- `write_hr`: Wannier90's `<prefix>_hr.dat`, read by the band-interpolation check.
- The fine q-grid may be its irreducible wedge with weights (`filqf`): EPW weights λ and α²F by the
  file's weights, and the result equals the full grid's at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from betenet.qe.namelist import fixed, format_namelist
from betenet.qe.params import deep_merge
from betenet.qe.structure import as_cell, atomic_mass_amu

# EPW's own default of `nqstep`, the number of frequency rows of its α²F and phonon-DOS files
EPW_NQSTEP_DEFAULT = 500
EPW_DEFAULTS: dict[str, Any] = {
    "prefix": "betenet",
    "outdir": "./out/",  # EPW appends the prefix to outdir as written: keep the slash
    "dvscf_dir": "./save",
    "elph": True,
    "etf_mem": 1,
    "vme": False,
    "num_iter": 300,
    "iprint": 1,  # Wannier90's verbosity: the final spreads without every iteration
    "elecselfen": False,
    "phonselfen": True,
    "a2f": True,
    "delta_approx": True,
    "ngaussw": 0,
}
EPW_PRESETS: dict[str, dict[str, Any]] = {
    # First run: Wannierise, compute g on the coarse grids, write the Wannier representation.
    "write": {"wannierize": True, "epwwrite": True, "epwread": False, "kmaps": False},
    # Restart from a previous run's Wannier representation (epwdata.fmt, <prefix>.epmatwp, ...).
    "restart": {"wannierize": False, "epwwrite": False, "epwread": True, "kmaps": True},
}
_WRITER_OWNED = {
    "amass", "nk1", "nk2", "nk3", "nq1", "nq2", "nq3", "nkf1", "nkf2", "nkf3", "nqf1", "nqf2", "nqf3",
    "filqf", "filkf", "proj", "wdata",
}
# Lines every run hands to the built-in Wannier90: the Hamiltonian in the Wannier basis (for the band
# check), and a report that prints the spreads every 50 iterations instead of every one.
WANNIER90_ALWAYS = ("write_hr = .true.", "num_print_cycles = 50")


def epw_parameters(preset: str, *overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """EPW_DEFAULTS ← EPW_PRESETS[preset] ← overrides, as a new dict."""
    if preset not in EPW_PRESETS:
        raise ValueError(f"Invalid preset={preset!r}, use one of {tuple(EPW_PRESETS)}")
    return deep_merge(EPW_DEFAULTS, EPW_PRESETS[preset], *overrides)


def _grid(name: str, value: Sequence[int]) -> tuple[int, int, int]:
    grid = tuple(int(n) for n in value)
    if len(grid) != 3 or any(n < 1 for n in grid) or not np.allclose(np.asarray(value, dtype=float), grid):
        raise ValueError(f"{name} is three positive integers, got {value!r}")
    return grid


def write_epw_input(
    structure,
    parameters: Mapping[str, Any],
    *,
    coarse_kgrid: Sequence[int],
    coarse_qgrid: Sequence[int],
    fine_kgrid: Sequence[int],
    fine_qgrid: Sequence[int] | None = None,
    fine_qpoints_file: str | None = None,
    projections: Sequence[str] = (),
    wannier90_lines: Sequence[str] = (),
    masses_amu: Mapping[str, float] | None = None,
) -> str:
    """The text of an epw.x input.

    parameters: &inputepw variables, e.g. `epw_parameters("write", {"nbndsub": 9, ...})`.
    coarse_kgrid/coarse_qgrid: the nscf k-grid and the ph.x q-grid (k a multiple of q).
    fine_kgrid: the interpolation k-grid; fine q-points as a grid or as a file (`filqf`, see
        `qpoints_file_text`), exactly one of the two.
    projections: Wannier90 projection strings, e.g. ("Al:s;p;d",), needed when Wannierising
        unless `scdm_proj` is set.
    wannier90_lines: extra lines for the built-in Wannier90 (`wdata`), after `WANNIER90_ALWAYS`.
    masses_amu: element → mass (`amass`); default the standard masses, as `write_pw_input` uses.
    """
    clash = _WRITER_OWNED & {key.split("(")[0] for key in parameters}
    if clash:
        raise ValueError(f"{sorted(clash)} are set by write_epw_input from its arguments; remove them")
    kgrid, qgrid = _grid("coarse_kgrid", coarse_kgrid), _grid("coarse_qgrid", coarse_qgrid)
    if any(k % q for k, q in zip(kgrid, qgrid)):
        raise ValueError(f"coarse_kgrid={kgrid} must be a multiple of coarse_qgrid={qgrid} (EPW maps k+q onto k)")
    if (fine_qgrid is None) == (fine_qpoints_file is None):
        raise ValueError("give exactly one of fine_qgrid=(n1, n2, n3) or fine_qpoints_file='<file>'")
    _check_consistency(parameters, projections)

    cell = as_cell(structure)
    masses = {el: atomic_mass_amu(el) for el in cell.species} | dict(masses_amu or {})
    variables: dict[str, Any] = dict(parameters)
    variables["amass"] = [float(masses[el]) for el in cell.species]
    if projections:
        variables["proj"] = list(projections)
    variables["wdata"] = [*WANNIER90_ALWAYS, *wannier90_lines]
    for name, grid in (("nk", kgrid), ("nq", qgrid), ("nkf", _grid("fine_kgrid", fine_kgrid))):
        variables.update({f"{name}{i}": n for i, n in enumerate(grid, start=1)})
    if fine_qgrid is not None:
        variables.update({f"nqf{i}": n for i, n in enumerate(_grid("fine_qgrid", fine_qgrid), start=1)})
    else:
        variables["filqf"] = str(fine_qpoints_file)
    # EPW skips the first line of its input (a title).
    return "--\n" + format_namelist("inputepw", variables)


def _check_consistency(parameters: Mapping[str, Any], projections: Sequence[str]) -> None:
    """Refuse combinations epw.x stops on, with the fix in the message."""
    get = parameters.get
    if get("epwread") and get("wannierize"):
        raise ValueError("epwread=.true. reads an existing Wannier representation: set wannierize=.false.")
    if get("epwread") and not get("kmaps"):
        raise ValueError("epwread=.true. needs kmaps=.true. (EPW 5.3 refuses a restart without the k maps)")
    if not (get("epwread") or get("epwwrite")):
        raise ValueError("EPW needs epwwrite=.true. (first run) or epwread=.true. (restart)")
    if get("a2f") and not get("phonselfen"):
        raise ValueError("a2f=.true. needs phonselfen=.true. (α²F is built from the phonon linewidths)")
    if get("wannierize") and not (projections or get("scdm_proj")):
        raise ValueError("wannierize=.true. needs projections (e.g. ['Al:s;p;d']) or scdm_proj=.true.")
    if get("scdm_proj") and projections:
        raise ValueError("give projections or scdm_proj=.true., not both")
    if "nbndsub" not in parameters:
        raise ValueError("nbndsub (the number of Wannier functions) is required")


def full_grid_crystal(grid: Sequence[int]) -> np.ndarray:
    """Every point of a Γ-centred grid in crystal coordinates with equal weights, shape (N, 4).

    The nscf k-list EPW needs: the whole grid, in the order k3 fastest (EPW's own order).
    """
    n1, n2, n3 = _grid("grid", grid)
    points = np.array([(i / n1, j / n2, k / n3) for i in range(n1) for j in range(n2) for k in range(n3)])
    return np.column_stack([points, np.full(len(points), 1.0 / len(points))])


def irreducible_grid_crystal(
    structure, grid: Sequence[int], *, half_shift: bool = False, symprec: float = 1e-5
) -> np.ndarray:
    """The irreducible points of a Γ-centred (or half-step shifted) grid, weights summing to 1, (M, 4).

    Symmetry from spglib (crystal point group + time reversal). Used for EPW's fine q-points: λ_qν
    summed over the full fine k-grid is invariant under the crystal's symmetry, so the wedge with
    weights gives the full grid's α²F and λ.
    """
    import warnings

    import spglib

    cell = as_cell(structure)
    numbers = [cell.species.index(symbol) + 1 for symbol in cell.symbols]
    mesh = _grid("grid", grid)
    with warnings.catch_warnings():  # spglib 2.5 warns about its own error-handling mode
        warnings.simplefilter("ignore", DeprecationWarning)
        mapping, addresses = spglib.get_ir_reciprocal_mesh(
            mesh, (cell.lattice_A, cell.frac_coords, numbers), is_shift=[int(half_shift)] * 3, symprec=symprec
        )
    if mapping is None:
        raise ValueError(f"spglib found no symmetry for {cell.symbols} (symprec={symprec})")
    representatives, counts = np.unique(mapping, return_counts=True)
    points = (addresses[representatives] + 0.5 * half_shift) / np.array(mesh, dtype=float)
    return np.column_stack([points, counts / counts.sum()])


def qpoints_file_text(points: np.ndarray) -> str:
    """The `filqf` file: `N crystal` then one `q1 q2 q3 weight` line per point."""
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 4 or len(points) == 0:
        raise ValueError(f"q-points with weights have shape (N, 4), got {points.shape}")
    if not np.isclose(points[:, 3].sum(), 1.0, atol=1e-8):
        raise ValueError(f"q-point weights sum to {points[:, 3].sum():.10f}, expected 1")
    lines = "".join(f"  {fixed(q1)} {fixed(q2)} {fixed(q3)} {fixed(w, 12)}\n" for q1, q2, q3, w in points)
    return f"{len(points)} crystal\n{lines}"
