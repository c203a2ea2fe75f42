"""pw.x standard output → `PwOutput`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from betenet.parsers._common import (
    FLOAT,
    QEError,
    job_done,
    processor_cores,
    program_version,
    qe_errors,
    read_text,
    to_float,
    wall_time_s,
)
from betenet.parsers.errors import ParseError

_FINAL_ENERGY = re.compile(rf"^!\s*total energy\s*=\s*({FLOAT})\s*Ry", re.MULTILINE)
_FERMI = re.compile(rf"the Fermi energy is\s+({FLOAT})\s*ev", re.IGNORECASE)
_FERMI_SPIN = re.compile(r"the spin up/dw Fermi energies are")
_SMEARED = re.compile(r"smearing, width \(Ry\)=")
_HOMO = re.compile(rf"highest occupied(?:, lowest unoccupied)? levels?\s*\(ev\):\s*({FLOAT})")
_CONVERGED = re.compile(r"convergence has been achieved in\s+(\d+)\s+iterations")
_NOT_CONVERGED = re.compile(r"convergence NOT achieved after\s+(\d+)\s+iterations")
_ALAT = re.compile(rf"lattice parameter \(alat\)\s*=\s*({FLOAT})\s*a\.u\.")
_VOLUME = re.compile(rf"unit-cell volume\s*=\s*({FLOAT})\s*\(a\.u\.\)\^3")
_NAT = re.compile(r"number of atoms/cell\s*=\s*(\d+)")
_NKS = re.compile(r"number of k points=\s*(\d+)")
# Collinear spin-polarised runs (nspin=2) print both after every SCF iteration; the last is the converged one.
_TOTAL_MAG = re.compile(rf"^\s*total magnetization\s*=\s*({FLOAT})\s*Bohr mag/cell", re.MULTILINE)
_ABSOLUTE_MAG = re.compile(rf"^\s*absolute magnetization\s*=\s*({FLOAT})\s*Bohr mag/cell", re.MULTILINE)


@dataclass(frozen=True)
class PwOutput:
    """What a pw.x run reports. Values the run did not print are None (see `ok`)."""

    qe_version: str
    calculation: str | None  # inferred from the run's section titles: scf/nscf/bands/relax/vc-relax/md
    job_done: bool
    converged: bool  # every SCF cycle converged (and, for relaxations, the optimisation ended)
    n_scf_iterations: int | None  # iterations of the last SCF cycle
    total_energy_ry: float | None  # last `!    total energy` (the final one of a relaxation)
    fermi_energy_ev: float | None
    highest_occupied_ev: float | None  # insulators print this instead of a Fermi energy
    wall_time_s: float | None
    processor_cores: int | None  # MPI processes × threads from the banner (core-hours = wall × cores)
    errors: tuple[QEError, ...]
    n_atoms: int | None
    lattice_parameter_bohr: float | None
    cell_volume_bohr3: float | None
    n_kpoints: int | None
    total_magnetization_muB: float | None = None  # ∫(n↑ − n↓), μB per cell; None without nspin=2
    absolute_magnetization_muB: float | None = None  # ∫|n↑ − n↓|, μB per cell; None without nspin=2

    @property
    def ok(self) -> bool:
        """Finished, converged and error-free: the numbers can be used."""
        return self.job_done and self.converged and not self.errors


def _calculation(text: str) -> str | None:
    if "Molecular Dynamics Calculation" in text:
        return "md"
    if "BFGS Geometry Optimization" in text:
        return "vc-relax" if re.search(r"enthalpy", text, re.IGNORECASE) else "relax"
    if "Band Structure Calculation" in text:
        return "nscf" if (_FERMI.search(text) or _HOMO.search(text)) else "bands"
    if "Self-consistent Calculation" in text:
        return "scf"
    return None


def _converged(text: str, calculation: str | None) -> bool:
    if _NOT_CONVERGED.search(text):
        return False
    if calculation in ("nscf", "bands"):
        return "End of band structure calculation" in text
    if calculation in ("relax", "vc-relax"):
        return "End of BFGS Geometry Optimization" in text and "bfgs converged" in text
    return _CONVERGED.search(text) is not None


def _last(pattern: re.Pattern, text: str, cast=to_float):
    found = pattern.findall(text)
    return cast(found[-1]) if found else None


def parse_pw_output(path: str | Path) -> PwOutput:
    """Parse pw.x stdout (QE 6.x and 7.x layouts).

    Raises ParseError for a missing/empty/foreign file, for a run cut off before `JOB DONE.` without
    an error message (killed or still running), and for a finished converged SCF run that lacks its
    final energy. A run stopped by QE itself (a `%%%%` error block) is returned with `errors` filled.
    """
    path = Path(path)
    text = read_text(path, "pw.x output")
    version = program_version(text, path, "PWSCF", "pw.x")
    errors = qe_errors(text)
    done = job_done(text)
    if not done and not errors:
        last = next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "")
        raise ParseError(
            path,
            "truncated pw.x output: no 'JOB DONE.' line and no QE error message "
            f"(killed or still running?); last line: {last[:80]!r}",
        )
    calculation = _calculation(text)
    converged = _converged(text, calculation) and not errors
    cycles = re.findall(
        r"convergence (?:has been achieved in|NOT achieved after)\s+(\d+)\s+iterations", text
    )
    energy = _last(_FINAL_ENERGY, text)
    if converged and calculation in ("scf", "relax", "vc-relax", "md") and energy is None:
        raise ParseError(path, "converged pw.x run without a final '!    total energy' line")
    if converged and calculation != "bands" and _SMEARED.search(text) and not (_FERMI.search(text) or _FERMI_SPIN.search(text)):
        raise ParseError(path, "converged pw.x run with smeared occupations but no 'the Fermi energy is' line")
    return PwOutput(
        qe_version=version,
        calculation=calculation,
        job_done=done,
        converged=converged,
        n_scf_iterations=int(cycles[-1]) if cycles else None,
        total_energy_ry=energy,
        fermi_energy_ev=_last(_FERMI, text),
        highest_occupied_ev=_last(_HOMO, text),
        wall_time_s=wall_time_s(text, "PWSCF", path),
        processor_cores=processor_cores(text),
        errors=errors,
        n_atoms=_last(_NAT, text, int),
        lattice_parameter_bohr=_last(_ALAT, text),
        cell_volume_bohr3=_last(_VOLUME, text),
        n_kpoints=_last(_NKS, text, int),
        total_magnetization_muB=_last(_TOTAL_MAG, text),
        absolute_magnetization_muB=_last(_ABSOLUTE_MAG, text),
    )
