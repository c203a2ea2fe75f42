"""Electron-phonon workflow options: presets test / fast / validation / production, every field overridable.

`ElectronPhononSettings` is the one validated set of knobs of the flow. `resolve_settings(preset,
overrides)` layers defaults ← preset ← user overrides through the engine's pure `deep_merge` and
validates the result, so a bad option fails before any Job exists, with a message naming it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from betenet.qe.params import deep_merge
from betenet.workflows.spin import DEFAULT_MOMENT_THRESHOLD_MUB

Grid = tuple[int, int, int]
METHODS = ("dfpt", "epw")
PRESET_NAMES = ("test", "fast", "validation", "production")
# QE 6.7's q2r.x/matdyn.x interpolate 10 el-ph smearings per run; more run in batches of 10.
SMEARINGS_PER_BATCH = 10
# the stability cause's and the remedy ladder's options (see workflows/instability.py, workflows/remedy.py)
LADDER_OPTIONS = ("gamma_radius_invA", "born_growth_ratio", "remedy_max_attempts", "remedy_k_factor",
                  "remedy_q_step", "gamma_residual_max_fraction", "remedy_ecutrho_factor")


class ElectronPhononSettings(BaseModel):
    """All physics and run options of `ElectronPhononMaker` (frozen; change with model_copy)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: str = Field(description="Name of the preset these settings started from.")
    method: Literal["dfpt", "epw"] = "dfpt"
    relax: bool = Field(default=False, description="Run a pw.x vc-relax first.")
    ecutwfc_Ry: float | None = Field(default=None, description="None: the pseudo family's hint.")
    ecutrho_Ry: float | None = Field(default=None, description="None: family hint, else 4×ecutwfc.")
    smearing: str = Field(default="mv", description="pw.x occupation smearing.")
    degauss_Ry: float = Field(default=0.02, gt=0)
    conv_thr_Ry: float = Field(default=1e-10, gt=0)
    tr2_ph: float = Field(default=1e-14, gt=0, description="ph.x self-consistency threshold.")
    k_density_invA: float = Field(default=40.0, gt=0, description="Dense (la2F) k-grid density, Å⁻¹.")
    q_density_invA: float = Field(default=15.0, gt=0, description="el-ph q-grid density, Å⁻¹.")
    scf_k_density_invA: float = Field(default=20.0, gt=0, description="Normal scf k-grid density, Å⁻¹.")
    kgrid_scf: Grid | None = Field(default=None, description="Explicit scf k-grid (wins over density).")
    kgrid_elph: Grid | None = Field(default=None, description="Explicit dense k-grid (wins).")
    qgrid_elph: Grid | None = Field(default=None, description="Explicit el-ph q-grid (wins).")
    qgrid_coarse: Grid = Field(default=(2, 2, 2), description="Coarse phonons (CPD) q-grid.")
    dos_grid_coarse: Grid = Field(default=(20, 20, 20), description="matdyn DOS mesh, coarse.")
    dos_grid_fine: Grid = Field(default=(20, 20, 20), description="matdyn DOS mesh, fine.")
    ndos: int = Field(default=200, ge=10, description="Points of matdyn's DOS axis.")
    el_ph_sigma_Ry: float = Field(default=0.001, gt=0)
    el_ph_nsigma: int = Field(default=30, ge=10, le=50)
    chosen_smearing_Ry: float = Field(default=0.020, gt=0, description="Smearing of the reported α²F.")
    mu_star: float = Field(default=0.10, ge=0, lt=1)
    stability_threshold_meV: float = Field(
        default=0.5, ge=0, description="Modes below −threshold (meV) make the material unstable."
    )
    magnetic_moment_threshold_muB: float = Field(
        default=DEFAULT_MOMENT_THRESHOLD_MUB, gt=0, le=0.5,
        description="A spin-polarised scf moment above this, μB per magnetism-prone atom, stores the material as "
        "'unsupported' without phonons (workflows/spin.py says why 0.1); at most 0.5 so that Ni (0.6) stays out.",
    )
    phonopy_mesh: Grid | None = Field(
        default=(16, 16, 16), description="Dense mesh for phonopy's stability check; None skips it."
    )
    gamma_radius_invA: float = Field(
        default=0.3, gt=0, le=2.0, description="Imaginary acoustic modes closer to Γ than this (Å⁻¹) are a "
        "sum-rule residual unless they grow with |q| (see workflows/instability.py for the data behind 0.3)."
    )
    born_growth_ratio: float = Field(
        default=1.5, gt=1, le=100, description="An acoustic branch near Γ whose imaginary |ω| grows by this factor "
        "from the innermost to the outermost imaginary |q| shell is a genuine (elastic) instability."
    )
    remedy_max_attempts: int = Field(
        default=2, ge=0, le=5, description="Remedy-ladder attempts on the coarse phonons before the verdict is final "
        "(0: no ladder). Each reruns the coarse phonons (and the scf when k or ecutrho change)."
    )
    remedy_k_factor: int = Field(
        default=2, ge=2, le=4, description="The ladder's denser scf k-grid: this many times the k-grid (an integer "
        "factor keeps the dense el-ph grid a multiple of it)."
    )
    remedy_q_step: int = Field(
        default=1, ge=1, le=4, description="The ladder's denser coarse q-grid: this many more points per direction."
    )
    gamma_residual_max_fraction: float = Field(
        default=0.15, gt=0, le=1, description="ph.x's largest |acoustic frequency| at Γ over the top phonon "
        "frequency above which the ladder raises ecutrho. The first campaign (preset fast, 2026-11-27): noble and "
        "transition metals and Sr ≤ 0.09, Ba 0.12, then Li, Ca, In, Pb, Rb, Cs, K, Na 0.16–0.69."
    )
    remedy_ecutrho_factor: float = Field(
        default=2.0, gt=1, le=4, description="The ladder's higher ecutrho: this many times the one that ran."
    )
    q_split: int | None = Field(
        default=None, ge=1, description="Split the el-ph ph.x run into this many q-point Jobs."
    )
    max_errors: int = Field(default=5, ge=0, description="Custodian corrections allowed per program run.")
    walltime_s: float | None = Field(
        default=None, gt=0, description="Wall-time budget of one ph.x/pw.x run (sets max_seconds)."
    )
    converge: bool = Field(
        default=False, description="Raise the dense k-grid until λ and ω_log of two successive grids agree at "
        "some smearing; report the smallest such smearing (else: the seed's chosen_smearing_Ry)."
    )
    converge_tolerance: float = Field(default=0.05, description="Agreement of λ and ω_log between grids, fraction.")
    converge_max_steps: int = Field(default=3, description="At most this many dense k-grids, the first included.")
    converge_k_step: int = Field(
        default=1, description="Each step adds this many scf k-grids to the dense grid (it stays a multiple)."
    )
    mlip_pregate: str | None = Field(
        default=None, description="Interatomic potential (sevennet-0, sevennet-l3i5, chgnet-0.3.0) that looks at the "
        "structure before any QE: grossly unstable → stored 'skipped' with its numbers, no DFT (workflows/pregate.py). "
        "None: off.")
    mlip_pregate_threshold_meV: float = Field(
        default=15.0, gt=0, description="The pre-gate skips a structure whose potential phonons go below −threshold: "
        "far below the DFT gate's: the potentials put DFT-stable metals down to −9.3 meV (bcc Ba, SevenNet-l3i5).")
    pw_overrides: dict[str, Any] = Field(default_factory=dict, description="Extra pw.x namelist values.")
    ph_overrides: dict[str, Any] = Field(default_factory=dict, description="Extra ph.x &inputph values.")

    @model_validator(mode="after")
    def _consistent(self) -> "ElectronPhononSettings":
        if self.method == "epw":
            raise ValueError("method='epw' is built by the EPW workflow (workflows/epw*), not this Maker")
        top = self.el_ph_sigma_Ry * self.el_ph_nsigma
        index = self.chosen_smearing_index
        if index is None:
            raise ValueError(
                f"chosen_smearing_Ry={self.chosen_smearing_Ry} is not one of the el-ph smearings "
                f"{self.el_ph_sigma_Ry}·(1..{self.el_ph_nsigma}) Ry (up to {top:g} Ry)"
            )
        if self.el_ph_nsigma % SMEARINGS_PER_BATCH:
            raise ValueError(
                f"el_ph_nsigma={self.el_ph_nsigma} must be a multiple of {SMEARINGS_PER_BATCH}: QE 6.7's q2r.x/"
                f"matdyn.x interpolate smearings in sets of {SMEARINGS_PER_BATCH}"
            )
        if self.ecutrho_Ry is not None and self.ecutwfc_Ry is not None and self.ecutrho_Ry < 4 * self.ecutwfc_Ry:
            raise ValueError(f"ecutrho_Ry={self.ecutrho_Ry} < 4·ecutwfc_Ry={4 * self.ecutwfc_Ry}")
        for name in ("qgrid_coarse", "dos_grid_coarse", "dos_grid_fine", "kgrid_scf", "kgrid_elph", "qgrid_elph"):
            grid = getattr(self, name)
            if grid is not None and any(n < 1 for n in grid):
                raise ValueError(f"{name}={grid} must be three positive integers")
        if self.kgrid_elph and self.qgrid_elph and any(k % q for k, q in zip(self.kgrid_elph, self.qgrid_elph)):
            raise ValueError(f"kgrid_elph={self.kgrid_elph} must be a multiple of qgrid_elph={self.qgrid_elph}")
        if self.kgrid_elph and self.kgrid_scf and any(k % n for k, n in zip(self.kgrid_elph, self.kgrid_scf)):
            raise ValueError(f"kgrid_elph={self.kgrid_elph} must be a multiple of kgrid_scf={self.kgrid_scf} "
                             "(ph.x interpolates el-ph matrix elements from the scf grid onto the dense grid)")
        return self

    @model_validator(mode="after")
    def _converge_options(self) -> "ElectronPhononSettings":
        if not 0 < self.converge_tolerance < 1:
            raise ValueError(f"Invalid converge_tolerance={self.converge_tolerance}: a fraction in (0, 1)")
        if self.converge_max_steps < 2:
            raise ValueError(f"Invalid converge_max_steps={self.converge_max_steps}: two grids at least are compared")
        if self.converge_k_step < 1:
            raise ValueError(f"Invalid converge_k_step={self.converge_k_step}: add one scf k-grid or more per step")
        if self.converge and self.method != "dfpt":
            raise ValueError(f"Invalid converge=True with method={self.method!r}: the k-grid steps are the DFPT route's")
        if self.converge and self.q_split and self.q_split > 1:
            raise ValueError(f"Invalid converge=True with q_split={self.q_split}: the k-grid steps run ph.x unsplit")
        return self

    @property
    def chosen_smearing_index(self) -> int | None:
        """1-based N of a2F.dosN holding the chosen smearing, or None if it is not on the list."""
        ratio = self.chosen_smearing_Ry / self.el_ph_sigma_Ry
        index = round(ratio)
        return index if abs(ratio - index) < 1e-6 and 1 <= index <= self.el_ph_nsigma else None

    def physics(self) -> dict[str, Any]:
        """The options that change the numbers (for the document identity): no run/budget knobs.

        `converge` and its tolerance are the requested protocol (a converged label is not the seed-convention
        one), so they count when converge is on; left out when off, so plain runs keep their ids. The steps'
        grids and their budget (max steps, k step) never count: raising the budget updates one document. The
        magnetism threshold, the MLIP pre-gate and the stability cause's and remedy ladder's knobs decide whether
        and which attempt's numbers are reported, not the numbers of a calculation; leaving them out keeps the ids of
        documents stored before they existed."""
        skip = {"preset", "max_errors", "walltime_s", "q_split", "converge_max_steps", "converge_k_step",
                "magnetic_moment_threshold_muB", "mlip_pregate", "mlip_pregate_threshold_meV", *LADDER_OPTIONS}
        if not self.converge:
            skip |= {"converge", "converge_tolerance"}
        return self.model_dump(mode="json", exclude=skip)


# Seed-like production (BETE-NET: k ≈ 40/Å⁻¹, q ≈ 15/Å⁻¹, 30 smearings of 0.001 Ry, α²F at 0.020 Ry).
PRESETS: dict[str, dict[str, Any]] = {
    "production": {},
    "fast": {
        "k_density_invA": 25.0,
        "q_density_invA": 8.0,
        "scf_k_density_invA": 15.0,
        "el_ph_sigma_Ry": 0.002,
        "el_ph_nsigma": 20,
        "chosen_smearing_Ry": 0.020,
        "dos_grid_coarse": (12, 12, 12),
        "dos_grid_fine": (12, 12, 12),
        "tr2_ph": 1e-12,
    },
    # Comparison with published el-ph results (benchmarks/validation_elements.py, benchmarks/RESULTS.md): the
    # cutoffs of the pseudo family's own hint (PseudoDojo's "normal", not fast's 2 × "low" in the campaigns),
    # k-grid convergence of λ(σ) on (the reported σ is the converged one), fast's σ list (0.002–0.040 Ry, so the
    # converge step can reach a σ the dense grid resolves) and 20³ DOS meshes for the stability verdict. The
    # densities put cubic metals' el-ph q-grids at 4³ (8 irreducible points: 3³ left Pb imaginary at
    # (0, ⅓, ⅓) in fixtures/stability-reruns) with scf k 8³ and a first dense grid of 2 × scf.
    "validation": {
        "scf_k_density_invA": 15.0,
        "k_density_invA": 25.0,
        "q_density_invA": 8.8,
        "el_ph_sigma_Ry": 0.002,
        "el_ph_nsigma": 20,
        "chosen_smearing_Ry": 0.020,
        "tr2_ph": 1e-12,
        "converge": True,
        "converge_max_steps": 2,  # a third grid is a third el-ph ph.x run; raise it where the budget allows
    },
    # Seconds on fcc Al with Debian's Al.pz-vbc.UPF (QE's example03 physics, 2³ q-grid).
    "test": {
        "ecutwfc_Ry": 15.0,
        "ecutrho_Ry": 60.0,
        "degauss_Ry": 0.05,
        "conv_thr_Ry": 1e-10,
        "tr2_ph": 1e-12,
        "kgrid_scf": (8, 8, 8),
        "kgrid_elph": (16, 16, 16),
        "qgrid_elph": (2, 2, 2),
        "dos_grid_coarse": (10, 10, 10),
        "dos_grid_fine": (10, 10, 10),
        "ndos": 100,
        "el_ph_sigma_Ry": 0.005,
        "el_ph_nsigma": 10,
        "chosen_smearing_Ry": 0.020,
        "phonopy_mesh": (8, 8, 8),
    },
}


class InvalidOptionError(ValueError):
    """A workflow option is unknown or out of range; raised before any Job exists."""


def resolve_settings(preset: str = "production", overrides: dict[str, Any] | None = None) -> ElectronPhononSettings:
    """Defaults ← PRESETS[preset] ← overrides, validated."""
    if preset not in PRESETS:
        raise InvalidOptionError(f"Invalid preset={preset!r}, use one of {PRESET_NAMES}")
    merged = deep_merge({"preset": preset}, PRESETS[preset], overrides)
    try:
        return ElectronPhononSettings(**merged)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in err.errors()
        )
        raise InvalidOptionError(f"invalid electron-phonon options ({preset} preset): {problems}") from err
