"""The electron-phonon Flow for one structure (atomate2-style Maker of Makers).

    [MLIP pre-gate ──grossly unstable──→ document ('skipped', the potential's numbers; no QE at all)]
      → [vc-relax] → [spin-polarised scf → magnetism gate ──magnetic──→ document ('unsupported', moment)]
      → scf → coarse ph.x (2×2×2, no el-ph) → q2r → matdyn DOS (per site)
      → stability gate ──unstable──→ document (status 'unstable', lowest frequency, no α²F)
                       └─stable───→ dense-k scf (la2F) → ph.x el-ph [split over q-points]
                                    → q2r (la2F, gathers the splits), lambda.x (direct q-sum of λ)
                                    → matdyn (DOS + α²F)
                                    → document (α²F every smearing + chosen, λ, ω_log, ω₂, Tc)
    With `converge`, the document Job is `converge_step`: it compares λ(σ) with the previous dense grid's
    and either writes the document or runs the next, denser la2F scf → ph.x el-ph → q2r, lambda.x → matdyn
    → itself again.

The gates and the split are Jobs that return `Response(replace=...)`, so the phonons exist only for a
non-magnetic material (the spin-polarised check runs only with a magnetism-prone element, see
`workflows/spin.py`), the el-ph branch only when the coarse phonons are stable, and the number of split
Jobs follows ph.x's own q-point list.
Every option is validated (settings, pseudopotentials, cutoffs) in `make()`, before any Job exists.

The gate is shared by both routes to α²F: what it runs for a stable material is the maker's
`elph_branch` hook, and the route's part of the document its `route_result` hook (both overridden by
`EpwElectronPhononMaker`); the document itself is `workflows/documents.py`'s for both.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from jobflow import Flow, Job, Maker, Response, job
from pymatgen.core import Structure

from betenet.qe.params import deep_merge
from betenet.qe.pseudo import PseudoFamily
from betenet.qe.structure import qe_symmetric_cell
from betenet.phonons.potentials import require_package
from betenet.store.documents import ConvergenceStep, PseudoData, RemedyAttempt, StabilityData, calc_identity
from betenet.workflows.convergence import convergence_step, convergence_verdict, next_kgrid
from betenet.workflows.documents import RouteResult, build_document, dfpt_route, store_document
from betenet.workflows.makers import (
    LambdaMaker,
    MatdynMaker,
    PhMaker,
    PwMaker,
    Q2rMaker,
    as_structure,
    choose_kgrid,
    force_constants_file,
)
from betenet.workflows.instability import CauseThresholds
from betenet.workflows.outputs import QETaskDoc
from betenet.workflows.presets import ElectronPhononSettings, resolve_settings
from betenet.workflows.remedy import attempt_record, next_remedy
from betenet.workflows.pregate import pregate_finding, skip_reason
from betenet.workflows.spin import MAGNETISM_TASK, STARTING_MAGNETIZATION, magnetic_elements, magnetic_reason
from betenet.workflows.stability import stability_verdict

# build_document lives in workflows/documents.py; local runs and tests import it from here as before
__all__ = ["ElectronPhononMaker", "build_document", "coarse_stability_verdict", "converge_step", "magnetism_gate",
           "split_elph", "stability_gate"]
# the tasks of one dense k-grid (a converge step), from the la2F scf to matdyn
GRID_TASKS = ("scf_la2F", "ph_elph", "q2r_elph", "lambda_elph", "matdyn_elph")


@dataclass
class ElectronPhononMaker(Maker):
    """Electron-phonon Flow maker. Build with `ElectronPhononMaker.from_preset('test', q_split=2)`."""

    name: str = "electron-phonon"
    settings: ElectronPhononSettings = field(default_factory=lambda: resolve_settings("production"))
    document_store: dict[str, Any] | None = None  # settings (store_uri, database) fixed at submit time
    maker_updates: dict[str, dict[str, Any]] = field(default_factory=dict)  # Maker class → fields, see powerups

    @classmethod
    def from_preset(cls, preset: str = "production", **overrides: Any) -> "ElectronPhononMaker":
        return cls(settings=resolve_settings(preset, overrides))

    def with_options(self, **overrides: Any) -> "ElectronPhononMaker":
        """A new Maker with some options changed (this one is left as it is)."""
        merged = deep_merge(self.settings.model_dump(), overrides)
        return dataclasses.replace(self, settings=resolve_settings(merged.pop("preset"), merged))

    # --- sub-Makers, derived from the settings -------------------------------------------------

    def pw_parameters(self, structure: Structure) -> dict[str, Any]:
        s = self.settings
        ecutwfc, ecutrho = s.ecutwfc_Ry, s.ecutrho_Ry
        if ecutwfc is None:
            ecutwfc, hint_rho = PseudoFamily.from_settings().recommended_cutoffs_ry(structure.symbol_set)
            ecutrho = ecutrho or hint_rho
        ecutrho = ecutrho or 4 * ecutwfc
        base = {
            "system": {"ecutwfc": float(ecutwfc), "ecutrho": float(ecutrho), "occupations": "smearing",
                       "smearing": s.smearing, "degauss": s.degauss_Ry},
            "electrons": {"conv_thr": s.conv_thr_Ry},
        }
        return deep_merge(base, s.pw_overrides)

    def qgrid_elph(self, structure: Structure):
        return self.settings.qgrid_elph or choose_kgrid(structure, None, self.settings.q_density_invA)

    def makers(self, structure: Structure) -> dict[str, Maker]:
        s = self.settings
        pw = self.pw_parameters(structure)
        qgrid = self.qgrid_elph(structure)
        ph = deep_merge({"tr2_ph": s.tr2_ph}, s.ph_overrides)
        common = {"max_errors": s.max_errors, "walltime_s": s.walltime_s}
        # ph.x's 'interpolated' el-ph maps the scf k-grid onto the dense la2F grid: the dense grid must be
        # a multiple of the scf grid (else NaN or wildly wrong λ, seen on fcc Al with 12³ over 8³).
        kgrid_scf = choose_kgrid(structure, s.kgrid_scf, s.scf_k_density_invA, multiple_of=qgrid)
        makers: dict[str, Maker] = {
            "scf": PwMaker(name="scf", parameters=pw, kgrid=kgrid_scf, **common),
            "ph_coarse": PhMaker(name="ph coarse", mode="phonons", qgrid=s.qgrid_coarse, parameters=ph, **common),
            "q2r_coarse": Q2rMaker(name="q2r coarse"),
            "matdyn_coarse": MatdynMaker(name="matdyn coarse", dos_grid=s.dos_grid_coarse, ndos=s.ndos),
            "scf_la2F": PwMaker(name="scf la2F", parameters=deep_merge(pw, {"system": {"la2F": True}}),
                                kgrid=s.kgrid_elph, k_density_invA=s.k_density_invA, kgrid_multiple_of=kgrid_scf,
                                **common),
            "ph_elph": PhMaker(name="ph el-ph", mode="elph", qgrid=qgrid, **common, parameters=deep_merge(
                ph, {"el_ph_sigma": s.el_ph_sigma_Ry, "el_ph_nsigma": s.el_ph_nsigma})),
            "q2r_elph": Q2rMaker(name="q2r el-ph", la2F=True, el_ph_nsigma=s.el_ph_nsigma),
            "lambda_elph": LambdaMaker(name="lambda el-ph", mu_star=s.mu_star),
            "matdyn_elph": MatdynMaker(name="matdyn el-ph", la2F=True, dos_grid=s.dos_grid_fine, ndos=s.ndos,
                                       el_ph_sigma_Ry=s.el_ph_sigma_Ry, mu_star=s.mu_star,
                                       imaginary_limit_meV=s.stability_threshold_meV),
        }
        magnetic = magnetic_elements(structure)
        if magnetic:
            makers[MAGNETISM_TASK] = PwMaker(name="scf spin-polarised", parameters=pw, kgrid=kgrid_scf, **common,
                                             starting_magnetization=dict.fromkeys(magnetic, STARTING_MAGNETIZATION))
        if s.relax:
            makers["relax"] = PwMaker(name="vc-relax", calculation="vc-relax", parameters=pw, kgrid=s.kgrid_scf,
                                      k_density_invA=s.scf_k_density_invA, **common)
        return {
            step: dataclasses.replace(m, **self.maker_updates.get(type(m).__name__, {})) for step, m in makers.items()
        }

    def identity(self, structure: Structure) -> tuple[str, list[PseudoData]]:
        """(calc_id, pseudos): raises MissingPseudoError for an element without a pseudopotential.

        The id is taken on the QE-aligned primitive cell the Flow runs on, so any cell choice or
        orientation of the same crystal (CIF, POSCAR, rotated) updates one document.
        """
        aligned = qe_symmetric_cell(structure)
        entries = PseudoFamily.from_settings().for_elements(sorted(aligned.symbol_set))
        pseudos = [PseudoData(element=el, filename=e.filename, md5=e.md5) for el, e in entries.items()]
        physics = {**self.settings.physics(), "pseudos": {p.element: p.md5 for p in pseudos}}
        return calc_identity(aligned, self.settings.method, physics), pseudos

    # --- the Flow -----------------------------------------------------------------------------

    def make(self, structure: Structure) -> Flow:
        if not structure.is_ordered:
            raise ValueError(f"{structure.composition.reduced_formula}: disordered structure; QE needs an ordered cell")
        input_structure = structure
        structure = qe_symmetric_cell(structure)  # pw.x sees every symmetry: far fewer k/q points
        calc_id, pseudos = self.identity(input_structure)  # validates pseudos before any Job exists
        self.makers(structure)  # validates cutoffs (pseudo hints) likewise
        if self.settings.mlip_pregate:  # the potential's package is checked now, before any Job exists
            require_package(self.settings.mlip_pregate)
            gate = mlip_pregate(self, structure, input_structure, calc_id, pseudos)
            return Flow([gate], output=gate.output, name=f"{self.name} {structure.composition.reduced_formula}")
        return self.dft_flow(structure, input_structure, calc_id, pseudos)

    def dft_flow(self, structure: Structure, input_structure: Structure, calc_id: str, pseudos: list) -> Flow:
        """Every QE step for `structure` (already the QE-aligned cell), gates included."""
        makers = self.makers(structure)
        jobs, tasks = [], {}
        current = structure
        if "relax" in makers:
            relax = makers["relax"].make(structure)
            jobs.append(relax)
            tasks["relax"] = relax.output
            current = relax.output.structure
        if MAGNETISM_TASK in makers:  # phonons only after the spin-polarised check found no moment
            check = makers[MAGNETISM_TASK].make(current)
            tasks[MAGNETISM_TASK] = check.output
            last = magnetism_gate(self, current, input_structure, calc_id, pseudos, tasks)
            jobs += [check, last]
        else:
            jobs += self.coarse_phonons(makers, current, input_structure, calc_id, pseudos, tasks)
            last = jobs[-1]
        return Flow(jobs, output=last.output, name=f"{self.name} {structure.composition.reduced_formula}")

    def coarse_phonons(self, makers: dict[str, Maker], structure, input_structure: Structure, calc_id: str,
                       pseudos: list, tasks: dict, *, new_scf: bool = True, attempts: list | None = None,
                       pending: dict | None = None) -> list[Job]:
        """The Jobs [scf →] coarse ph.x → q2r → matdyn → stability gate (which makes the rest); `structure` may
        be the relaxation's output reference. Without `new_scf` the phonons start from `tasks['scf']` (a remedy
        attempt that only changes the q-grid); `attempts`/`pending` are the remedy ladder's, for the gate."""
        jobs, new = [], {}
        if new_scf:
            scf = makers["scf"].make(structure)
            jobs.append(scf)
            new["scf"] = scf.output
        scf_dir = new["scf"].dir_name if new_scf else QETaskDoc.model_validate(tasks["scf"]).dir_name
        ph = makers["ph_coarse"].make(scf_dir)
        q2r = makers["q2r_coarse"].make([ph.output.dir_name])
        matdyn = makers["matdyn_coarse"].make(q2r.output, structure, self.settings.qgrid_coarse)
        new.update(ph_coarse=ph.output, q2r_coarse=q2r.output, matdyn_coarse=matdyn.output)
        if pending is not None:
            pending = {**pending, "steps": list(new)}
        gate = stability_gate(self, structure, input_structure, calc_id, pseudos, {**tasks, **new}, attempts, pending)
        return [*jobs, ph, q2r, matdyn, gate]

    # --- hooks of the route to α²F (EpwElectronPhononMaker overrides both) -------------------

    def elph_branch(self, structure: Structure, input_structure: Structure, calc_id: str, pseudos: list,
                    tasks: dict, verdict: StabilityData) -> Flow:
        """What the stability gate runs for a stable material: dense-k scf → ph.x el-ph [split] → q2r,
        lambda.x → matdyn → document."""
        s = self.settings
        makers = self.makers(structure)
        scf_dir = QETaskDoc.model_validate(tasks["scf"]).dir_name
        la2f = makers["scf_la2F"].make(structure)
        tasks = {**tasks, "scf_la2F": la2f.output}
        if s.q_split and s.q_split > 1:
            # The first part computes Γ alone; its output lists ph.x's irreducible q-points for the split.
            first = dataclasses.replace(makers["ph_elph"], name="ph el-ph q1-1").make(scf_dir, la2f.output.dir_name,
                                                                                     1, 1)
            split = split_elph(self, structure, input_structure, calc_id, pseudos,
                               {**tasks, "ph_elph_q1-1": first.output}, verdict)
            return Flow([la2f, first, split], output=split.output, name="el-ph")
        ph = makers["ph_elph"].make(scf_dir, la2f.output.dir_name)
        rest = _elph_tail(self, makers, structure, input_structure, calc_id, pseudos, tasks, verdict,
                          {"ph_elph": ph.output})
        return Flow([la2f, ph, *rest], output=rest[-1].output, name="el-ph")

    def route_result(self, tasks: dict[str, QETaskDoc], route_outputs: dict[str, Any]) -> RouteResult:
        """The route-specific part of the document; the DFPT route's outputs are all in `tasks` (and, after
        a converge run, its outcome in `route_outputs['convergence']`)."""
        return dfpt_route(self.settings, tasks, route_outputs.get("convergence"))


def coarse_stability_verdict(settings, structure: Structure, tasks: dict) -> StabilityData:
    """The dynamic-stability verdict with its cause from the coarse-phonon tasks (ph.x, q2r.x, matdyn.x +
    phonopy); `settings` is the DFPT or the EPW settings object."""
    q2r, matdyn, ph = (QETaskDoc.model_validate(tasks[k]) for k in ("q2r_coarse", "matdyn_coarse", "ph_coarse"))
    return stability_verdict(
        structure, ph_lowest_meV=ph.lowest_frequency_meV, matdyn_dos=matdyn.phonon_dos,
        force_constants=force_constants_file(q2r), qgrid=ph.qgrid or settings.qgrid_coarse,
        thresholds=CauseThresholds.from_settings(settings), phonopy_mesh=settings.phonopy_mesh,
        gamma_acoustic_meV=ph.gamma_acoustic_meV,
    )


COARSE_STEPS = ("scf", "ph_coarse", "q2r_coarse", "matdyn_coarse")


@job
def stability_gate(maker: ElectronPhononMaker, structure, input_structure: Structure, calc_id: str,
                   pseudos: list, tasks: dict, attempts: list | None = None, pending: dict | None = None) -> Response:
    """The coarse verdict, then: a remedy attempt (the coarse phonons again with one setting changed, and this
    gate after them), or — once the verdict is final — the maker's el-ph branch (`elph_branch`) for a stable
    material, the document Job alone for an unstable or unresolved one.

    `pending`: the attempt whose tasks just ran ({"rung", "overrides", "why"}); `attempts`: the earlier ones."""
    structure = as_structure(structure)
    s = maker.settings
    verdict = coarse_stability_verdict(s, structure, tasks)
    attempts = [RemedyAttempt.model_validate(a) for a in attempts or []]
    if pending is not None:
        wall = sum(QETaskDoc.model_validate(tasks[k]).wall_time_s for k in pending["steps"])
        attempts.append(attempt_record(len(attempts) + 1, pending["rung"], pending["overrides"], pending["why"],
                                       verdict, wall))
    verdict = verdict.model_copy(update={"remedy_attempts": attempts})
    scf, ph = QETaskDoc.model_validate(tasks["scf"]), QETaskDoc.model_validate(tasks["ph_coarse"])
    ran = {"kgrid_scf": scf.kgrid, "qgrid_coarse": ph.qgrid or s.qgrid_coarse,
           "ecutrho_Ry": scf.parameters.get("system", {}).get("ecutrho")}
    coarse_dos = QETaskDoc.model_validate(tasks["matdyn_coarse"]).phonon_dos
    remedy = next_remedy(verdict, s, coarse_dos, ran, attempts)
    if remedy is not None:
        return Response(output=verdict, replace=_remedy_attempt(maker, structure, input_structure, calc_id, pseudos,
                                                                tasks, verdict, *remedy))
    if not verdict.stable:
        doc = store_document(maker, structure, input_structure, calc_id, pseudos, tasks, verdict)
        return Response(output=verdict, replace=Flow([doc], output=doc.output, name="unstable: document"))
    return Response(output=verdict, replace=maker.elph_branch(structure, input_structure, calc_id, pseudos, tasks,
                                                             verdict))


def _remedy_attempt(maker, structure, input_structure, calc_id, pseudos, tasks, verdict, rung, overrides, why) -> Flow:
    """The coarse phonons with `overrides` (the scf too when the electrons change), then the gate again. The
    document keeps its calc_id: its identity is the requested protocol, not the attempt that succeeded."""
    step = len(verdict.remedy_attempts) + 1
    remedied = maker.with_options(**overrides)
    new_scf = "qgrid_coarse" not in overrides  # k-grid or cutoff: new electrons
    replaced = COARSE_STEPS if new_scf else COARSE_STEPS[1:]
    earlier = {f"before_remedy{step}_{k}": tasks[k] for k in replaced}  # kept for provenance
    jobs = remedied.coarse_phonons(remedied.makers(structure), structure, input_structure, calc_id, pseudos,
                                   {**tasks, **earlier}, new_scf=new_scf,
                                   attempts=[a.model_dump() for a in verdict.remedy_attempts],
                                   pending={"rung": rung, "overrides": overrides, "why": why})
    return Flow(jobs, output=jobs[-1].output, name=f"remedy {step}: {rung}")


@job
def mlip_pregate(maker: ElectronPhononMaker, structure, input_structure: Structure, calc_id: str,
                 pseudos: list) -> Response:
    """Grossly unstable for the potential → replace with the document Job alone ('skipped'); else → the DFT."""
    structure = as_structure(structure)
    s = maker.settings
    finding = pregate_finding(structure, s.mlip_pregate, s.mlip_pregate_threshold_meV)
    if skip_reason(finding) is not None:
        doc = store_document(maker, structure, input_structure, calc_id, pseudos, {}, None,
                             pregate=finding.model_dump())
        return Response(output=finding, replace=Flow([doc], output=doc.output, name="MLIP pre-gate: document"))
    dft = maker.dft_flow(structure, input_structure, calc_id, pseudos)
    return Response(output=finding, replace=dft)


@job
def magnetism_gate(maker: ElectronPhononMaker, structure, input_structure: Structure, calc_id: str,
                   pseudos: list, tasks: dict) -> Response:
    """Magnetic → replace with the document Job alone ('unsupported', the moment); else → the coarse phonons."""
    structure = as_structure(structure)
    check = QETaskDoc.model_validate(tasks[MAGNETISM_TASK])
    if magnetic_reason(structure, check, maker.settings.magnetic_moment_threshold_muB) is not None:
        doc = store_document(maker, structure, input_structure, calc_id, pseudos, tasks, None)
        return Response(replace=Flow([doc], output=doc.output, name="magnetic: document"))
    phonons = maker.coarse_phonons(maker.makers(structure), structure, input_structure, calc_id, pseudos, tasks)
    return Response(replace=Flow(phonons, output=phonons[-1].output, name="coarse phonons"))


@job
def split_elph(maker: ElectronPhononMaker, structure, input_structure, calc_id: str, pseudos: list,
               tasks: dict, verdict: StabilityData) -> Response:
    """Jobs for q-points 2..n in q_split − 1 chunks (start_q/last_q); q2r and lambda.x gather them with q1."""
    structure = as_structure(structure)
    makers = maker.makers(structure)
    first = QETaskDoc.model_validate(tasks["ph_elph_q1-1"])
    chunks = [(a + 1, b + 1) for a, b in _chunks(first.n_qpoints - 1, maker.settings.q_split - 1)]
    scf_dir = QETaskDoc.model_validate(tasks["scf"]).dir_name
    a2f_dir = QETaskDoc.model_validate(tasks["scf_la2F"]).dir_name
    ph_jobs = [
        dataclasses.replace(makers["ph_elph"], name=f"ph el-ph q{first}-{last}").make(scf_dir, a2f_dir, first, last)
        for first, last in chunks
    ]
    ph_outputs = {"ph_elph_q1-1": tasks["ph_elph_q1-1"]}
    ph_outputs.update({f"ph_elph_q{a}-{b}": j.output for j, (a, b) in zip(ph_jobs, chunks)})
    rest = _elph_tail(maker, makers, structure, input_structure, calc_id, pseudos, tasks, verdict, ph_outputs)
    return Response(replace=Flow([*ph_jobs, *rest], output=rest[-1].output, name="el-ph split"))


def _chunks(n_q: int, parts: int) -> list[tuple[int, int]]:
    """Split q-points 1..n_q into at most `parts` contiguous (first, last) ranges (none if n_q = 0)."""
    if n_q < 1:
        return []
    parts = max(1, min(parts, n_q))
    bounds = [round(i * n_q / parts) for i in range(parts + 1)]
    return [(bounds[i] + 1, bounds[i + 1]) for i in range(parts)]


def _elph_tail(maker, makers, structure, input_structure, calc_id, pseudos, tasks, verdict, ph_outputs,
               steps: list | None = None):
    ph_dirs = [out.dir_name for out in ph_outputs.values()]
    q2r = makers["q2r_elph"].make(ph_dirs)
    lambda_x = makers["lambda_elph"].make(ph_dirs, structure)
    matdyn = makers["matdyn_elph"].make(q2r.output, structure, maker.qgrid_elph(structure))
    tasks = {**tasks, **ph_outputs, "q2r_elph": q2r.output, "lambda_elph": lambda_x.output,
             "matdyn_elph": matdyn.output}
    if maker.settings.converge:
        last = converge_step(maker, structure, input_structure, calc_id, pseudos, tasks, verdict, steps or [])
    else:
        last = store_document(maker, structure, input_structure, calc_id, pseudos, tasks, verdict)
    return [q2r, lambda_x, matdyn, last]


@job
def converge_step(maker: ElectronPhononMaker, structure, input_structure, calc_id: str, pseudos: list,
                  tasks: dict, verdict: StabilityData, steps: list) -> Response:
    """After one dense k-grid: the document when its λ(σ) agrees with the previous grid's or the steps are
    used up, else the next grid's la2F scf → ph.x el-ph → q2r, lambda.x → matdyn → this Job again.

    Each grid reruns ph.x el-ph in full: a `trans=.false.` rerun from the first run's dvscf and dynamical
    matrices gave Al's λ_qν at q ≠ Γ up to 6 % off the full run on the same 24³ grid (QE 6.7), as much as
    the tolerance, for 14 % less time."""
    structure = as_structure(structure)
    s = maker.settings
    grid = {key: QETaskDoc.model_validate(tasks[key]) for key in GRID_TASKS}
    outcome = None
    if grid["matdyn_elph"].a2f_all:  # none: imaginary modes on the el-ph q-grid, the document says so
        steps = [*(ConvergenceStep.model_validate(step) for step in steps),
                 convergence_step(grid["scf_la2F"].kgrid, grid["matdyn_elph"].a2f_all,
                                  sum(task.wall_time_s for task in grid.values()))]
        outcome = convergence_verdict(steps, s.converge_tolerance, s.converge_max_steps, s.chosen_smearing_Ry)
        if outcome is None:
            return Response(replace=_next_grid(maker, structure, input_structure, calc_id, pseudos, tasks, verdict,
                                               steps))
    doc = store_document(maker, structure, input_structure, calc_id, pseudos, tasks, verdict,
                         {"convergence": outcome.model_dump()} if outcome else None)
    return Response(replace=Flow([doc], output=doc.output, name="document"))


def _next_grid(maker, structure, input_structure, calc_id, pseudos, tasks, verdict, steps) -> Flow:
    """The next dense grid's la2F scf → ph.x el-ph → q2r, lambda.x → matdyn → converge_step."""
    s = maker.settings
    # this grid's tasks stay in the document's provenance under step-numbered names
    tasks = {**{k: v for k, v in tasks.items() if k not in GRID_TASKS},
             **{f"{k} step{len(steps)}": tasks[k] for k in GRID_TASKS}}
    makers = maker.makers(structure)
    kgrid = next_kgrid(steps[-1].kgrid, QETaskDoc.model_validate(tasks["scf"]).kgrid, s.converge_k_step)
    la2f = dataclasses.replace(makers["scf_la2F"], name=f"scf la2F {kgrid}", kgrid=kgrid).make(structure)
    ph = makers["ph_elph"].make(QETaskDoc.model_validate(tasks["scf"]).dir_name, la2f.output.dir_name)
    rest = _elph_tail(maker, makers, structure, input_structure, calc_id, pseudos, {**tasks, "scf_la2F": la2f.output},
                      verdict, {"ph_elph": ph.output}, [step.model_dump() for step in steps])
    return Flow([la2f, ph, *rest], output=rest[-1].output, name=f"converge step {len(steps) + 1}")
