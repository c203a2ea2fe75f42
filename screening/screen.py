"""Screening: candidates → graphs (each failure kept with its reason) → ensemble → ranked rows.

`featurise` checks every candidate on its own — the graph builds, every element was seen in
training, the site PhDOS a CPD/FPD ensemble needs is there — so one bad structure is reported
instead of stopping the batch. `screen` then predicts all good ones in one call and ranks them by Tc.
Timings of each stage are returned for the report (`ScreenResult.timings_s`).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field, replace

from betenet.screening.inputs import Candidate, Rejected
from betenet.screening.predictions import Prediction, from_model, rank_by_tc
from betenet.screening.training import PHDOS_FIELD


@dataclass
class ScreenResult:
    ranked: list[Prediction]
    rejected: list[Rejected]
    timings_s: dict[str, float] = field(default_factory=dict)


def featurise(ensemble, candidates: list[Candidate]) -> tuple[list, list[Candidate], list[Rejected]]:
    """(graphs, the candidates they belong to, rejected candidates with the reason)."""
    from betenet.model.graphs import build_graph

    known = set(ensemble.elements)
    field_name = PHDOS_FIELD.get(ensemble.variant)
    graphs, kept, rejected = [], [], []
    for candidate in candidates:
        unseen = sorted(set(candidate.atoms.get_chemical_symbols()) - known)
        if unseen:
            rejected.append(Rejected(candidate.id, candidate.source,
                                     f"element(s) {' '.join(unseen)} never seen in training (the ensemble knows "
                                     f"{len(known)} elements): its prediction would be meaningless"))
            continue
        phdos = None
        if field_name is not None:
            phdos = candidate.site_phdos.get(field_name)
            if phdos is None:
                rejected.append(Rejected(candidate.id, candidate.source,
                                         f"no {field_name} site PhDOS, which a {ensemble.variant} ensemble needs "
                                         "(structure files have none unless the store holds their document; "
                                         "use a CSO ensemble)"))
                continue
        try:
            graph = build_graph(candidate.atoms, candidate.id, ensemble.network.r_max, site_phdos=phdos)
        except Exception as err:  # neighbour search / shape checks: the reason is what the user needs
            rejected.append(Rejected(candidate.id, candidate.source, f"cannot build its graph: {err}"))
            continue
        graphs.append(graph)
        kept.append(candidate)
    return graphs, kept, rejected


def with_mu_star(ensemble, mu_star: float | None):
    """The ensemble predicting Tc with another μ* (a shallow copy; the ensemble on disk is unchanged)."""
    if mu_star is None or mu_star == ensemble.training.loss.mu_star:
        return ensemble
    if not 0 <= mu_star < 1:
        raise ValueError(f"Invalid mu_star={mu_star!r}, must be in [0, 1)")
    other = copy.copy(ensemble)
    other.training = replace(ensemble.training, loss=replace(ensemble.training.loss, mu_star=mu_star))
    return other


def screen(ensemble, candidates: list[Candidate], rejected: list[Rejected] = (), *,
           mu_star: float | None = None) -> ScreenResult:
    timings = {}
    start = time.perf_counter()
    graphs, kept, failed = featurise(ensemble, candidates)
    timings["featurise_s"] = time.perf_counter() - start
    rejected = [*rejected, *failed]
    if not graphs:
        return ScreenResult([], rejected, timings)
    start = time.perf_counter()
    prediction = with_mu_star(ensemble, mu_star).predict(graphs)
    timings["predict_s"] = time.perf_counter() - start
    return ScreenResult(rank_by_tc(from_model(prediction, kept)), rejected, timings)
