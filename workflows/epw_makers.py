"""The EPW route's Jobs (atomate2-style frozen Makers): save/ → nscf → epw.x → Wannier band check.

    EpwSaveMaker       ph.x folder(s) → save/ (dyn, dvscf, phsave with EPW's names), no program run
    NscfMaker          pw.x nscf on the full coarse k-grid (explicit list, no symmetry) from the scf
    EpwMaker           epw.x: Wannierise (or read a previous run's Wannier representation), interpolate,
                       α²F per electronic smearing → `EpwTaskDoc` (spectra, EPW's λ, checks' inputs)
    BandCheckMaker     pw.x 'bands' at off-grid k-points vs the Wannier Hamiltonian → `WannierBandCheck`

scf and ph.x are the DFPT flow's `PwMaker`/`PhMaker` (ph.x with `fildvscf`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from jobflow import Maker, job
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from betenet.parsers.epw import (
    parse_epw_a2f,
    parse_epw_linewidths,
    parse_epw_output,
    parse_wannier90_wout,
    parse_wannier_hr,
)
from betenet.parsers.pw import parse_pw_output
from betenet.qe.epw import (
    EPW_NQSTEP_DEFAULT,
    epw_parameters,
    full_grid_crystal,
    irreducible_grid_crystal,
    qpoints_file_text,
    write_epw_input,
)
from betenet.qe.pseudo import PseudoFamily
from betenet.qe.pw import pw_parameters
from betenet.qe.runner import QERunError, run_program
from betenet.store.documents import A2FData, QELambdaRow
from betenet.workflows.epw_checks import (
    InterpolatedPhononCheck,
    WannierBandCheck,
    check_interpolated_phonons,
    compare_bands,
    wannier_eigenvalues_eV,
)
from betenet.workflows.epw_save import collect_save
from betenet.workflows.files import copy_from
from betenet.workflows.handlers import default_handlers
from betenet.workflows.makers import FILDYN, _job_uuid, a2f_data, as_structure
from betenet.workflows.outputs import QETaskDoc
from betenet.workflows.qe_run import run_with_handlers

Grid = tuple[int, int, int]
PREFIX = "betenet"  # the engine's default prefix/outdir: every pw.x, ph.x and epw.x run shares them
OUTDIR = "out"
FINE_QPOINTS_FILE = "fine_qpoints.txt"
# What an epwread restart reads from the first run's folder besides the nscf save (checked on EPW 5.3.1:
# epwdata/crystal/dmedata .fmt, the g(Re,Rp) file, the k maps and the Wannier gauge U(k)).
RESTART_FILES = ["*.fmt", f"{OUTDIR}/{PREFIX}.epmatwp", f"{PREFIX}.kmap", f"{PREFIX}.kgmap", f"{PREFIX}.ukk"]


def _pw_spec(structure: Structure, parameters: dict, kpoints) -> dict:
    entries = PseudoFamily.from_settings().for_elements(site.specie.symbol for site in structure)
    return {
        "program": "pw",
        "parameters": parameters,
        "inputs": {
            "structure": structure.as_dict(),
            "pseudo_dir": str(next(iter(entries.values())).path.parent),
            "pseudo_files": {el: e.filename for el, e in entries.items()},
            "kpoints": np.asarray(kpoints).tolist(),
        },
    }


@dataclass
class EpwSaveMaker(Maker):
    """Collects ph.x's dyn/dvscf/phsave into `save/` with EPW's names (the `pp.py` step)."""

    name: str = "epw save"

    @job
    def make(self, ph_dirs: list[str]) -> str:
        here = Path.cwd()
        collect_save(ph_dirs, here, prefix=PREFIX, fildyn=FILDYN, outdir=OUTDIR)
        return str(here)


@dataclass
class NscfMaker(Maker):
    """pw.x nscf on every point of the coarse k-grid (EPW needs the full grid, no symmetry)."""

    name: str = "nscf"
    parameters: dict[str, Any] = field(default_factory=dict)  # pw.x namelists incl. system.nbnd
    kgrid: Grid = (6, 6, 6)
    max_errors: int = 5

    def namelists(self) -> dict[str, Any]:
        """pw.x namelists of the nscf. pw.x never reduces an explicit k-list, and `nosym` would only
        strip the symmetry EPW 5.3 needs to unfold the irreducible dvscf (it then crashes in its
        k-maps), so the engine's nscf preset's nosym/noinv are removed."""
        return pw_parameters("nscf", {"system": {"nosym": None, "noinv": None}}, self.parameters)

    @job
    def make(self, structure: Structure, scf_dir: str) -> QETaskDoc:
        structure = as_structure(structure)
        here = Path.cwd()
        copy_from(scf_dir, [f"{OUTDIR}/*.save/*", f"{OUTDIR}/*.xml"])
        spec = _pw_spec(structure, self.namelists(), full_grid_crystal(self.kgrid))
        summary = run_with_handlers(here, "pw", spec, default_handlers("pw", "pw"), max_errors=self.max_errors)
        out = parse_pw_output(here / "pw.out")
        if not out.ok or out.fermi_energy_ev is None:
            raise QERunError(f"nscf pw.x in {here} failed or printed no Fermi energy: {[str(e) for e in out.errors]}",
                             returncode=0, stdout_path=here / "pw.out", stderr_path=here / "pw.err")
        return QETaskDoc(
            program="pw", label="nscf", dir_name=str(here), job_uuid=_job_uuid(), qe_version=out.qe_version,
            wall_time_s=summary["wall_time_s"], attempts=summary["attempts"], corrections=summary["corrections"],
            parameters=summary["spec"]["parameters"], kgrid=tuple(self.kgrid), fermi_energy_eV=out.fermi_energy_ev,
        )


class EpwTaskDoc(BaseModel):
    """What one epw.x run returns (units in names)."""

    dir_name: str
    job_uuid: str | None = None
    epw_version: str
    wall_time_s: float
    restart: bool = Field(description="epwread run from a previous run's Wannier representation.")
    parameters: dict[str, Any] = Field(description="&inputepw as run (Wannier windows in absolute eV).")
    coarse_kgrid: Grid
    coarse_qgrid: Grid
    fine_kgrid: Grid
    fine_qgrid: Grid
    n_fine_qpoints: int = Field(description="q-points EPW interpolated (the irreducible wedge when reduced).")
    fermi_energy_nscf_eV: float
    fermi_energy_fine_eV: float | None = None
    n_wannier: int
    wannier_spreads_A2: list[float] = Field(default_factory=list, description="Ω per Wannier function, Å².")
    wannier_omega_total_A2: float | None = None
    disentanglement_converged: bool | None = None
    dos_states_per_spin_eV: list[float] = Field(default_factory=list, description="EPW's N(E_F) per smearing.")
    a2f_all: list[A2FData] = Field(description="α²F per electronic smearing, at the chosen phonon smearing.")
    epw_lambda: list[QELambdaRow] = Field(description="EPW's Σ_qν w_q λ_qν per electronic smearing.")
    phonon_smearing_meV: float
    phonons: InterpolatedPhononCheck


@dataclass
class EpwMaker(Maker):
    """epw.x from the nscf + save/ folders (or, with `restart_dir`, from a previous run's Wannier data)."""

    name: str = "epw"
    parameters: dict[str, Any] = field(default_factory=dict)  # &inputepw physics (degaussw, nsmear, ...)
    coarse_kgrid: Grid = (6, 6, 6)
    coarse_qgrid: Grid = (3, 3, 3)
    fine_kgrid: Grid = (12, 12, 12)
    fine_qgrid: Grid = (6, 6, 6)
    fine_q_irreducible: bool = True
    projections: tuple[str, ...] = ()
    n_wannier: int = 9
    dis_froz_max_above_fermi_eV: float | None = 3.0
    dis_win_max_above_fermi_eV: float | None = None
    wannier90_lines: tuple[str, ...] = ()
    scdm_mu_above_fermi_eV: float | None = None  # SCDM only: erfc centre relative to E_F
    el_ph_sigma_Ry: float = 0.005
    chosen_phonon_smearing_index: int = 10  # column of EPW's a2f file (1-based)
    frequency_threshold_meV: float = 0.5
    mu_star: float = 0.10

    @job
    def make(self, structure: Structure, nscf: QETaskDoc | dict, save_dir: str | None = None,
             restart_dir: str | None = None) -> EpwTaskDoc:
        structure = as_structure(structure)
        nscf = QETaskDoc.model_validate(nscf) if isinstance(nscf, dict) else nscf
        here = Path.cwd()
        copy_from(nscf.dir_name, [f"{OUTDIR}/*.save/*", f"{OUTDIR}/*.xml"])
        if restart_dir is not None:
            copy_from(restart_dir, RESTART_FILES)
        elif save_dir is not None:
            copy_from(save_dir, ["save/*", "save/*/*"])
        else:
            raise ValueError("give save_dir (first run) or restart_dir (epwread restart)")
        restart = restart_dir is not None
        params = self.namelist(nscf.fermi_energy_eV, restart=restart)
        result = run_program("epw", self.write_inputs(here, structure, params), here, label="epw", check=False)
        return self.task_doc(here, nscf.fermi_energy_eV, result.wall_time_s, params)

    def namelist(self, fermi_energy_eV: float, *, restart: bool) -> dict[str, Any]:
        """&inputepw for this run: Wannier windows (and SCDM's μ) placed relative to the nscf E_F."""
        relative = {"dis_froz_max": self.dis_froz_max_above_fermi_eV, "dis_win_max": self.dis_win_max_above_fermi_eV,
                    "scdm_mu": self.scdm_mu_above_fermi_eV}
        absolute = {key: round(fermi_energy_eV + value, 6) for key, value in relative.items() if value is not None}
        base = {"prefix": PREFIX, "outdir": f"./{OUTDIR}/", "nbndsub": self.n_wannier}
        return epw_parameters("restart" if restart else "write", base, absolute, self.parameters)

    def write_inputs(self, directory: Path, structure: Structure, params: dict[str, Any]) -> str:
        """Write the fine q-point file (when reduced) into `directory`; return the epw.x input text."""
        fine_q: dict[str, Any] = {"fine_qgrid": self.fine_qgrid}
        if self.fine_q_irreducible:
            points = irreducible_grid_crystal(structure, self.fine_qgrid)
            (Path(directory) / FINE_QPOINTS_FILE).write_text(qpoints_file_text(points))
            fine_q = {"fine_qpoints_file": FINE_QPOINTS_FILE}
        return write_epw_input(
            structure, params, coarse_kgrid=self.coarse_kgrid, coarse_qgrid=self.coarse_qgrid,
            fine_kgrid=self.fine_kgrid, projections=() if params.get("epwread") else self.projections,
            wannier90_lines=self.wannier90_lines, **fine_q,
        )

    def task_doc(self, here: Path, fermi_energy_eV: float, wall_time_s: float, params: dict[str, Any]) -> EpwTaskDoc:
        """Parse the run folder; raise (one line) when epw.x stopped or wrote no α²F."""
        out = parse_epw_output(here / "epw.out", n_smearings=params.get("nsmear"))
        if not out.ok:  # one line: the local runner stores the last line of the error as the reason
            why = "; ".join(str(e) for e in out.errors) or "stopped before 'Total program execution'"
            raise QERunError(f"epw.x in {here} failed: {why}", returncode=0,
                             stdout_path=here / "epw.out", stderr_path=here / "epw.err")
        files = sorted(here.glob(f"{PREFIX}.a2f.[0-9][0-9].*"))
        if not files:
            raise QERunError(f"epw.x in {here} wrote no {PREFIX}.a2f.<n>.<T> files (a2f=.true. and phonselfen?)",
                             returncode=0, stdout_path=here / "epw.out", stderr_path=here / "epw.err")
        spectra, rows, column = [], [], self.chosen_phonon_smearing_index - 1
        for path in files:
            index = int(path.name.split(".")[2])
            a2f = parse_epw_a2f(path, n_points=params.get("nqstep", EPW_NQSTEP_DEFAULT))
            spectra.append(a2f_data(a2f.omega_meV, a2f.a2f[:, column], index, self.el_ph_sigma_Ry, self.mu_star))
            rows.append(QELambdaRow(smearing_Ry=spectra[-1].smearing_Ry, lambda_=a2f.lambda_summed))
        linewidths = parse_epw_linewidths(next(here.glob("linewidth.phself.*")), n_qpoints=out.n_fine_qpoints)
        wout = parse_wannier90_wout(here / f"{PREFIX}.wout") if (here / f"{PREFIX}.wout").is_file() else None
        return EpwTaskDoc(
            dir_name=str(here), job_uuid=_job_uuid(), epw_version=out.epw_version, wall_time_s=wall_time_s,
            restart=bool(params.get("epwread")), parameters=params, coarse_kgrid=self.coarse_kgrid,
            coarse_qgrid=self.coarse_qgrid, fine_kgrid=self.fine_kgrid, fine_qgrid=self.fine_qgrid,
            n_fine_qpoints=linewidths.n_qpoints, fermi_energy_nscf_eV=fermi_energy_eV,
            fermi_energy_fine_eV=out.fermi_energy_fine_eV, n_wannier=self.n_wannier,
            wannier_spreads_A2=wout.spreads_A2.tolist() if wout else [],
            wannier_omega_total_A2=wout.omega_total_A2 if wout else None,
            disentanglement_converged=wout.disentanglement_converged if wout else None,
            dos_states_per_spin_eV=[s.dos_states_per_spin_eV for s in out.smearings],
            a2f_all=spectra, epw_lambda=rows, phonon_smearing_meV=float(a2f.phonon_smearings_meV[column]),
            phonons=check_interpolated_phonons(linewidths, self.frequency_threshold_meV),
        )


def band_check_kpoints(structure: Structure, coarse_kgrid: Grid, max_points: int) -> np.ndarray:
    """Irreducible points of the half-step shifted coarse grid (farthest from the Wannier data),
    thinned evenly to at most `max_points`; crystal coordinates (N, 3)."""
    points = irreducible_grid_crystal(structure, coarse_kgrid, half_shift=True)[:, :3]
    if len(points) > max_points:
        points = points[np.unique(np.linspace(0, len(points) - 1, max_points).round().astype(int))]
    return points


@dataclass
class BandCheckMaker(Maker):
    """pw.x 'bands' at off-grid k-points (from the scf density) vs EPW's Wannier Hamiltonian."""

    name: str = "wannier band check"
    parameters: dict[str, Any] = field(default_factory=dict)  # pw.x namelists incl. system.nbnd
    coarse_kgrid: Grid = (6, 6, 6)
    window_eV: float = 1.0
    tolerance_eV: float = 0.1
    max_kpoints: int = 30
    max_errors: int = 5

    @job
    def make(self, structure: Structure, scf_dir: str, epw: EpwTaskDoc | dict) -> WannierBandCheck:
        from ase.io import read  # pw.x's band energies: ASE's espresso-out reader (the project parser has none)

        structure = as_structure(structure)
        epw = EpwTaskDoc.model_validate(epw) if isinstance(epw, dict) else epw
        here = Path.cwd()
        copy_from(scf_dir, [f"{OUTDIR}/*.save/*", f"{OUTDIR}/*.xml"])
        kpoints = band_check_kpoints(structure, self.coarse_kgrid, self.max_kpoints)
        params = pw_parameters("nscf", self.parameters, {"control": {"calculation": "bands", "verbosity": "high"}})
        spec = _pw_spec(structure, params, np.column_stack([kpoints, np.ones(len(kpoints))]))
        run_with_handlers(here, "pw", spec, default_handlers("pw", "pw"), max_errors=self.max_errors)
        calc = read(here / "pw.out", format="espresso-out", index=-1).calc
        dft_eV = np.array([calc.get_eigenvalues(kpt=i) for i in range(len(kpoints))])
        epw_dir = Path(epw.dir_name)
        hamiltonian = parse_wannier_hr(epw_dir / f"{PREFIX}_hr.dat", epw_dir / f"{PREFIX}_wsvec.dat")
        check = compare_bands(dft_eV, wannier_eigenvalues_eV(hamiltonian, kpoints),
                              fermi_energy_eV=epw.fermi_energy_nscf_eV, window_eV=self.window_eV,
                              tolerance_eV=self.tolerance_eV)
        return check.model_copy(update={"dir_name": str(here)})

