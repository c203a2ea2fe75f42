"""Options of the EPW route: the DFPT flow's settings plus the Wannier/EPW knobs, presets test/fast/production.

`EpwSettings` extends `ElectronPhononSettings`, so the shared parts (cutoffs, smearing, coarse phonons,
stability gate, el-ph smearings, μ*) mean the same in both routes, and the DFPT flow's `build_document`
can still write a 'failed' document for an EPW flow. Fields reused with an EPW meaning:
- `kgrid_scf` / `scf_k_density_invA`: the coarse k-grid of scf, nscf and EPW (a multiple of the q-grid).
- `qgrid_elph` / `q_density_invA`: the coarse q-grid of ph.x (dvscf kept) and EPW.
- `kgrid_elph` / `k_density_invA`: EPW's fine k-grid (the dense grid of the double-delta sum).
- `el_ph_sigma_Ry` × (1..`el_ph_nsigma`): EPW's Gaussian electronic smearings (`degaussw`, `delta_smear`,
  `nsmear`), so both routes give α²F at the same smearings; `chosen_smearing_Ry` picks the reported one.
- `stability_threshold_meV`: also the threshold for EPW's interpolated (fine-q) frequencies.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from betenet.physics import RY_TO_MEV
from betenet.qe.params import deep_merge
from betenet.workflows.presets import PRESETS, ElectronPhononSettings, InvalidOptionError

Grid = tuple[int, int, int]
RY_TO_EV = RY_TO_MEV / 1000.0
DEFAULT_PROJECTION = "s;p;d"
WANNIER_PER_ATOM = 9  # s + p + d on every atom


class EpwSettings(ElectronPhononSettings):
    """All options of the EPW flow (frozen)."""

    method: Literal["epw"] = "epw"
    fine_qgrid: Grid | None = Field(default=None, description="EPW fine q-grid (explicit, wins over density).")
    fine_q_density_invA: float = Field(default=30.0, gt=0, description="EPW fine q-grid density, Å⁻¹.")
    fine_q_irreducible: bool = Field(
        default=True, description="Give EPW only the irreducible fine q-points with weights (same α²F, faster)."
    )
    projections: tuple[str, ...] = Field(
        default=(),
        description="Wannier90 projections, e.g. ('Al:s;p;d',). Empty: s;p;d on every species (9 per atom) "
        "unless `scdm` is set.",
    )
    n_wannier: int | None = Field(default=None, ge=1, description="Number of Wannier functions; None: 9 per atom "
                                  "with the default projections (required with explicit projections or SCDM).")
    scdm: bool = Field(default=False, description="Automatic SCDM projections (erfc entanglement; NC pseudos only).")
    scdm_mu_above_fermi_eV: float = Field(default=10.0, description="SCDM erfc centre μ − E_F, eV.")
    scdm_sigma_eV: float = Field(default=3.0, gt=0, description="SCDM erfc width, eV.")
    nbnd_nscf: int | None = Field(default=None, ge=1, description="Bands of the nscf; None: n_wannier + 10 %.")
    bands_skipped: str | None = Field(default=None, description="EPW bands_skipped, e.g. 'exclude_bands = 1-5'.")
    dis_froz_max_above_fermi_eV: float | None = Field(
        default=3.0, description="Top of the frozen window relative to the nscf E_F, eV (None: no frozen window)."
    )
    dis_win_max_above_fermi_eV: float | None = Field(
        default=None, description="Top of the outer window relative to E_F, eV (None: all nscf bands)."
    )
    wannier_num_iter: int = Field(default=300, ge=0, description="Wannier90 localisation iterations.")
    fsthick_eV: float | None = Field(default=None, gt=0, description="EPW Fermi window; None: 4 × largest smearing.")
    phonon_smearing_meV: float = Field(default=0.05, gt=0, description="EPW degaussq: first phonon smearing, meV.")
    phonon_smearing_step_meV: float = Field(default=0.05, gt=0, description="EPW delta_qsmear, meV (10 smearings).")
    chosen_phonon_smearing_meV: float = Field(default=0.5, gt=0, description="Phonon smearing of the stored α²F.")
    band_check_window_eV: float = Field(default=1.0, gt=0, description="Band check: levels within ±window of E_F.")
    band_check_tolerance_eV: float = Field(default=0.1, gt=0, description="Band check: largest allowed |ΔE|.")
    band_check_max_kpoints: int = Field(default=30, ge=1, description="Band check: at most this many k-points.")
    epw_overrides: dict[str, Any] = Field(default_factory=dict, description="Extra &inputepw values.")

    @model_validator(mode="after")
    def _consistent(self) -> "EpwSettings":  # replaces the DFPT settings' check (no q2r batches here)
        if self.chosen_smearing_index is None:
            raise ValueError(
                f"chosen_smearing_Ry={self.chosen_smearing_Ry} is not one of the el-ph smearings "
                f"{self.el_ph_sigma_Ry}·(1..{self.el_ph_nsigma}) Ry"
            )
        if self.chosen_phonon_smearing_index is None:
            raise ValueError(
                f"chosen_phonon_smearing_meV={self.chosen_phonon_smearing_meV} is not one of EPW's 10 phonon "
                f"smearings {self.phonon_smearing_meV} + {self.phonon_smearing_step_meV}·(0..9) meV"
            )
        if (self.projections or self.scdm) and self.n_wannier is None:
            raise ValueError("n_wannier is required with explicit projections or scdm=True")
        if self.q_split not in (None, 1):
            raise ValueError(f"q_split={self.q_split}: the EPW flow runs its ph.x in one Job (leave it None)")
        if self.projections and self.scdm:
            raise ValueError("give projections or scdm=True, not both")
        if self.nbnd_nscf is not None and self.n_wannier is not None and self.nbnd_nscf < self.n_wannier:
            raise ValueError(f"nbnd_nscf={self.nbnd_nscf} < n_wannier={self.n_wannier}")
        if self.ecutrho_Ry is not None and self.ecutwfc_Ry is not None and self.ecutrho_Ry < 4 * self.ecutwfc_Ry:
            raise ValueError(f"ecutrho_Ry={self.ecutrho_Ry} < 4·ecutwfc_Ry={4 * self.ecutwfc_Ry}")
        for name in ("qgrid_coarse", "dos_grid_coarse", "dos_grid_fine", "kgrid_scf", "kgrid_elph", "qgrid_elph",
                     "fine_qgrid"):
            grid = getattr(self, name)
            if grid is not None and any(n < 1 for n in grid):
                raise ValueError(f"{name}={grid} must be three positive integers")
        if self.kgrid_scf and self.qgrid_elph and any(k % q for k, q in zip(self.kgrid_scf, self.qgrid_elph)):
            raise ValueError(f"kgrid_scf={self.kgrid_scf} (EPW's coarse k) must be a multiple of qgrid_elph={self.qgrid_elph}")
        return self

    @property
    def chosen_phonon_smearing_index(self) -> int | None:
        """1-based column of the chosen phonon smearing in EPW's a2f file (10 columns)."""
        ratio = (self.chosen_phonon_smearing_meV - self.phonon_smearing_meV) / self.phonon_smearing_step_meV
        index = round(ratio)
        return index + 1 if abs(ratio - index) < 1e-6 and 0 <= index <= 9 else None

    def smearings_eV(self) -> list[float]:
        return [self.el_ph_sigma_Ry * i * RY_TO_EV for i in range(1, self.el_ph_nsigma + 1)]

    def fermi_window_eV(self) -> float:
        return self.fsthick_eV or 4.0 * max(self.smearings_eV())

    def wannier_count(self, n_atoms: int) -> int:
        return self.n_wannier if self.n_wannier is not None else WANNIER_PER_ATOM * n_atoms

    def nscf_bands(self, n_atoms: int) -> int:
        n_wann = self.wannier_count(n_atoms)
        return self.nbnd_nscf or n_wann + max(1, math.ceil(0.1 * n_wann))

    def projection_lines(self, species: list[str]) -> list[str]:
        if self.scdm:
            return []
        return list(self.projections) or [f"{element}:{DEFAULT_PROJECTION}" for element in species]


# Per preset, what the EPW route changes on top of the DFPT presets.
EPW_PRESETS: dict[str, dict[str, Any]] = {
    "production": {},
    "fast": {"fine_q_density_invA": 16.0},
    # fcc Al with Debian's Al.pz-vbc.UPF in about a minute of CPU (fixtures/qe-6.7/epw/README.md).
    "test": {
        "kgrid_scf": (6, 6, 6),
        "qgrid_elph": (3, 3, 3),
        "kgrid_elph": (12, 12, 12),
        "fine_qgrid": (6, 6, 6),
        "el_ph_nsigma": 10,
    },
}


def resolve_epw_settings(preset: str = "production", overrides: dict[str, Any] | None = None) -> EpwSettings:
    """Defaults ← DFPT PRESETS[preset] ← EPW_PRESETS[preset] ← overrides, validated."""
    if preset not in PRESETS:
        raise InvalidOptionError(f"Invalid preset={preset!r}, use one of {tuple(PRESETS)}")
    merged = deep_merge({"preset": preset}, PRESETS[preset], EPW_PRESETS[preset], overrides)
    if merged.get("method", "epw") != "epw":
        raise InvalidOptionError(f"Invalid method={merged['method']!r} for the EPW flow, use 'epw'")
    try:
        return EpwSettings(**merged)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in err.errors())
        raise InvalidOptionError(f"invalid EPW options ({preset} preset): {problems}") from err
