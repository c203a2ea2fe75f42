"""The EPW route to α²F: a Flow branch beside the DFPT one, ending in the same `ElectronPhononDoc`
(method='epw').

    [vc-relax] → scf → coarse ph.x → q2r → matdyn DOS → stability gate ──unstable──→ document
                                                            └─stable──→ ph.x on the el-ph q-grid (dvscf kept)
        → q2r → matdyn (FPD) ; save/ (pp.py step) → nscf (full coarse k-grid) → epw.x → band check
        → document: α²F per smearing + chosen, λ, ω_log, ω₂, Tc — or 'failed' with the reason when the
          Wannier bands miss DFT or interpolated phonons are imaginary (never a λ then)

The first four steps, the gate and the unstable document are the DFPT flow's Makers and Jobs;
`EpwElectronPhononMaker` subclasses `ElectronPhononMaker` for its settings/identity plumbing.
EPW-specific results (Wannier spreads, band check, interpolated-frequency check, EPW's own λ and
N(E_F)) live in `parameters.extra["epw"]` of the document.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from jobflow import Flow, Response, job
from pymatgen.core import Structure

from betenet.qe.params import deep_merge
from betenet.settings import get_settings
from betenet.store.documents import (
    CalculationParameters,
    ElectronPhononDoc,
    PseudoData,
    Provenance,
    StabilityData,
)
from betenet.store.stores import get_store, save_document
from betenet.workflows.epw_checks import WannierBandCheck
from betenet.workflows.epw_makers import (
    BandCheckMaker,
    EpwMaker,
    EpwSaveMaker,
    EpwTaskDoc,
    NscfMaker,
)
from betenet.workflows.epw_presets import RY_TO_EV, EpwSettings, resolve_epw_settings
from betenet.workflows.flows import ElectronPhononMaker, coarse_stability_verdict, store_document
from betenet.workflows.makers import MatdynMaker, PhMaker, Q2rMaker, choose_kgrid
from betenet.workflows.outputs import QETaskDoc


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
        makers = {key: shared[key] for key in ("scf", "ph_coarse", "q2r_coarse", "matdyn_coarse", "relax") if key in shared}
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

    def make(self, structure: Structure) -> Flow:
        """The DFPT flow's first half as it is (aligned cell, [relax], scf, coarse phonons), with the EPW
        gate in place of the DFPT one: the same arguments, so both routes stay in step."""
        flow = super().make(structure)
        dfpt_gate = flow.jobs[-1]
        if dfpt_gate.name != "stability_gate":
            raise RuntimeError(f"expected the DFPT flow to end with its stability_gate Job, found {dfpt_gate.name!r}")
        gate = epw_stability_gate(*dfpt_gate.function_args, **dfpt_gate.function_kwargs)
        flow.output = None  # the DFPT gate's output: released before the gate goes
        flow.remove_jobs(len(flow.jobs) - 1)
        flow.add_jobs(gate)
        flow.output = gate.output
        return flow


@job
def epw_stability_gate(maker: EpwElectronPhononMaker, structure, input_structure: Structure, calc_id: str,
                       pseudos: list, tasks: dict) -> Response:
    """Stable → the EPW branch; unstable → the DFPT flow's document Job (status 'unstable')."""
    structure = _structure(structure)
    s = maker.settings
    verdict = coarse_stability_verdict(s, structure, tasks)
    if not verdict.stable:
        doc = store_document(maker, structure, input_structure, calc_id, pseudos, tasks, verdict)
        return Response(output=verdict, replace=Flow([doc], output=doc.output, name="unstable: document"))
    makers = maker.makers(structure)
    scf_dir = QETaskDoc.model_validate(tasks["scf"]).dir_name
    ph = makers["ph_epw"].make(scf_dir)
    q2r = makers["q2r_fine"].make([ph.output.dir_name])
    matdyn = makers["matdyn_fine"].make(q2r.output, structure, maker.qgrid_elph(structure))
    save = makers["save"].make([ph.output.dir_name])
    nscf = makers["nscf"].make(structure, scf_dir)
    epw = makers["epw"].make(structure, nscf.output, save_dir=save.output)
    check = makers["band_check"].make(structure, scf_dir, epw.output)
    tasks = {**tasks, "ph_elph": ph.output, "q2r_elph": q2r.output, "matdyn_elph": matdyn.output,
             "nscf": nscf.output}
    doc = store_epw_document(maker, structure, input_structure, calc_id, pseudos, tasks, verdict, epw.output,
                             check.output)
    jobs = [ph, q2r, matdyn, save, nscf, epw, check, doc]
    return Response(output=verdict, replace=Flow(jobs, output=doc.output, name="epw"))


def _structure(structure) -> Structure:
    return Structure.from_dict(structure) if isinstance(structure, dict) else structure


@job
def store_epw_document(maker: EpwElectronPhononMaker, structure, input_structure, calc_id: str, pseudos: list,
                       tasks: dict, stability: StabilityData, epw: EpwTaskDoc, band_check: WannierBandCheck
                       ) -> ElectronPhononDoc:
    """Assemble the method='epw' document and upsert it into the store."""
    doc = build_epw_document(
        maker.settings, _structure(structure), _structure(input_structure), calc_id, pseudos,
        {k: QETaskDoc.model_validate(v) for k, v in tasks.items()}, stability,
        EpwTaskDoc.model_validate(epw), WannierBandCheck.model_validate(band_check),
    )
    settings = get_settings()
    if maker.document_store:
        settings = settings.model_copy(update=maker.document_store)
    return save_document(doc, get_store(settings))


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


def build_epw_document(settings: EpwSettings, structure: Structure, input_structure: Structure, calc_id: str,
                       pseudos: list, tasks: dict[str, QETaskDoc], stability: StabilityData, epw: EpwTaskDoc,
                       band_check: WannierBandCheck) -> ElectronPhononDoc:
    scf, ph, matdyn = tasks["scf"], tasks["ph_elph"], tasks["matdyn_elph"]
    pw_system = scf.parameters.get("system", {})
    checks = {
        "epw_version": epw.epw_version, "fine_qgrid": epw.fine_qgrid, "n_fine_qpoints": epw.n_fine_qpoints,
        "coarse_kgrid": epw.coarse_kgrid, "n_wannier": epw.n_wannier, "inputepw": epw.parameters,
        "wannier_spreads_A2": epw.wannier_spreads_A2, "wannier_omega_total_A2": epw.wannier_omega_total_A2,
        "disentanglement_converged": epw.disentanglement_converged, "band_check": band_check.model_dump(),
        "interpolated_phonons": epw.phonons.model_dump(), "phonon_smearing_meV": epw.phonon_smearing_meV,
        "fermi_energy_nscf_eV": epw.fermi_energy_nscf_eV, "dos_states_per_spin_eV": epw.dos_states_per_spin_eV,
    }
    params = CalculationParameters(
        qe_version=scf.qe_version, preset=settings.preset, pseudos=[PseudoData.model_validate(p) for p in pseudos],
        ecutwfc_Ry=pw_system.get("ecutwfc"), ecutrho_Ry=pw_system.get("ecutrho"), smearing=settings.smearing,
        degauss_Ry=settings.degauss_Ry, kgrid_scf=scf.kgrid, kgrid_elph=epw.fine_kgrid,
        qgrid_coarse=settings.qgrid_coarse, qgrid_elph=ph.qgrid, el_ph_sigma_Ry=settings.el_ph_sigma_Ry,
        el_ph_nsigma=settings.el_ph_nsigma, chosen_smearing_Ry=settings.chosen_smearing_Ry, mu_star=settings.mu_star,
        stability_threshold_meV=settings.stability_threshold_meV, q_split=None,
        extra={"pw_overrides": settings.pw_overrides, "ph_overrides": settings.ph_overrides, "epw": checks},
    )
    all_tasks = {**tasks, "epw": epw}
    provenance = Provenance(
        job_uuids={k: t.job_uuid for k, t in all_tasks.items() if t.job_uuid},
        run_dirs={**{k: t.dir_name for k, t in all_tasks.items()},
                  **({"band_check": band_check.dir_name} if band_check.dir_name else {})},
        wall_times_s={k: t.wall_time_s for k, t in all_tasks.items()},
    )
    fields: dict[str, Any] = dict(
        calc_id=calc_id, input_structure=input_structure, method="epw", parameters=params, stability=stability,
        provenance=provenance, phonon_dos_coarse=tasks["matdyn_coarse"].phonon_dos,
        phonon_dos_fine=matdyn.phonon_dos, qe_lambda=epw.epw_lambda,
    )
    reason = failure_reason(epw, band_check)
    if reason is not None:
        fields.update(status="failed", status_reason=reason)
    else:
        chosen = next(a for a in epw.a2f_all if a.smearing_index == settings.chosen_smearing_index)
        fields.update(status="ok", a2f_all=epw.a2f_all, a2f=chosen, lambda_=chosen.lambda_,
                      omega_log_K=chosen.omega_log_K, omega_2_K=chosen.omega_2_K, tc_K=chosen.tc_K)
    return ElectronPhononDoc.from_structure(structure, **fields)
