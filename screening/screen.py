"""Screening: candidates → graphs (each failure kept with its reason) → ensemble → ranked rows.

`featurise` checks every candidate on its own — the graph builds, every element was seen in
training, the site PhDOS a CPD/FPD ensemble needs is there — so one bad structure is reported
instead of stopping the batch. An MPD ensemble's site PhDOS is computed here for every candidate that
lacks it, by the potential (and phonon settings) its training dataset used. `screen` then predicts all good ones in one call and ranks them by Tc
(Allen–Dynes or Eliashberg). The members' Eliashberg spread — one solve per member and structure, ≈ 23 ms
each, so ≈ 31 min for 806 structures × 100 members (benchmarks/RESULTS.md) — is computed after ranking, for
the `eliashberg_spread` best-ranked rows (all when None).
Timings of each stage are returned for the report (`ScreenResult.timings_s`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from betenet.screening.inputs import Candidate, Rejected
from betenet.screening.predictions import Prediction, check_tc_method, from_model, rank_by_tc


@dataclass
class ScreenResult:
    ranked: list[Prediction]
    rejected: list[Rejected]
    timings_s: dict[str, float] = field(default_factory=dict)


def featurise(ensemble, candidates: list[Candidate]) -> tuple[list, list[Candidate], list[Rejected]]:
    """(graphs, the candidates they belong to, rejected candidates with the reason)."""
    from betenet.model.graphs import build_graph
    from betenet.model.variants import get_variant

    known = set(ensemble.elements)
    variant = get_variant(ensemble.variant)
    graphs, kept, rejected = [], [], []
    unseen_of = {c.id: sorted(set(c.atoms.get_chemical_symbols()) - known) for c in candidates}
    if variant.from_potential:
        rejected += add_potential_site_phdos(ensemble, [c for c in candidates if not unseen_of[c.id]],
                                             variant.site_phdos_field)
    failed = {r.id for r in rejected}
    for candidate in candidates:
        unseen = unseen_of[candidate.id]
        if unseen:
            rejected.append(Rejected(candidate.id, candidate.source,
                                     f"element(s) {' '.join(unseen)} never seen in training (the ensemble knows "
                                     f"{len(known)} elements): its prediction would be meaningless"))
            continue
        if candidate.id in failed:
            continue
        phdos = candidate.site_phdos.get(variant.site_phdos_field)
        if variant.needs_site_phdos and phdos is None:
            rejected.append(Rejected(candidate.id, candidate.source, str(variant.missing_site_phdos(
                candidate.id, "structure files have none unless the store holds their document; use a CSO ensemble"))))
            continue
        try:
            graph = build_graph(candidate.atoms, candidate.id, ensemble.network.r_max, site_phdos=phdos)
        except Exception as err:  # neighbour search / shape checks: the reason is what the user needs
            rejected.append(Rejected(candidate.id, candidate.source, f"cannot build its graph: {err}"))
            continue
        graphs.append(graph)
        kept.append(candidate)
    return graphs, kept, rejected


def add_potential_site_phdos(ensemble, candidates: list[Candidate], field: str) -> list[Rejected]:
    """Fill `candidate.site_phdos[field]` with the ensemble's potential's per-site DOS on the model grid
    where it is missing; a structure the potential fails on is rejected with the reason. A potential whose
    package is missing stops here (MissingPotentialError, one line naming what to install)."""
    from betenet.dataset.build import site_phdos_rows
    from betenet.phonons.mlip import MlipPhononCalculator, PhononSettings
    from betenet.phonons.potentials import MissingPotentialError
    from pymatgen.io.ase import AseAtomsAdaptor
    from rich.progress import track

    lacking = [c for c in candidates if c.site_phdos.get(field) is None]
    if not lacking:
        return []
    recorded = ensemble.mlip or {}
    settings = {k: tuple(v) if isinstance(v, list) else v for k, v in (recorded.get("settings") or {}).items()}
    calculator = MlipPhononCalculator(PhononSettings(**settings))
    rejected = []
    for candidate in track(lacking, description=f"phonons from {calculator.settings.potential}", transient=True,
                           disable=len(lacking) < 2):
        try:
            structure = AseAtomsAdaptor.get_structure(candidate.atoms)
            phonons = calculator.phonons(structure)
            candidate.site_phdos[field] = site_phdos_rows(phonons.dos, structure, candidate.id, "MLIP")
        except MissingPotentialError:
            raise
        except (ValueError, RuntimeError) as err:  # phonopy/potential failures on odd cells
            rejected.append(Rejected(candidate.id, candidate.source, f"the potential's phonons failed: {err}"))
    return rejected


def screen(ensemble, candidates: list[Candidate], rejected: list[Rejected] = (), *,
           mu_star: float | None = None, tc_method: str = "allen-dynes",
           eliashberg_spread: int | None = None) -> ScreenResult:
    check_tc_method(tc_method)
    timings = {}
    start = time.perf_counter()
    graphs, kept, failed = featurise(ensemble, candidates)
    timings["featurise_s"] = time.perf_counter() - start
    rejected = [*rejected, *failed]
    if not graphs:
        return ScreenResult([], rejected, timings)
    start = time.perf_counter()
    prediction = ensemble.predict(graphs, mu_star=mu_star)
    timings["predict_s"] = time.perf_counter() - start
    ranked = rank_by_tc(from_model(prediction, kept), tc_method)
    start = time.perf_counter()
    position = {ident: g for g, ident in enumerate(prediction.ids)}
    best = ranked if eliashberg_spread is None else ranked[:eliashberg_spread]
    prediction = prediction.with_eliashberg_spread(position[p.id] for p in best)
    timings["eliashberg_spread_s"] = time.perf_counter() - start
    rows = {p.id: p for p in from_model(prediction, kept)}
    return ScreenResult([rows[p.id] for p in ranked], rejected, timings)
