"""Task documents → the `ElectronPhononDoc`, for both routes to α²F (DFPT and EPW).

What differs between the routes is data, a `RouteResult`: where α²F and QE's λ come from, the dense
k-grid, a route-specific reason not to trust the result, EPW's diagnostics. Everything else — the
parameters, provenance, the stability verdict confirmed on the el-ph q-grid's phonons, the status
rules — is `build_document`'s, the same for both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobflow import job
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from betenet.settings import get_settings
from betenet.store.documents import (
    A2FData,
    CalculationParameters,
    ConvergenceData,
    ElectronPhononDoc,
    EpwDiagnostics,
    MlipPregateData,
    Provenance,
    PseudoData,
    QELambdaRow,
    StabilityData,
)
from betenet.store.stores import get_store, save_document
from betenet.workflows.instability import CauseThresholds
from betenet.workflows.makers import as_structure, force_constants_file
from betenet.workflows.outputs import QETaskDoc
from betenet.workflows.pregate import skip_reason
from betenet.workflows.presets import ElectronPhononSettings
from betenet.workflows.quality import quality_of
from betenet.workflows.spin import MAGNETISM_TASK, magnetic_reason
from betenet.workflows.stability import confirm_on_elph_grid, unstable_status

if TYPE_CHECKING:
    from betenet.workflows.flows import ElectronPhononMaker


class RouteResult(BaseModel):
    """The route-specific part of a document (empty: the el-ph route has not run)."""

    a2f_all: list[A2FData] = Field(default_factory=list, description="α²F for every el-ph smearing.")
    qe_lambda: list[QELambdaRow] = Field(default_factory=list, description="matdyn's or EPW's λ table.")
    lambda_qsum: list[QELambdaRow] = Field(default_factory=list, description="lambda.x's direct q-point sum.")
    kgrid_elph: tuple[int, int, int] | None = Field(default=None, description="Dense k-grid of the el-ph sum.")
    q_split: int | None = Field(default=None, description="el-ph ph.x split into this many q-point jobs.")
    failure_reason: str | None = Field(default=None, description="Why the route's α²F must not be used.")
    convergence: ConvergenceData | None = Field(default=None, description="k-grid convergence (converge runs).")
    epw: EpwDiagnostics | None = None
    provenance: Provenance = Field(default_factory=Provenance, description="Steps outside `tasks` (EPW's).")


def dfpt_route(settings: ElectronPhononSettings, tasks: dict[str, QETaskDoc],
               convergence: ConvergenceData | dict | None = None) -> RouteResult:
    """The DFPT route's part, from its tasks: matdyn el-ph (α²F, λ table), lambda.x, the la2F scf (the last
    dense grid's, after a converge run, whose outcome is `convergence`)."""
    matdyn, lambda_x, la2f = (tasks.get(key) for key in ("matdyn_elph", "lambda_elph", "scf_la2F"))
    return RouteResult(
        a2f_all=matdyn.a2f_all if matdyn else [], qe_lambda=matdyn.qe_lambda if matdyn else [],
        lambda_qsum=lambda_x.qe_lambda if lambda_x else [], kgrid_elph=la2f.kgrid if la2f else None,
        q_split=settings.q_split, convergence=convergence,
    )


@job
def store_document(maker: ElectronPhononMaker, structure, input_structure, calc_id: str, pseudos: list,
                   tasks: dict, stability: StabilityData | None, route_outputs: dict | None = None,
                   pregate: dict | None = None) -> ElectronPhononDoc:
    """Assemble the ElectronPhononDoc from the task documents and upsert it into the store.

    `route_outputs`: the el-ph branch's outputs that are not QE task documents (EPW's), turned into the
    route's part by the maker's `route_result` hook. `pregate`: the MLIP pre-gate's finding (no tasks ran)."""
    tasks = {k: QETaskDoc.model_validate(v) for k, v in tasks.items()}
    doc = build_document(maker.settings, as_structure(structure), as_structure(input_structure), calc_id, pseudos,
                         tasks, stability, route=maker.route_result(tasks, route_outputs or {}),
                         pregate=MlipPregateData.model_validate(pregate) if pregate is not None else None)
    settings = get_settings()
    if maker.document_store:
        settings = settings.model_copy(update=maker.document_store)
    return save_document(doc, get_store(settings))


def build_document(settings: ElectronPhononSettings, structure: Structure, input_structure: Structure,
                   calc_id: str, pseudos: list, tasks: dict[str, QETaskDoc], stability: StabilityData | None,
                   status_reason: str | None = None, route: RouteResult | None = None,
                   pregate: MlipPregateData | None = None) -> ElectronPhononDoc:
    """The document from whatever tasks ran; `status_reason` given → a 'failed' document; a moment above the
    threshold in the spin-polarised check (task 'magnetism') → 'unsupported', no phonons; `pregate` (the
    MLIP pre-gate's finding, no tasks) → 'skipped' with the potential's numbers.

    `route`: the el-ph route's part; by default the DFPT route's, read from `tasks`. With the el-ph
    q-grid's phonon DOS (task 'matdyn_elph', both routes) the coarse verdict is confirmed there: an
    imaginary mode makes the material 'unstable' with no α²F."""
    route = route if route is not None else dfpt_route(settings, tasks)
    check = tasks.get(MAGNETISM_TASK)
    scf = tasks.get("scf") or check  # a magnetic material's scf is the check (same cutoffs and k-grid)
    pw_system = scf.parameters.get("system", {}) if scf else {}
    elph_ph = next((t for k, t in tasks.items() if k.startswith("ph_elph")), None)
    fine_dos = tasks["matdyn_elph"].phonon_dos if "matdyn_elph" in tasks else None
    params = CalculationParameters(
        qe_version=scf.qe_version if scf else None, preset=settings.preset,
        pseudos=[PseudoData.model_validate(p) for p in pseudos],
        ecutwfc_Ry=pw_system.get("ecutwfc", settings.ecutwfc_Ry),
        ecutrho_Ry=pw_system.get("ecutrho", settings.ecutrho_Ry),
        smearing=settings.smearing, degauss_Ry=settings.degauss_Ry,
        kgrid_scf=scf.kgrid if scf else settings.kgrid_scf, kgrid_elph=route.kgrid_elph,
        qgrid_coarse=settings.qgrid_coarse, qgrid_elph=elph_ph.qgrid if elph_ph else None,
        el_ph_sigma_Ry=settings.el_ph_sigma_Ry, el_ph_nsigma=settings.el_ph_nsigma,
        chosen_smearing_Ry=route.convergence.chosen_smearing_Ry if route.convergence else settings.chosen_smearing_Ry,
        mu_star=settings.mu_star,
        stability_threshold_meV=settings.stability_threshold_meV, q_split=route.q_split,
        extra={"pw_overrides": settings.pw_overrides, "ph_overrides": settings.ph_overrides},
    )
    provenance = Provenance(
        job_uuids={**{k: t.job_uuid for k, t in tasks.items() if t.job_uuid}, **route.provenance.job_uuids},
        run_dirs={**{k: t.dir_name for k, t in tasks.items()}, **route.provenance.run_dirs},
        wall_times_s={**{k: t.wall_time_s for k, t in tasks.items()}, **route.provenance.wall_times_s},
        processor_cores={k: t.processor_cores for k, t in tasks.items() if t.processor_cores},
    )
    if fine_dos is not None:
        fine_fc = force_constants_file(tasks["q2r_elph"]) if "q2r_elph" in tasks else None
        stability = confirm_on_elph_grid(stability, fine_dos, structure, fine_fc, CauseThresholds.from_settings(settings))
    fields: dict[str, Any] = dict(
        calc_id=calc_id, input_structure=input_structure, method=settings.method, parameters=params,
        stability=stability, provenance=provenance, epw=route.epw, phonon_dos_fine=fine_dos,
        phonon_dos_coarse=tasks["matdyn_coarse"].phonon_dos if "matdyn_coarse" in tasks else None,
    )
    magnetic = magnetic_reason(structure, check, settings.magnetic_moment_threshold_muB) if check else None
    skipped = skip_reason(pregate) if pregate is not None else None
    if pregate is not None:
        fields["mlip_pregate"] = pregate
    if status_reason is not None:
        fields.update(status="failed", status_reason=status_reason)
    elif skipped is not None:
        fields.update(status="skipped", status_reason=skipped)
    elif magnetic is not None:
        fields.update(status="unsupported", status_reason=magnetic)
    elif not stability.stable:
        status, reason = unstable_status(stability)
        fields.update(status=status, status_reason=reason)
    elif route.failure_reason is not None:
        fields.update(status="failed", status_reason=route.failure_reason)
    else:
        index = settings.chosen_smearing_index
        if route.convergence is not None:
            index = round(route.convergence.chosen_smearing_Ry / settings.el_ph_sigma_Ry)
        chosen = _chosen_spectrum(route.a2f_all, index)
        fields.update(
            status="ok", a2f_all=route.a2f_all, a2f=chosen, qe_lambda=route.qe_lambda,
            lambda_qsum=route.lambda_qsum, lambda_=chosen.lambda_, omega_log_K=chosen.omega_log_K,
            omega_2_K=chosen.omega_2_K, tc_K=chosen.tc_K,
            tc_eliashberg_K=chosen.eliashberg.tc_K if chosen.eliashberg is not None else None,
        )
    fields["quality"] = quality_of(settings, structure, stability, fields["phonon_dos_coarse"], fields.get("a2f"),
                                   route.lambda_qsum, magnetism=check, a2f_all=route.a2f_all,
                                   convergence=route.convergence)
    return ElectronPhononDoc.from_structure(structure, **fields)


def _chosen_spectrum(a2f_all: list[A2FData], index: int) -> A2FData:
    found = next((a for a in a2f_all if a.smearing_index == index), None)
    if found is None:
        raise ValueError(f"no α²F at the chosen smearing index {index} among {[a.smearing_index for a in a2f_all]}: "
                         "did the el-ph run use the settings' el_ph_sigma_Ry and el_ph_nsigma?")
    return found
