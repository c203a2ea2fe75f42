"""Dynamic stability from the coarse phonons, with phonopy as an independent reader of q2r.x's
force constants: the dense-mesh lowest frequency and a cross-check of matdyn's per-site DOS.

phonopy gives right frequencies from q2r.x force constants only with `calculator='qe'` and the cell
in bohr (checked on fcc Al: 40.7 meV vs matdyn's 40.86 meV); without it, it is off ~7× silently.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from betenet.physics import BOHR_TO_ANGSTROM, THZ_TO_MEV
from betenet.store.documents import ImaginaryMode, PhononDosData, StabilityData
from betenet.workflows.instability import CauseThresholds, classify, force_constant_samples

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


def phonopy_check(phonon, mesh: Grid, matdyn_dos: PhononDosData | None) -> tuple[float, float | None]:
    """(lowest frequency on the dense mesh in meV, max |Δ| of per-site DOS fractions vs matdyn)."""
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


def locate_instability(phonon, qgrid: Grid, mesh: Grid, matdyn_dos: PhononDosData,
                       thresholds: CauseThresholds) -> dict:
    """The cause of any imaginary modes of these force constants, as StabilityData fields: the q-grid's own
    points are the direct evidence, `mesh` the interpolated one; matdyn's DOS mesh (which imposes the sum
    rule) counts as interpolated evidence without a location."""
    finding = classify(force_constant_samples(phonon, qgrid, mesh), thresholds)
    cause, reason = finding.cause, finding.reason
    matdyn_lowest = dos_lowest_meV(matdyn_dos)
    if cause is None and matdyn_lowest < -thresholds.threshold_meV:
        cause, reason = "interpolation", (f"matdyn's {matdyn_dos.dos_grid} DOS mesh dips to {matdyn_lowest:.2f} meV "
                                          "while the q-grid points and phonopy's mesh are real")
    return {"cause": cause, "cause_reason": reason if cause else None,
            "imaginary_modes": [ImaginaryMode(**dataclasses.asdict(m)) for m in finding.modes]}


def dos_lowest_meV(dos: PhononDosData) -> float:
    """Lowest frequency of a matdyn DOS: its axis starts at the mesh's lowest frequency (or 0)."""
    return float(dos.omega_meV[0])


def stability_verdict(structure: Structure, *, ph_lowest_meV: float | None, matdyn_dos: PhononDosData,
                      force_constants: str | Path, qgrid: Grid, thresholds: CauseThresholds,
                      phonopy_mesh: Grid | None, gamma_acoustic_meV: float | None = None) -> StabilityData:
    """The lowest frequency (ph.x q-points, matdyn DOS, phonopy mesh) and, for imaginary modes, their cause.

    Stable: no mode below −threshold, or only acoustic modes near Γ (`acoustic_gamma`, a sum-rule residual).
    The cause uses phonopy's mesh, or matdyn's DOS mesh when `phonopy_mesh` is None."""
    phonon = phonopy_from_q2r(structure, force_constants)
    candidates = [dos_lowest_meV(matdyn_dos)] + ([ph_lowest_meV] if ph_lowest_meV is not None else [])
    phonopy_lowest = deviation = None
    if phonopy_mesh is not None:
        phonopy_lowest, deviation = phonopy_check(phonon, phonopy_mesh, matdyn_dos)
        candidates.append(phonopy_lowest)
    lowest = float(min(candidates))
    located = locate_instability(phonon, qgrid, phonopy_mesh or matdyn_dos.dos_grid, matdyn_dos, thresholds)
    return StabilityData(
        stable=_is_stable(lowest, located["cause"], thresholds.threshold_meV), lowest_frequency_meV=lowest,
        threshold_meV=thresholds.threshold_meV, qgrid=tuple(qgrid), ph_lowest_frequency_meV=ph_lowest_meV,
        phonopy_mesh=tuple(phonopy_mesh) if phonopy_mesh else None,
        phonopy_lowest_frequency_meV=phonopy_lowest, phonopy_pdos_max_deviation=deviation,
        gamma_acoustic_meV=gamma_acoustic_meV, cause_grid="coarse" if located["cause"] else None, **located,
    )


def _is_stable(lowest_meV: float, cause: str | None, threshold_meV: float) -> bool:
    return lowest_meV >= -threshold_meV or cause == "acoustic_gamma"


def confirm_on_elph_grid(verdict: StabilityData, fine_dos: PhononDosData, structure: Structure | None = None,
                         force_constants: str | Path | None = None,
                         thresholds: CauseThresholds | None = None) -> StabilityData:
    """The coarse verdict, revoked when the el-ph q-grid's force constants interpolate to imaginary modes
    (fcc Pb, fast preset: stable on 2×2×2, −4.9 meV on 3×3×3); QE's α²F is then meaningless (λ < 0).
    With the force constants, the fine grid's modes get their cause (a sum-rule residual near Γ keeps the
    verdict, with the cause recorded)."""
    lowest = dos_lowest_meV(fine_dos)
    update: dict = {"elph_qgrid": tuple(fine_dos.qgrid), "elph_lowest_frequency_meV": lowest}
    fine_cause = None
    if lowest < -verdict.threshold_meV and force_constants is not None:
        thresholds = thresholds or CauseThresholds(verdict.threshold_meV)
        located = locate_instability(phonopy_from_q2r(structure, force_constants), fine_dos.qgrid,
                                     fine_dos.dos_grid or (16, 16, 16), fine_dos, thresholds)
        fine_cause = located["cause"]
        update.update(located, cause_grid="elph")
    update["stable"] = verdict.stable and _is_stable(lowest, fine_cause, verdict.threshold_meV)
    return verdict.model_copy(update=update)


def unstable_status(verdict: StabilityData) -> tuple[str, str]:
    """(status, status_reason) of a document whose verdict is not stable: 'unstable' for a genuine
    instability, 'unresolved' for imaginary modes only between computed q-points that the remedy ladder
    could not remove — how imaginary, where, and on which q-grid."""
    fine = verdict.elph_lowest_frequency_meV is not None and verdict.elph_lowest_frequency_meV < -verdict.threshold_meV
    if fine:
        where = (f"imaginary modes on the el-ph {verdict.elph_qgrid} q-grid: lowest frequency "
                 f"{verdict.elph_lowest_frequency_meV:.2f} meV below −{verdict.threshold_meV} meV (the coarse "
                 f"{verdict.qgrid} grid passed at {verdict.lowest_frequency_meV:.2f} meV)")
    else:
        where = (f"imaginary modes: lowest frequency {verdict.lowest_frequency_meV:.2f} meV below "
                 f"−{verdict.threshold_meV} meV on the coarse {verdict.qgrid} q-grid")
    tried = f" after {len(verdict.remedy_attempts)} remedy attempt(s)" if verdict.remedy_attempts else ""
    cause = f"; {verdict.cause}{tried}: {verdict.cause_reason}" if verdict.cause else ""
    if verdict.cause == "interpolation":
        grid = "el-ph" if fine else "coarse"
        return "unresolved", f"{where}{cause}; a denser {grid} q-grid is needed; no α²F stored"
    return "unstable", f"{where}{cause}; no α²F stored"
