"""The electron-phonon document: the contract between the DFT half and the ML half.

One `ElectronPhononDoc` per (structure, method, physics parameters). It carries emmet's structure
metadata (formula_pretty, elements, chemsys, nsites, symmetry ...) so the store answers the queries
Materials Project users write, the calculation parameters that make the numbers reproducible, the
stability verdict, the phonon DOS (total + per site, coarse and fine), α²F for every el-ph smearing
with the chosen one, the superconducting moments and a status. Unstable and failed materials are
documents too: they carry a status and a reason instead of spectra, never sentinel numbers.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Literal

import numpy as np
from emmet.core.structure import StructureMetadata
from pydantic import BaseModel, Field, field_validator, model_validator
from emmet.core.types.pymatgen_types.structure_adapter import StructureType
from pymatgen.core import Structure

from betenet import __version__
from betenet.eliashberg import EliashbergInputError, eliashberg_tc
from betenet.store.migrations import upgrade

Method = Literal["dfpt", "epw"]
# ok: α²F stored; unstable: a genuine instability; unresolved: imaginary modes the remedy ladder could not
# explain away within its bounds; unsupported: outside what the workflow computes (magnetic metals);
# failed: a program or a check failed.
Status = Literal["ok", "unstable", "unresolved", "unsupported", "failed", "skipped"]
Cause = Literal["genuine", "acoustic_gamma", "interpolation"]
DOCUMENT_VERSION = 2  # what changed in each version: store/migrations.py


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """MongoDB hands datetimes back naive (they are stored as UTC)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


# ---------------------------------------------------------------------------------------------------
# Spectra
# ---------------------------------------------------------------------------------------------------


class PhononDosData(BaseModel):
    """Total and site-projected phonon DOS from matdyn.x (`dos=.true.`), frequencies in meV."""

    omega_meV: list[float] = Field(description="Frequency axis, meV (matdyn's cm⁻¹ × 0.12398).")
    total_states_per_meV: list[float] = Field(description="Total phonon DOS, states/meV per cell.")
    projected_states_per_meV: list[list[float]] = Field(
        description="Per-site phonon DOS [n_sites][n_omega], states/meV, in the order of `site_labels`."
    )
    site_labels: list[str] = Field(description="One label per site, species + 1-based index, e.g. 'Mg1'.")
    qgrid: tuple[int, int, int] = Field(description="q-grid of the force constants (ph.x nq1..nq3).")
    dos_grid: tuple[int, int, int] | None = Field(
        default=None, description="matdyn's nk1..nk3 interpolation mesh for the DOS."
    )

    @model_validator(mode="after")
    def _shapes(self) -> "PhononDosData":
        n = len(self.omega_meV)
        if len(self.total_states_per_meV) != n:
            raise ValueError(f"total DOS has {len(self.total_states_per_meV)} points, omega_meV has {n}")
        if len(self.projected_states_per_meV) != len(self.site_labels):
            raise ValueError(
                f"{len(self.projected_states_per_meV)} projected rows for {len(self.site_labels)} site labels"
            )
        for label, row in zip(self.site_labels, self.projected_states_per_meV):
            if len(row) != n:
                raise ValueError(f"projected DOS of site {label} has {len(row)} points, omega_meV has {n}")
        return self


class EliashbergData(BaseModel):
    """Tc of the isotropic Eliashberg equations for one α²F (`betenet.eliashberg`): a Tc, the temperature it lies
    below, or why the spectrum was refused — never a placeholder number."""

    tc_K: float | None = Field(description="Eliashberg Tc, K; None when it lies below `below_K` or the spectrum "
                               "was refused (`reason` says which).")
    below_K: float | None = Field(default=None, description="Tc lies below this lowest temperature solved, K.")
    reason: str | None = Field(default=None, description="Why tc_K is None.")
    mu_star: float = Field(description="Coulomb pseudopotential on the Allen–Dynes scale, referred to ω_max.")
    mu_star_c: float | None = Field(default=None, description="μ*(ω_c) in the equations (None: refused).")
    omega_c_meV: float | None = Field(default=None, description="Matsubara cutoff ω_c, meV (None: refused).")
    omega_ref_meV: float | None = Field(default=None, description="ω_max, the reference of μ*, meV (None: refused).")
    negative_fraction: float | None = Field(
        default=None, description="Clipped negative α²F weight over λ (None: refused, e.g. for too much of it).")

    @model_validator(mode="after")
    def _reason_when_none(self) -> "EliashbergData":
        if self.tc_K is None and not self.reason:
            raise ValueError("an Eliashberg result without tc_K needs the reason")
        return self

    @classmethod
    def from_spectrum(cls, omega_meV, a2f, mu_star: float, first_bin: int = 0) -> "EliashbergData":
        """Solve for `a2f` on `omega_meV` (meV); a spectrum the solver refuses gives tc_K None with its message."""
        try:
            result = eliashberg_tc(omega_meV, a2f, mu_star=mu_star, first_bin=first_bin)
        except EliashbergInputError as err:
            return cls(tc_K=None, reason=f"refused: {err}", mu_star=mu_star)
        return cls(tc_K=result.tc_K, below_K=result.below_K, reason=result.reason or None, mu_star=mu_star,
                   mu_star_c=result.mu_star_c, omega_c_meV=result.omega_c_meV, omega_ref_meV=result.omega_ref_meV,
                   negative_fraction=result.negative_fraction)


class A2FData(BaseModel):
    """One Eliashberg spectral function α²F(ω) with its moments, for one el-ph smearing."""

    smearing_Ry: float = Field(description="Gaussian smearing of the el-ph double-delta sum, Ry.")
    smearing_index: int = Field(description="1-based index N of QE's a2F.dosN file.")
    omega_meV: list[float] = Field(description="Frequency axis, meV (a2F.dosN's Ry × 13605.693).")
    a2f: list[float] = Field(description="Total α²F(ω), dimensionless.")
    lambda_: float = Field(description="λ = 2∫α²F/ω dω over this spectrum.")
    omega_log_K: float = Field(description="Logarithmic average frequency, K.")
    omega_2_K: float = Field(description="Second-moment frequency sqrt(<ω²>), K.")
    tc_K: float = Field(description="Allen–Dynes Tc with f1·f2 corrections at `mu_star`, K.")
    mu_star: float = Field(description="Coulomb pseudopotential used for tc_K.")
    eliashberg: EliashbergData | None = Field(
        default=None, description="Isotropic Eliashberg Tc of this spectrum at `mu_star` (None: documents stored "
        "before it was computed).")


class QELambdaRow(BaseModel):
    """QE's own numbers for one smearing (matdyn's `lambda` file, lambda.x or EPW): a cross-check."""

    smearing_Ry: float
    lambda_: float
    omega_log_K: float | None = None
    tc_mcmillan_K: float | None = Field(default=None, description="Allen–Dynes-modified McMillan Tc, K.")


# ---------------------------------------------------------------------------------------------------
# EPW diagnostics
# ---------------------------------------------------------------------------------------------------


class WannierBandCheck(BaseModel):
    """Wannier-interpolated vs DFT band energies near E_F at off-grid k-points."""

    n_kpoints: int
    fermi_energy_eV: float = Field(description="Reference E_F of the window (the nscf's).")
    window_eV: float = Field(description="Energies within ±window of E_F are compared.")
    tolerance_eV: float
    n_levels_compared: int
    max_abs_error_eV: float
    rms_error_eV: float
    passed: bool
    dir_name: str | None = Field(default=None, description="Run folder of the DFT bands (pw.x).")


class InterpolatedPhononCheck(BaseModel):
    """Sign of the Wannier-interpolated phonon frequencies on the fine q-points."""

    n_qpoints: int
    lowest_frequency_meV: float
    threshold_meV: float = Field(description="Frequencies below −threshold count as imaginary.")
    n_imaginary_modes: int
    passed: bool


class EpwDiagnostics(BaseModel):
    """What decides whether an EPW α²F may be trusted, and how it was interpolated (method='epw' only)."""

    epw_version: str = Field(description="Version printed by epw.x, e.g. '5.3.1'.")
    fine_qgrid: tuple[int, int, int] = Field(description="EPW's fine q-grid (nqf1..nqf3).")
    n_fine_qpoints: int = Field(description="q-points EPW interpolated (the irreducible wedge when reduced).")
    coarse_kgrid: tuple[int, int, int] = Field(description="k-grid of the nscf EPW Wannierised (nk1..nk3).")
    n_wannier: int = Field(description="Number of Wannier functions (nbndsub).")
    inputepw: dict = Field(description="&inputepw as run (Wannier windows in absolute eV).")
    wannier_spreads_A2: list[float] = Field(default_factory=list, description="Spread Ω per Wannier function, Å².")
    wannier_omega_total_A2: float | None = Field(default=None, description="Total spread, Å² (None on a restart).")
    disentanglement_converged: bool | None = Field(default=None, description="Wannier90's disentanglement converged.")
    band_check: WannierBandCheck
    interpolated_phonons: InterpolatedPhononCheck
    phonon_smearing_meV: float = Field(description="Phonon smearing of the stored α²F (a column of EPW's a2f file).")
    fermi_energy_nscf_eV: float = Field(description="E_F of the nscf the Wannier windows are placed from, eV.")
    dos_states_per_spin_eV: list[float] = Field(
        default_factory=list, description="EPW's N(E_F) per electronic smearing, states/spin/eV."
    )


# ---------------------------------------------------------------------------------------------------
# Parameters, stability, provenance
# ---------------------------------------------------------------------------------------------------


class PseudoData(BaseModel):
    element: str
    filename: str
    md5: str = Field(description="md5 of the pseudopotential file used.")


class CalculationParameters(BaseModel):
    """Everything needed to reproduce the numbers (with the structure)."""

    code: str = Field(default="Quantum ESPRESSO")
    qe_version: str | None = Field(default=None, description="Version printed by pw.x, e.g. '6.7MaX'.")
    preset: str = Field(description="Preset the parameters started from: test / fast / production.")
    pseudos: list[PseudoData] = Field(default_factory=list)
    ecutwfc_Ry: float | None = Field(default=None, description="None only when the run failed before scf.")
    ecutrho_Ry: float | None = None
    smearing: str = Field(description="Electronic occupation smearing of pw.x, e.g. 'mv'.")
    degauss_Ry: float
    kgrid_scf: tuple[int, int, int] | None = None
    kgrid_elph: tuple[int, int, int] | None = Field(
        default=None, description="Dense k-grid of the la2F scf (a multiple of qgrid_elph)."
    )
    qgrid_coarse: tuple[int, int, int] = Field(description="ph.x q-grid of the coarse phonons (CPD).")
    qgrid_elph: tuple[int, int, int] | None = Field(default=None, description="ph.x el-ph q-grid (FPD).")
    el_ph_sigma_Ry: float | None = Field(default=None, description="ph.x el_ph_sigma: smearing step, Ry.")
    el_ph_nsigma: int | None = Field(default=None, description="ph.x el_ph_nsigma: number of smearings.")
    chosen_smearing_Ry: float | None = Field(default=None, description="Smearing of the reported α²F.")
    mu_star: float
    stability_threshold_meV: float
    q_split: int | None = Field(default=None, description="el-ph ph.x split into this many q-point jobs.")
    extra: dict = Field(default_factory=dict, description="Any further overrides given by the user.")


class ImaginaryMode(BaseModel):
    """One imaginary mode: where it is (q, branch) and which kind of evidence shows it."""

    source: str = Field(description="Where it was found, e.g. 'q-grid 2×2×2 (ph.x points)', 'phonopy mesh 16×16×16'.")
    direct: bool = Field(description="At a q-point ph.x computed (True) or interpolated between them (False).")
    q_crystal: tuple[float, float, float] = Field(description="q in crystal coordinates of the reciprocal lattice.")
    q_norm_invA: float = Field(description="|q|, Å⁻¹ (2π convention).")
    branch: int = Field(description="0-based branch, ascending frequency at that q (0–2: acoustic near Γ).")
    frequency_meV: float = Field(description="The (negative = imaginary) frequency, meV.")


class RemedyAttempt(BaseModel):
    """One rung of the remedy ladder: what changed and what the phonons said then."""

    step: int = Field(description="1-based rung number.")
    change: dict = Field(description="The settings changed for this attempt, e.g. {'kgrid_scf': [12, 12, 12]}.")
    why: str = Field(description="The finding this attempt answers.")
    stable: bool
    cause: Cause | None = None
    lowest_frequency_meV: float
    lowest_mode: ImaginaryMode | None = Field(default=None, description="Where the lowest imaginary mode was.")
    wall_time_s: float = Field(description="QE wall time of the attempt's runs, s.")


class StabilityData(BaseModel):
    """Dynamic-stability verdict from the coarse phonons, confirmed on the el-ph q-grid when that ran."""

    stable: bool
    lowest_frequency_meV: float = Field(
        description="Lowest phonon frequency found (negative = imaginary), meV; the minimum of the "
        "q2r/matdyn interpolation and, when run, phonopy's dense mesh."
    )
    threshold_meV: float = Field(description="Modes below −threshold count as imaginary.")
    qgrid: tuple[int, int, int] = Field(description="ph.x q-grid the force constants came from.")
    ph_lowest_frequency_meV: float | None = Field(
        default=None, description="Lowest frequency at the ph.x q-points themselves (Γ acoustic modes left out), meV."
    )
    phonopy_mesh: tuple[int, int, int] | None = Field(
        default=None, description="Dense mesh phonopy interpolated the q2r force constants on."
    )
    phonopy_lowest_frequency_meV: float | None = None
    phonopy_pdos_max_deviation: float | None = Field(
        default=None,
        description="Max |phonopy − matdyn| of the per-site DOS fractions (∫pdos/∫total): a cross-check.",
    )
    gamma_acoustic_meV: float | None = Field(
        default=None, description="Acoustic-sum-rule violation: largest |acoustic frequency| ph.x printed at Γ on "
        "the coarse grid, meV. q2r/matdyn impose the rule, but a large value (alkali metals at ecutrho = 4×ecutwfc: "
        "Na 14.6 meV) means stiffened phonons: raise ecutrho."
    )
    elph_qgrid: tuple[int, int, int] | None = Field(
        default=None, description="el-ph q-grid whose interpolated phonons were checked after the coarse gate."
    )
    elph_lowest_frequency_meV: float | None = Field(
        default=None, description="Lowest frequency of the fine phonon DOS (el-ph q-grid force constants), meV."
    )
    cause: Cause | None = Field(
        default=None, description="What the imaginary modes mean (None: there are none): 'genuine' (at directly "
        "computed q-points, or an acoustic branch growing with |q| near Γ), 'acoustic_gamma' (only acoustic modes "
        "near Γ: a sum-rule residual), 'interpolation' (only between the computed q-points)."
    )
    cause_reason: str | None = Field(default=None, description="The evidence behind `cause`, in words.")
    imaginary_modes: list[ImaginaryMode] = Field(
        default_factory=list, description="The lowest mode of each q-point found imaginary, most imaginary first."
    )
    cause_grid: Literal["coarse", "elph"] | None = Field(
        default=None, description="Which q-grid's force constants the cause was found on."
    )
    remedy_attempts: list[RemedyAttempt] = Field(
        default_factory=list, description="The remedy ladder's attempts, in order, each with what it changed and "
        "what the phonons said then (empty: the first run needed no remedy)."
    )


class ConvergenceStep(BaseModel):
    """One dense k-grid of a `--converge` run: λ and ω_log of its α²F at every el-ph smearing."""

    kgrid: tuple[int, int, int] = Field(description="Dense (la2F) k-grid of this step.")
    smearing_Ry: list[float] = Field(description="The el-ph smearings, ascending.")
    lambda_: list[float] = Field(description="λ of the interpolated α²F at each smearing.")
    omega_log_K: list[float] = Field(description="ω_log of the interpolated α²F at each smearing, K.")
    wall_time_s: float = Field(description="QE wall time of this step (la2F scf, el-ph ph.x, q2r, lambda.x, matdyn), s.")


class ConvergenceData(BaseModel):
    """The k-grid convergence of λ(σ) (`converge=True`): every grid, the choice and why."""

    tolerance: float = Field(description="λ and ω_log of the last two grids must agree within this fraction.")
    steps: list[ConvergenceStep] = Field(description="Every dense k-grid computed, in order.")
    converged: bool
    chosen_smearing_Ry: float = Field(description="Smearing of the reported α²F (the default one when not converged).")
    reason: str = Field(description="Why this smearing: the agreement found, or how far the grids stayed apart.")
    wall_time_s: float = Field(description="QE wall time of all steps, s (the cost of converging).")


class QualityData(BaseModel):
    """How far the document's numbers can be trusted, in numbers and named flags."""

    gamma_residual_fraction: float | None = Field(
        default=None, description="ph.x's largest |acoustic frequency| at Γ over the top phonon frequency (0 when the "
        "acoustic sum rule holds): a large value means a coarse density grid (raise ecutrho)."
    )
    interpolation_mismatch: float | None = Field(
        default=None, description="|λ(interpolated α²F) − λ(direct q-sum)| / λ(direct q-sum) at the reported smearing."
    )
    smearing_sensitivity: float | None = Field(
        default=None, description="Largest |Δλ|/λ between the reported smearing and its neighbours in λ(σ)."
    )
    magnetic_moment_muB: float | None = Field(
        default=None, description="Total magnetisation of the spin-polarised check, μB per cell (None: not run)."
    )
    absolute_magnetic_moment_muB: float | None = Field(
        default=None, description="Absolute magnetisation ∫|m| of that check, μB per cell: what the magnetism gate "
        "compares, per magnetism-prone atom, with magnetic_moment_threshold_muB (None: not run)."
    )
    convergence: ConvergenceData | None = Field(default=None, description="k-grid convergence of λ(σ) (None: not run).")
    flags: list[str] = Field(
        default_factory=list, description="Named warnings (see betenet.workflows.quality.FLAGS); build-dataset "
        "leaves flagged documents out unless told to keep a flag."
    )


class MlipPregateData(BaseModel):
    """What the optional interatomic-potential pre-gate found before any QE ran (`workflows/pregate.py`).

    A document with status 'skipped' holds only this: the potential called the structure grossly
    unstable, so no DFT ran — it is not a DFT verdict ('unstable' is)."""

    potential: str = Field(description="Registry name of the potential, e.g. 'sevennet-0'.")
    potential_version: str = Field(description="Its package and version, e.g. 'sevenn 0.13.0'.")
    lowest_frequency_meV: float = Field(description="Lowest phonon frequency on `mesh` (negative: imaginary).")
    q_crystal: tuple[float, float, float] = Field(description="Where, in crystal coordinates of the reciprocal cell.")
    branch: int
    mesh: tuple[int, int, int]
    threshold_meV: float = Field(description="Skipped when the lowest frequency is below −threshold.")
    supercell: tuple[int, int, int]
    displacement_A: float
    wall_s: float = Field(description="Time of the potential's phonons (0 when read from its cache).")


class Provenance(BaseModel):
    flow_uuid: str | None = None
    job_uuids: dict[str, str] = Field(default_factory=dict, description="step name → jobflow uuid")
    run_dirs: dict[str, str] = Field(default_factory=dict, description="step name → run directory")
    wall_times_s: dict[str, float] = Field(default_factory=dict, description="step name → QE wall time")
    processor_cores: dict[str, int] = Field(
        default_factory=dict, description="step name → cores it ran on (pw.x, ph.x); a step not listed ran on one")
    betenet_version: str = Field(default=__version__)


# ---------------------------------------------------------------------------------------------------
# The document
# ---------------------------------------------------------------------------------------------------


class ElectronPhononDoc(StructureMetadata):
    """Electron-phonon results for one structure (emmet-style; structure metadata inherited)."""

    calc_id: str = Field(description="Identity for idempotent upserts: see `calc_identity`.")
    structure: StructureType = Field(description="Structure the phonons were computed for (after relax).")
    input_structure: StructureType | None = Field(default=None, description="Structure before vc-relax.")
    method: Method = Field(description="Route to α²F: 'dfpt' (ph.x + matdyn) or 'epw'.")
    status: Status
    status_reason: str | None = Field(default=None, description="Why status is not 'ok'.")
    parameters: CalculationParameters
    stability: StabilityData | None = None
    phonon_dos_coarse: PhononDosData | None = Field(default=None, description="CPD: 2×2×2 q-grid.")
    phonon_dos_fine: PhononDosData | None = Field(default=None, description="FPD: el-ph q-grid.")
    a2f_all: list[A2FData] = Field(default_factory=list, description="α²F for every el-ph smearing.")
    a2f: A2FData | None = Field(default=None, description="α²F at the chosen smearing.")
    qe_lambda: list[QELambdaRow] = Field(
        default_factory=list, description="QE's own λ table: matdyn's (interpolated α²F) or EPW's (fine-q sum)."
    )
    lambda_qsum: list[QELambdaRow] = Field(
        default_factory=list,
        description="lambda.x's λ per smearing: the star-weighted sum of ph.x's λ_qν over the el-ph q-grid, no "
        "interpolation (compare with qe_lambda to see whether the q-grid is fine enough). Empty for EPW, for "
        "documents older than version 2, and where lambda.x cannot run (imaginary ph.x frequencies, its limits).",
    )
    lambda_: float | None = Field(default=None, description="λ of the chosen α²F.")
    omega_log_K: float | None = None
    omega_2_K: float | None = None
    tc_K: float | None = Field(default=None, description="Allen–Dynes Tc (f1·f2) of the chosen α²F, K.")
    tc_eliashberg_K: float | None = Field(
        default=None, description="Isotropic Eliashberg Tc of the chosen α²F, K: `a2f.eliashberg` has μ*, μ*(ω_c), ω_c "
        "and, when None, the reason (also None for documents stored before it was computed).")
    epw: EpwDiagnostics | None = Field(default=None, description="EPW route's checks and interpolation details.")
    mlip_pregate: MlipPregateData | None = Field(
        default=None, description="The interatomic-potential pre-gate's finding (runs with setting `mlip_pregate`).")
    quality: QualityData = Field(default_factory=QualityData)
    provenance: Provenance = Field(default_factory=Provenance)
    document_version: int = DOCUMENT_VERSION
    created_at: datetime = Field(default_factory=_utcnow)
    last_updated: datetime = Field(default_factory=_utcnow)

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data):
        """Stored documents of older versions load as the current one (store/migrations.py)."""
        return upgrade(data, DOCUMENT_VERSION) if isinstance(data, dict) else data

    @field_validator("created_at", "last_updated")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @model_validator(mode="after")
    def _status_consistent(self) -> "ElectronPhononDoc":
        if self.status != "ok" and not self.status_reason:
            raise ValueError(f"status {self.status!r} needs a status_reason")
        if self.status == "ok" and (self.a2f is None or self.lambda_ is None):
            raise ValueError("status 'ok' needs the chosen α²F and λ")
        if self.status == "unstable" and (self.a2f is not None or self.a2f_all):
            raise ValueError("an unstable material has no α²F (imaginary modes on the coarse or the el-ph q-grid)")
        if self.status == "skipped" and (self.mlip_pregate is None or self.a2f is not None or self.stability is not None):
            raise ValueError("a 'skipped' document holds the pre-gate's numbers (mlip_pregate) and no DFT result")
        return self

    @classmethod
    def from_structure(cls, structure: Structure, **fields) -> "ElectronPhononDoc":
        """Fill emmet's structure metadata from `structure`, the rest from `fields`."""
        meta = StructureMetadata.from_structure(structure).model_dump()
        return cls(**{**meta, "structure": structure, **fields})

    def verdict(self) -> str:
        """One line for tables: 'ok', the status with its stability cause, the grid and the lowest frequency that
        decided it, or the status with its reason."""
        if self.status == "ok":
            return "ok"
        stability = self.stability
        if stability is not None and stability.cause:
            lowest = stability.elph_lowest_frequency_meV if stability.cause_grid == "elph" else \
                stability.lowest_frequency_meV
            return f"{self.status}: {stability.cause} ({stability.cause_grid} grid, {lowest:.2f} meV)"
        return f"{self.status}: {self.status_reason}"

    def to_store(self) -> dict:
        """JSON-safe dict for a maggma Store (datetimes stay datetimes, Mongo stores them natively)."""
        doc = self.model_dump(mode="json")
        doc["created_at"] = self.created_at
        doc["last_updated"] = self.last_updated
        return doc


# ---------------------------------------------------------------------------------------------------
# Identity
# ---------------------------------------------------------------------------------------------------


def structure_fingerprint(structure: Structure, decimals: int = 4) -> str:
    """Hash of the Niggli-reduced cell: the same crystal given twice (even with another cell choice
    of the same size or sites permuted) hashes the same; rounding absorbs float noise."""
    reduced = structure.get_reduced_structure()
    lattice = np.round(reduced.lattice.abc + reduced.lattice.angles, decimals).tolist()
    sites = sorted(
        (site.species_string, *np.round(np.mod(site.frac_coords + 1e-9, 1.0), decimals).tolist())
        for site in reduced
    )
    payload = json.dumps({"lattice": lattice, "sites": sites}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def calc_identity(structure: Structure, method: str, physics: dict) -> str:
    """calc_id = hash(reduced structure) + hash(method + physics parameters).

    `physics` holds only the parameters that change the numbers (grids, cutoffs, smearings, pseudos),
    never paths, pools or timeouts, so re-running on other hardware updates the same document.
    """
    params = json.dumps({"method": method, **physics}, sort_keys=True, default=str)
    return f"{structure_fingerprint(structure)}-{hashlib.sha256(params.encode()).hexdigest()[:12]}"
