"""The EPW route to α²F: a Flow branch beside the DFPT one, ending in the same `ElectronPhononDoc`
(method='epw').

    [vc-relax] → scf → coarse ph.x → q2r → matdyn DOS → stability gate ──unstable──→ document
                                                            └─stable──→ ph.x on the el-ph q-grid (dvscf kept)
        → q2r → matdyn (FPD) ; save/ (pp.py step) → nscf (full coarse k-grid) → epw.x → band check
        → document: α²F per smearing + chosen, λ, ω_log, ω₂, Tc — or 'unstable' when matdyn's phonons of
          the el-ph q-grid are imaginary, or 'failed' with the reason when the Wannier bands miss DFT or
          EPW's interpolated phonons are imaginary (never a λ then)

The first four steps, the gate, the document Job and its builder are the DFPT flow's:
`EpwElectronPhononMaker` subclasses `ElectronPhononMaker` and overrides its two route hooks,
`elph_branch` (the Jobs the gate runs for a stable material) and `route_result` (EPW's part of the
document). The document therefore gets the same el-ph-grid stability check as a DFPT one (the matdyn
DOS of the EPW ph.x q-grid: an imaginary mode → 'unstable', no α²F). EPW's diagnostics (Wannier
spreads, band check, interpolated-frequency check, N(E_F)) are the document's typed `epw` field,
EPW's own λ its `qe_lambda`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from jobflow import Flow
from pymatgen.core import Structure

from betenet.qe.params import deep_merge
from betenet.store.documents import EpwDiagnostics, Provenance, StabilityData, WannierBandCheck
from betenet.workflows.documents import RouteResult, store_document
from betenet.workflows.epw_makers import (
    BandCheckMaker,
    EpwMaker,
    EpwSaveMaker,
    EpwTaskDoc,
    NscfMaker,
)
from betenet.workflows.epw_presets import RY_TO_EV, EpwSettings, resolve_epw_settings
from betenet.workflows.flows import ElectronPhononMaker
from betenet.workflows.makers import MatdynMaker, PhMaker, Q2rMaker, choose_kgrid
from betenet.workflows.outputs import QETaskDoc
from betenet.workflows.spin import MAGNETISM_TASK


@dataclass
class EpwElectronPhononMaker(ElectronPhononMaker):
    """EPW electron-phonon Flow maker. Build with `EpwElectronPhononMaker.from_preset('test')`."""

    name: str = "electron-phonon epw"
    settings: EpwSettings = field(default_factory=lambda: resolve_epw_settings("production"))

    @classmethod
    def from_preset(cls, preset: str = "production", **overrides: Any) -> "EpwElectronPhononMaker":
        return cls(settings=resolve_epw_settings(preset, overrides))

    def with_options(self, **overrides: Any) -> "EpwElectronPhononMaker":
        merged = deep_merge(self.settings.model_dump(), overrides)
        return dataclasses.replace(self, settings=resolve_epw_settings(merged.pop("preset"), merged))

    def makers(self, structure: Structure) -> dict:
        """The DFPT flow's scf/coarse-phonon Makers plus the EPW branch's."""
        s = self.settings
        shared = super().makers(structure)
        makers = {key: shared[key] for key in ("scf", "ph_coarse", "q2r_coarse", "matdyn_coarse", "relax",
                                                MAGNETISM_TASK) if key in shared}
        qgrid = self.qgrid_elph(structure)
        pw = self.pw_parameters(structure)
        n_atoms = len(structure)
        species = list(dict.fromkeys(site.specie.symbol for site in structure))
        nbnd = {"system": {"nbnd": s.nscf_bands(n_atoms)}}
        ph = deep_merge({"tr2_ph": s.tr2_ph}, s.ph_overrides, {"fildvscf": "dvscf"})
        coarse_k = choose_kgrid(structure, s.kgrid_scf, s.scf_k_density_invA, qgrid)  # = the scf's grid
        fine_k = s.kgrid_elph or choose_kgrid(structure, None, s.k_density_invA)
        fine_q = s.fine_qgrid or choose_kgrid(structure, None, s.fine_q_density_invA)
        smearing_eV = s.el_ph_sigma_Ry * RY_TO_EV
        makers.update(
            ph_epw=PhMaker(name="ph dvscf", mode="phonons", qgrid=qgrid, parameters=ph, max_errors=s.max_errors,
                           walltime_s=s.walltime_s),
            q2r_fine=Q2rMaker(name="q2r fine"),
            matdyn_fine=MatdynMaker(name="matdyn fine", dos_grid=s.dos_grid_fine, ndos=s.ndos),
            save=EpwSaveMaker(),
            nscf=NscfMaker(parameters=deep_merge(pw, nbnd), kgrid=coarse_k, max_errors=s.max_errors),
            epw=EpwMaker(
                parameters=deep_merge({
                    "degaussw": round(smearing_eV, 8), "delta_smear": round(smearing_eV, 8), "nsmear": s.el_ph_nsigma,
                    "fsthick": round(s.fermi_window_eV(), 6), "degaussq": s.phonon_smearing_meV,
                    "delta_qsmear": s.phonon_smearing_step_meV, "num_iter": s.wannier_num_iter,
                    **({"bands_skipped": s.bands_skipped} if s.bands_skipped else {}),
                    **({"scdm_proj": True, "auto_projections": True, "scdm_entanglement": "erfc",
                        "scdm_sigma": s.scdm_sigma_eV} if s.scdm else {}),
                }, s.epw_overrides),
                coarse_kgrid=coarse_k, coarse_qgrid=tuple(qgrid), fine_kgrid=tuple(fine_k), fine_qgrid=tuple(fine_q),
                fine_q_irreducible=s.fine_q_irreducible, projections=tuple(s.projection_lines(species)),
                n_wannier=s.wannier_count(n_atoms), dis_froz_max_above_fermi_eV=s.dis_froz_max_above_fermi_eV,
                dis_win_max_above_fermi_eV=s.dis_win_max_above_fermi_eV, el_ph_sigma_Ry=s.el_ph_sigma_Ry,
                chosen_phonon_smearing_index=s.chosen_phonon_smearing_index,
                frequency_threshold_meV=s.stability_threshold_meV, mu_star=s.mu_star,
                scdm_mu_above_fermi_eV=s.scdm_mu_above_fermi_eV if s.scdm else None,
            ),
            band_check=BandCheckMaker(parameters=deep_merge(pw, nbnd), coarse_kgrid=coarse_k,
                                      window_eV=s.band_check_window_eV, tolerance_eV=s.band_check_tolerance_eV,
                                      max_kpoints=s.band_check_max_kpoints, max_errors=s.max_errors),
        )
        return {step: dataclasses.replace(m, **self.maker_updates.get(type(m).__name__, {})) for step, m in makers.items()}

    # --- the route hooks of ElectronPhononMaker ----------------------------------------------

    def elph_branch(self, structure: Structure, input_structure: Structure, calc_id: str, pseudos: list,
                    tasks: dict, verdict: StabilityData) -> Flow:
        """What the stability gate runs for a stable material: ph.x (dvscf kept) → q2r → matdyn (FPD);
        save/ → nscf → epw.x → band check → document."""
        makers = self.makers(structure)
        scf_dir = QETaskDoc.model_validate(tasks["scf"]).dir_name
        ph = makers["ph_epw"].make(scf_dir)
        q2r = makers["q2r_fine"].make([ph.output.dir_name])
        matdyn = makers["matdyn_fine"].make(q2r.output, structure, self.qgrid_elph(structure))
        save = makers["save"].make([ph.output.dir_name])
        nscf = makers["nscf"].make(structure, scf_dir)
        epw = makers["epw"].make(structure, nscf.output, save_dir=save.output)
        check = makers["band_check"].make(structure, scf_dir, epw.output)
        tasks = {**tasks, "ph_elph": ph.output, "q2r_elph": q2r.output, "matdyn_elph": matdyn.output,
                 "nscf": nscf.output}
        doc = store_document(self, structure, input_structure, calc_id, pseudos, tasks, verdict,
                             {"epw": epw.output, "band_check": check.output})
        return Flow([ph, q2r, matdyn, save, nscf, epw, check, doc], output=doc.output, name="epw")

    def route_result(self, tasks: dict[str, QETaskDoc], route_outputs: dict[str, Any]) -> RouteResult:
        """EPW's part of the document from its epw.x and band-check outputs (empty before they ran)."""
        if not route_outputs:  # the coarse gate found the material unstable
            return RouteResult()
        return epw_route(EpwTaskDoc.model_validate(route_outputs["epw"]),
                         WannierBandCheck.model_validate(route_outputs["band_check"]))


def failure_reason(epw: EpwTaskDoc, band_check: WannierBandCheck) -> str | None:
    """Why the EPW α²F must not be used, or None when both checks pass."""
    reasons = []
    if not band_check.passed:
        reasons.append(
            f"Wannier interpolation poor: bands miss DFT by up to {band_check.max_abs_error_eV:.3f} eV "
            f"(tolerance {band_check.tolerance_eV} eV) within ±{band_check.window_eV} eV of E_F at "
            f"{band_check.n_kpoints} off-grid k-points; try more Wannier functions or another frozen window"
        )
    if not epw.phonons.passed:
        reasons.append(
            f"EPW interpolated phonons imaginary: {epw.phonons.n_imaginary_modes} modes below "
            f"−{epw.phonons.threshold_meV} meV on the fine q-points (lowest {epw.phonons.lowest_frequency_meV:.2f} "
            f"meV); denser coarse q-grid needed"
        )
    return "; ".join(reasons) or None


def epw_route(epw: EpwTaskDoc, band_check: WannierBandCheck) -> RouteResult:
    """EPW's part of the document: its α²F and λ, the fine k-grid, the checks' verdict and diagnostics."""
    diagnostics = EpwDiagnostics(
        epw_version=epw.epw_version, fine_qgrid=epw.fine_qgrid, n_fine_qpoints=epw.n_fine_qpoints,
        coarse_kgrid=epw.coarse_kgrid, n_wannier=epw.n_wannier, inputepw=epw.parameters,
        wannier_spreads_A2=epw.wannier_spreads_A2, wannier_omega_total_A2=epw.wannier_omega_total_A2,
        disentanglement_converged=epw.disentanglement_converged, band_check=band_check,
        interpolated_phonons=epw.phonons, phonon_smearing_meV=epw.phonon_smearing_meV,
        fermi_energy_nscf_eV=epw.fermi_energy_nscf_eV, dos_states_per_spin_eV=epw.dos_states_per_spin_eV,
    )
    provenance = Provenance(
        job_uuids={"epw": epw.job_uuid} if epw.job_uuid else {}, wall_times_s={"epw": epw.wall_time_s},
        run_dirs={"epw": epw.dir_name, **({"band_check": band_check.dir_name} if band_check.dir_name else {})},
    )
    return RouteResult(a2f_all=epw.a2f_all, qe_lambda=epw.epw_lambda, kgrid_elph=epw.fine_kgrid,
                       failure_reason=failure_reason(epw, band_check), epw=diagnostics, provenance=provenance)
