"""One jobflow Maker per QE program (atomate2 style): frozen dataclass settings, `make()` is a Job.

Each Job runs in its own folder (jobflow/FireWorks give one per Job), copies what it needs from the
previous Job's folder, writes the input with the engine's writer, runs the program under custodian
with the handlers of `handlers.py`, and returns a `QETaskDoc` built by the project's parsers.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from jobflow import CURRENT_JOB, Maker, job
from pymatgen.core import Structure

from betenet.parsers.a2f import parse_a2f_dos
from betenet.parsers.errors import ParseError
from betenet.parsers.lambda_x import parse_lambda_output
from betenet.parsers.matdyn import parse_matdyn_dos, parse_matdyn_lambda
from betenet.parsers.ph import parse_ph_output
from betenet.parsers.pw import parse_pw_output
from betenet.physics import THZ_TO_MEV, superconductivity_from_a2f
from betenet.qe.grids import kgrid_from_density, symmetric_fft_grid
from betenet.qe.lambda_x import (
    ELPH_FILE,
    beyond_limits,
    elph_files,
    star_weighted_qpoints,
    zero_gamma_acoustic_modes,
)
from betenet.qe.matdyn import DEFAULT_NDOS
from betenet.qe.ph import ph_parameters
from betenet.qe.pseudo import PseudoFamily
from betenet.qe.pw import pw_parameters
from betenet.qe.runner import QERunError
from betenet.qe.structure import as_cell
from betenet.store.documents import A2FData, EliashbergData, PhononDosData, QELambdaRow
from betenet.workflows.files import copy_from
from betenet.workflows.handlers import computed_qpoints, default_handlers, unfinished_qpoints
from betenet.workflows.outputs import QETaskDoc
from betenet.workflows.presets import SMEARINGS_PER_BATCH
from betenet.workflows.qe_run import read_spec, run_with_handlers
from betenet.workflows.stability import dos_lowest_meV

Grid = tuple[int, int, int]
FILDYN = "dyn"
FLFRC = "force_constants.fc"
WALLTIME_MARGIN = 0.9  # QE stops at 90 % of the budget, leaving time to write its restart files
logger = logging.getLogger(__name__)


def _job_uuid() -> str | None:
    current = CURRENT_JOB.job
    return current.uuid if current is not None else None


def site_labels(structure: Structure) -> list[str]:
    """'Mg1', 'B2', 'B3': species + 1-based site index, the order of the QE input."""
    return [f"{site.specie.symbol}{i}" for i, site in enumerate(structure, start=1)]


def choose_kgrid(structure: Structure, kgrid: Grid | None, density_invA: float | None,
                 multiple_of: Grid | None = None) -> Grid:
    """Explicit grid, else from the density; rounded up to a multiple of `multiple_of` (el-ph)."""
    if kgrid is None:
        if density_invA is None:
            raise ValueError("give kgrid or k_density_invA")
        kgrid = kgrid_from_density(structure, density_invA)
    if multiple_of is not None:
        kgrid = tuple(q * max(1, -(-k // q)) for k, q in zip(kgrid, multiple_of))
    return tuple(int(k) for k in kgrid)


def a2f_data(omega_meV, a2f, smearing_index: int, el_ph_sigma_Ry: float, mu_star: float) -> A2FData:
    """One smearing's α²F with λ, ω_log, ω₂, the Allen–Dynes and the Eliashberg Tc: the same for both routes."""
    sc = superconductivity_from_a2f(omega_meV, a2f, mu_star=mu_star)
    return A2FData(
        smearing_Ry=round(smearing_index * el_ph_sigma_Ry, 10), smearing_index=smearing_index,
        omega_meV=np.asarray(omega_meV, dtype=float).tolist(), a2f=np.asarray(a2f, dtype=float).tolist(),
        lambda_=sc.lambda_, omega_log_K=sc.omega_log_K, omega_2_K=sc.omega_2_K, tc_K=sc.tc_K, mu_star=mu_star,
        eliashberg=EliashbergData.from_spectrum(omega_meV, a2f, mu_star),
    )


def _fail(program: str, path: Path, why: str) -> QERunError:
    return QERunError(f"{program}.x in {path.parent}: {why}", returncode=0, stdout_path=path,
                      stderr_path=path.with_suffix(".err"))


def _symmetric_fft_grids(system: dict, structure: Structure) -> None:
    """Set pw.x's FFT grids (dense, and smooth when ecutrho > 4·ecutwfc) where pw.x's own choice would break the
    crystal's symmetry for ph.x (`symmetric_fft_grid`); grids given by the user are left as they are."""
    ecutrho, ecutwfc = system.get("ecutrho"), system.get("ecutwfc")
    grids = [(("nr1", "nr2", "nr3"), ecutrho)]
    if ecutrho and ecutwfc and ecutrho > 4 * ecutwfc:
        grids.append((("nr1s", "nr2s", "nr3s"), 4 * ecutwfc))
    for keys, cutoff in grids:
        if cutoff and not any(key in system for key in keys):
            grid = symmetric_fft_grid(structure, cutoff)
            if grid is not None:
                system.update(zip(keys, grid))


@dataclass
class PwMaker(Maker):
    """pw.x scf / vc-relax (with `la2F` in `parameters` for the dense el-ph grid).

    `starting_magnetization` (element → QE's fraction −1..1) makes the run collinear spin-polarised
    (nspin=2); it is given per element because QE numbers species in the order of the structure it gets."""

    name: str = "pw scf"
    calculation: str = "scf"
    parameters: dict[str, Any] = field(default_factory=dict)
    kgrid: Grid | None = None
    k_density_invA: float | None = None
    kgrid_multiple_of: Grid | None = None
    starting_magnetization: dict[str, float] = field(default_factory=dict)
    max_errors: int = 5
    walltime_s: float | None = None

    @job
    def make(self, structure: Structure) -> QETaskDoc:
        structure = as_structure(structure)
        kgrid = choose_kgrid(structure, self.kgrid, self.k_density_invA, self.kgrid_multiple_of)
        family = PseudoFamily.from_settings()
        entries = family.for_elements(site.specie.symbol for site in structure)
        extra = {"control": {"max_seconds": WALLTIME_MARGIN * self.walltime_s}} if self.walltime_s else None
        params = pw_parameters(self.calculation, self.parameters, extra, self._spin(structure))
        _symmetric_fft_grids(params["system"], structure)
        spec = {
            "program": "pw",
            "parameters": params,
            "inputs": {
                "structure": structure.as_dict(),
                "pseudo_dir": str(next(iter(entries.values())).path.parent),
                "pseudo_files": {el: e.filename for el, e in entries.items()},
                "kpoints": list(kgrid),
            },
        }
        here = Path.cwd()
        summary = run_with_handlers(here, "pw", spec, default_handlers("pw", "pw"), max_errors=self.max_errors)
        out = parse_pw_output(here / "pw.out")
        if not out.ok:
            raise _fail("pw", here / "pw.out", f"not converged or failed: {[str(e) for e in out.errors]}")
        final = structure
        if self.calculation in ("relax", "vc-relax"):
            final = _relaxed_structure(here / "pw.out")
        return QETaskDoc(
            program="pw", label="pw", dir_name=str(here), job_uuid=_job_uuid(), qe_version=out.qe_version,
            wall_time_s=summary["wall_time_s"], processor_cores=out.processor_cores, attempts=summary["attempts"],
            corrections=summary["corrections"],
            parameters=summary["spec"]["parameters"], structure=final, kgrid=kgrid,
            total_energy_Ry=out.total_energy_ry, fermi_energy_eV=out.fermi_energy_ev,
            total_magnetization_muB=out.total_magnetization_muB,
            absolute_magnetization_muB=out.absolute_magnetization_muB,
        )

    def _spin(self, structure: Structure) -> dict[str, Any] | None:
        if not self.starting_magnetization:
            return None
        species = as_cell(structure).species  # the writer's species order
        values = {i: self.starting_magnetization.get(el, 0.0) for i, el in enumerate(species, start=1)}
        return {"system": {"nspin": 2, "starting_magnetization": values}}


def _relaxed_structure(path: Path) -> Structure:
    """Last structure of a relaxation, read with ASE's espresso-out reader."""
    from ase.io import read
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_structure(read(path, format="espresso-out", index=-1))


@dataclass
class PhMaker(Maker):
    """ph.x on a q-grid: plain phonons (`mode='phonons'`) or el-ph (`mode='elph'`).

    `make(..., start_q, last_q)` restricts the run to part of ph.x's irreducible q-points (splits).
    """

    name: str = "ph"
    mode: str = "phonons"
    qgrid: Grid = (2, 2, 2)
    parameters: dict[str, Any] = field(default_factory=dict)
    max_errors: int = 5
    walltime_s: float | None = None

    @job
    def make(self, scf_dir: str, a2f_dir: str | None = None, start_q: int | None = None,
             last_q: int | None = None) -> QETaskDoc:
        here = Path.cwd()
        copy_from(scf_dir, ["out/*.save/*", "out/*.xml"])
        if a2f_dir is not None:
            copy_from(a2f_dir, ["out/*.a2Fsave"])
        extra: dict[str, Any] = {"fildyn": FILDYN}
        if start_q is not None:
            extra.update(start_q=int(start_q), last_q=int(last_q))
        if self.walltime_s:
            extra["max_seconds"] = WALLTIME_MARGIN * self.walltime_s
        params = ph_parameters(self.mode, self.parameters, extra)
        spec = {"program": "ph", "parameters": params, "inputs": {"qgrid": list(self.qgrid)}}
        summary = run_with_handlers(
            here, "ph", spec, default_handlers("ph", "ph"), max_errors=self.max_errors,
            accept_nonzero=lambda d: not unfinished_qpoints(d, read_spec(d, "ph")),
        )
        out = parse_ph_output(here / "ph.out")
        if not (out.job_done and out.converged and not out.errors):
            raise _fail("ph", here / "ph.out", f"not converged or failed: {[str(e) for e in out.errors]}")
        computed = computed_qpoints(here).values()
        freqs = [f for q in computed for f in _optical_or_finite_q(q)]
        return QETaskDoc(
            program="ph", label="ph", dir_name=str(here), job_uuid=_job_uuid(), qe_version=out.qe_version,
            wall_time_s=summary["wall_time_s"], processor_cores=out.processor_cores, attempts=summary["attempts"],
            corrections=summary["corrections"],
            parameters=summary["spec"]["parameters"], qgrid=tuple(self.qgrid), n_qpoints=len(out.grid_q_points_cart_2pi_alat),
            qpoint_range=(int(start_q), int(last_q)) if start_q is not None else None,
            lowest_frequency_meV=min(freqs) * THZ_TO_MEV if freqs else None,
            gamma_acoustic_meV=acoustic_at_gamma_meV(computed),
        )


def _optical_or_finite_q(qpoint) -> list[float]:
    """Frequencies (THz) that can signal an instability: at Γ the three acoustic modes are dropped
    (ph.x prints them without the acoustic sum rule, often a few cm⁻¹ imaginary)."""
    frequencies = np.sort(np.asarray(qpoint.frequencies_thz, dtype=float))
    return (frequencies[3:] if np.allclose(qpoint.q_cart_2pi_alat, 0.0) else frequencies).tolist()


def acoustic_at_gamma_meV(qpoints) -> float | None:
    """How far ph.x's three acoustic modes at Γ are from zero (None without Γ among `qpoints`): the
    acoustic-sum-rule violation, large when the exchange-correlation potential is sampled on too coarse a
    density grid (alkali metals, NLCC)."""
    gamma = next((q for q in qpoints if np.allclose(q.q_cart_2pi_alat, 0.0)), None)
    if gamma is None:
        return None
    return float(np.sort(np.abs(np.asarray(gamma.frequencies_thz, dtype=float)))[:3].max() * THZ_TO_MEV)


def as_structure(structure: Structure | dict) -> Structure:
    """A Job's structure argument as a Structure (jobflow hands references over as dicts)."""
    return Structure.from_dict(structure) if isinstance(structure, dict) else structure


def _gather_ph(ph_dirs: list[str], la2F: bool) -> int:
    """Copy dyn files (and el-ph files) of one or several ph.x runs here; check every q is present."""
    for ph_dir in ph_dirs:
        copy_from(ph_dir, [f"{FILDYN}*"])
        if la2F:
            copy_from(ph_dir, ["elph_dir/a2Fq2r.*", ELPH_FILE.format(index="*")])
    n_q = len(parse_ph_output(Path(ph_dirs[0]) / "ph.out").grid_q_points_cart_2pi_alat)
    missing = [iq for iq in range(1, n_q + 1) if not Path(f"{FILDYN}{iq}").is_file()]
    if missing:
        raise FileNotFoundError(f"q-points {missing} have no dynamical matrix in {ph_dirs}: a split run is missing")
    return n_q


def force_constants_file(q2r: QETaskDoc) -> Path:
    """q2r.x's force constants of a task (la2F runs write one complete set per smearing batch)."""
    for folder in (q2r.dir_name, *q2r.extra_dirs):
        if (Path(folder) / FLFRC).is_file():
            return Path(folder) / FLFRC
    raise FileNotFoundError(f"no {FLFRC} in the q2r.x run folder {q2r.dir_name} or its batches")


@dataclass
class Q2rMaker(Maker):
    """q2r.x: gathers the dyn files of one or several (q-split) ph.x runs → force constants.

    With `la2F`, QE 6.7's q2r.x transforms exactly 10 el-ph smearings (files a2Fq2r.51-60), so the
    smearings run in batches of 10 in sub-folders `sigma_batch_<b>` (each a complete q2r run).
    """

    name: str = "q2r"
    la2F: bool = False
    el_ph_nsigma: int = 10
    parameters: dict[str, Any] = field(default_factory=dict)

    @job
    def make(self, ph_dirs: list[str]) -> QETaskDoc:
        here = Path.cwd()
        n_q = _gather_ph(ph_dirs, self.la2F)
        params = {"fildyn": FILDYN, "flfrc": FLFRC, "zasr": "crystal", **self.parameters}
        batches = [here]
        if self.la2F:
            batches = [self._prepare_batch(here, b, n_q) for b in range(self.el_ph_nsigma // SMEARINGS_PER_BATCH)]
            params["la2F"] = True
        wall, corrections = 0.0, []
        for folder in batches:
            summary = run_with_handlers(folder, "q2r", {"program": "q2r", "parameters": params, "inputs": {}}, [])
            wall += summary["wall_time_s"]
            if not (folder / FLFRC).is_file():
                raise _fail("q2r", folder / "q2r.out", f"no force constants {FLFRC} written")
        return QETaskDoc(
            program="q2r", label="q2r", dir_name=str(here), job_uuid=_job_uuid(), wall_time_s=wall,
            attempts=len(batches), corrections=corrections, parameters=params, n_qpoints=n_q,
            extra_dirs=[str(b) for b in batches if b != here],
        )

    @staticmethod
    def _prepare_batch(here: Path, batch: int, n_q: int) -> Path:
        folder = here / f"sigma_batch_{batch}"
        (folder / "elph_dir").mkdir(parents=True, exist_ok=True)
        for dyn in here.glob(f"{FILDYN}*"):
            if dyn.is_file():
                _link(dyn, folder / dyn.name)
        for slot in range(SMEARINGS_PER_BATCH):
            source_index = 51 + SMEARINGS_PER_BATCH * batch + slot
            for iq in range(1, n_q + 1):
                source = here / "elph_dir" / f"a2Fq2r.{source_index}.{iq}"
                if not source.is_file():
                    raise FileNotFoundError(f"{source} missing: did ph.x run with el_ph_nsigma ≥ {source_index - 50}?")
                _link(source, folder / "elph_dir" / f"a2Fq2r.{51 + slot}.{iq}")
        return folder


def _link(source: Path, target: Path) -> None:
    if target.exists() or target.is_symlink():
        target.unlink()
    os.symlink(source, target)


# matdyn acoustic sum rules, most rigorous first (see MatdynMaker._dos_with_working_asr)
ASR_CHOICES = ("crystal", "simple", "no")


@dataclass
class MatdynMaker(Maker):
    """matdyn.x DOS with per-site projection (+ α²F and the `lambda` table with `la2F`)."""

    name: str = "matdyn"
    la2F: bool = False
    dos_grid: Grid = (20, 20, 20)
    ndos: int = DEFAULT_NDOS
    el_ph_sigma_Ry: float = 0.001
    mu_star: float = 0.10
    imaginary_limit_meV: float | None = None  # DOS below −limit: α²F files not read (QE writes λ < 0)
    parameters: dict[str, Any] = field(default_factory=dict)

    @job
    def make(self, q2r: QETaskDoc | dict, structure: Structure, qgrid: Grid) -> QETaskDoc:
        structure = as_structure(structure)
        q2r = QETaskDoc.model_validate(q2r) if isinstance(q2r, dict) else q2r
        here = Path.cwd()
        sources = [Path(d) for d in q2r.extra_dirs] or [Path(q2r.dir_name)]
        params = {"flfrc": FLFRC, "asr": ASR_CHOICES[0], "ndos": self.ndos, "fldos": "phonon.dos", **self.parameters}
        if self.la2F:
            params["la2F"] = True
        labels = site_labels(structure)
        wall, a2f_all, qe_lambda, dos = 0.0, [], [], None
        for batch, source in enumerate(sources):
            folder = here / source.name if self.la2F else here
            folder.mkdir(exist_ok=True)
            patterns = [FLFRC] + (["elph_dir/a2Fmatdyn.*"] if self.la2F else [])
            copy_from(source, patterns, folder)
            wall += self._run(folder, params)
            if dos is None:
                dos, params, retry_wall = self._dos_with_working_asr(folder, params, labels, qgrid)
                wall += retry_wall
            if self.la2F and not self._imaginary(dos):
                a2f_all += self._a2f_batch(folder, batch, params["ndos"])
                qe_lambda += [
                    QELambdaRow(smearing_Ry=r.sigma_ry, lambda_=r.lambda_, omega_log_K=r.omega_log_K,
                                tc_mcmillan_K=r.mcmillan_tc_K(self.mu_star) if r.omega_log_K else None)
                    for r in parse_matdyn_lambda(folder / "lambda", n_smearings=SMEARINGS_PER_BATCH)
                ]
        return QETaskDoc(
            program="matdyn", label="matdyn", dir_name=str(here), job_uuid=_job_uuid(), wall_time_s=wall,
            attempts=len(sources), parameters=params, qgrid=tuple(qgrid), phonon_dos=dos,
            a2f_all=a2f_all, qe_lambda=qe_lambda,
        )

    def _imaginary(self, dos: PhononDosData) -> bool:
        return self.imaginary_limit_meV is not None and dos_lowest_meV(dos) < -self.imaginary_limit_meV

    def _run(self, folder: Path, params: dict[str, Any]) -> float:
        spec = {"program": "matdyn", "parameters": params, "inputs": {"dos_grid": list(self.dos_grid)}}
        return run_with_handlers(folder, "matdyn", spec, [])["wall_time_s"]

    def _dos_with_working_asr(self, folder: Path, params: dict[str, Any], labels: list[str], qgrid: Grid):
        """(DOS, parameters, extra wall time): matdyn 6.7 can write an all-NaN DOS with one acoustic sum
        rule and not with another (bcc Ba: 'crystal'; bcc Mo: 'simple'), so the next rule is tried and
        the one that worked is what the task document records."""
        wall, error = 0.0, None
        for asr in ASR_CHOICES[ASR_CHOICES.index(params["asr"]):]:
            if asr != params["asr"]:
                params = {**params, "asr": asr}
                wall += self._run(folder, params)
            try:
                parsed = parse_matdyn_dos(folder / "phonon.dos", site_labels=labels, n_points=params["ndos"])
            except ParseError as err:
                error = err
                continue
            dos = PhononDosData(
                omega_meV=parsed.omega_meV.tolist(), total_states_per_meV=parsed.total.tolist(),
                projected_states_per_meV=parsed.projected.tolist(), site_labels=list(parsed.site_labels),
                qgrid=tuple(qgrid), dos_grid=tuple(self.dos_grid),
            )
            return dos, params, wall
        raise error

    def _a2f_batch(self, folder: Path, batch: int, ndos: int) -> list[A2FData]:
        spectra = []
        for slot in range(1, SMEARINGS_PER_BATCH + 1):
            spectrum = parse_a2f_dos(folder / f"a2F.dos{slot}", n_points=ndos)
            spectra.append(a2f_data(spectrum.omega_meV, spectrum.a2f, SMEARINGS_PER_BATCH * batch + slot,
                                    self.el_ph_sigma_Ry, self.mu_star))
        return spectra


@dataclass
class LambdaMaker(Maker):
    """lambda.x: λ per el-ph smearing as the star-weighted sum of ph.x's λ_qν over the irreducible
    q-points — no Fourier interpolation, so beside matdyn's λ it shows whether the q-grid is fine enough.

    Reads the elph_dir files of one or several (q-split) el-ph ph.x runs, Γ's acoustic modes set to ω = λ = 0
    (`zero_gamma_acoustic_modes`). lambda.x's own α²F is undefined for any other imaginary mode (√ω² of a
    negative ω²) and its arrays are fixed-size: in those cases it is not run and the task has no λ rows (the
    document's `lambda_qsum` stays empty).
    """

    name: str = "lambda"
    degauss_THz: float = 0.12  # phonon smearing of lambda.x's α²F (its λ sum does not depend on it)
    emax_over_top_frequency: float = 1.25  # α²F axis 0..emax must cover every phonon
    mu_star: float = 0.10

    @job
    def make(self, ph_dirs: list[str], structure: Structure) -> QETaskDoc:
        structure = as_structure(structure)
        here = Path.cwd()
        ph_list = parse_ph_output(Path(ph_dirs[0]) / "ph.out")  # every split lists all irreducible q
        computed = [q for ph_dir in ph_dirs for q in computed_qpoints(ph_dir).values()]
        why_not = _why_lambda_x_cannot_run(ph_list, computed, n_modes=3 * len(structure))
        if why_not is not None:
            logger.warning("lambda.x not run for %s in %s: %s", structure.composition.reduced_formula, here, why_not)
            return QETaskDoc(program="lambda", label="lambda", dir_name=str(here), job_uuid=_job_uuid(),
                             wall_time_s=0.0, attempts=0, qgrid=ph_list.q_grid)
        for ph_dir in ph_dirs:
            copy_from(ph_dir, [ELPH_FILE.format(index="*")])
        for path in sorted(here.glob(ELPH_FILE.format(index="*"))):
            zero_gamma_acoustic_modes(path)
        qpoints, weights = star_weighted_qpoints(ph_list, structure, Path(ph_dirs[0]) / "ph.out")
        top_thz = max(float(q.frequencies_thz.max()) for q in computed)
        params = {"emax_THz": round(self.emax_over_top_frequency * top_thz, 3), "degauss_THz": self.degauss_THz,
                  "mu_star": self.mu_star}
        inputs = {"qpoints": np.asarray(qpoints).tolist(), "weights": weights,
                  "elph_files": elph_files(here, len(qpoints))}
        summary = run_with_handlers(here, "lambda", {"program": "lambda", "parameters": params, "inputs": inputs}, [])
        rows = [
            QELambdaRow(smearing_Ry=r.sigma_ry, lambda_=r.lambda_, omega_log_K=r.omega_log_K, tc_mcmillan_K=r.tc_K)
            for r in parse_lambda_output(here / "lambda.out", n_smearings=max(len(q.elph) for q in computed)).rows
        ]
        return QETaskDoc(
            program="lambda", label="lambda", dir_name=str(here), job_uuid=_job_uuid(),
            wall_time_s=summary["wall_time_s"], attempts=summary["attempts"], parameters=params,
            qgrid=ph_list.q_grid, n_qpoints=len(qpoints), qe_lambda=rows,
        )


def _optical_or_finite_q(q) -> np.ndarray:
    """A computed q-point's frequencies without Γ's three acoustic ones (the three smallest |ω| at Γ)."""
    if np.linalg.norm(q.q_cart_2pi_alat) > 1e-8:
        return q.frequencies_thz
    return q.frequencies_thz[np.sort(np.argsort(np.abs(q.frequencies_thz))[3:])]


def _why_lambda_x_cannot_run(ph_list, computed: list, n_modes: int) -> str | None:
    """lambda.x's limits, or an imaginary mode at a computed q-point (lambda.x takes √ω² of every mode; Γ's
    three acoustic ones are set to zero before it runs), else None."""
    n_smearings = max(len(q.elph) for q in computed)
    beyond = beyond_limits(len(ph_list.grid_q_points_cart_2pi_alat), n_modes, n_smearings)
    if beyond is not None:
        return beyond
    lowest_thz = min((float(f) for q in computed for f in _optical_or_finite_q(q)), default=0.0)
    return f"ph.x printed an imaginary frequency ({lowest_thz * THZ_TO_MEV:.2f} meV)" if lowest_thz < 0 else None
