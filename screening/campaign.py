"""The steps behind `predict` and `screen`: gather candidates, predict, write everything down.

Outputs of one run in its folder::

    predictions.csv     ranked by Tc: id, formula, λ ± σ, ω_log ± σ, ω₂ ± σ, Tc ± σ (Allen–Dynes, Eliashberg), source
    predictions.json    the same with the α²F mean/spread, the rejected inputs and the run's metadata
    rejected.csv        every input that could not be predicted, with the reason
    plots/a2f_<id>.png  α²F mean with a ±1σ band, the DFT α²F overlaid when known, both Tc in the title
    evaluation/         with DFT labels: evaluation.json + parity plots

and, unless asked not to, one `PredictionDoc` per prediction in the store's `predictions` collection.
"""

from __future__ import annotations

import csv
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from betenet.screening.inputs import (
    Candidate,
    Rejected,
    candidate_from_record,
    candidates_from_documents,
    read_structure_files,
)
from betenet.screening.predictions import Prediction, to_document, write_csv, write_json
from betenet.screening.screen import screen


@dataclass
class CampaignResult:
    ranked: list[Prediction]
    rejected: list[Rejected]
    timings_s: dict[str, float]
    evaluation: object | None = None  # EvaluationReport when labels were available
    n_saved: int = 0


def load_ensemble(directory: Path):
    from betenet.model.ensemble import Ensemble

    return Ensemble.load(directory)


# ---------------------------------------------------------------------------------------------------
# Candidates
# ---------------------------------------------------------------------------------------------------


def candidates_from_paths(paths: list[Path], split: str | None = None) -> tuple[list[Candidate], list[Rejected]]:
    """A dataset directory (with its labels and site PhDOS), or structure files and folders."""
    paths = [Path(p) for p in paths]
    if len(paths) == 1 and (paths[0] / "manifest.json").is_file():
        from betenet.dataset.format import read_dataset

        return candidates_from_dataset(read_dataset(paths[0]), split)
    if split is not None:
        raise ValueError(f"--split {split!r} selects records of a dataset directory; {paths[0]} is not one "
                         "(no manifest.json)")
    return read_structure_files(paths)


def candidates_from_dataset(dataset, split: str | None = None) -> tuple[list[Candidate], list[Rejected]]:
    records = [r for r in dataset.records if split is None or r.split == split]
    if not records:
        raise LookupError(f"dataset {dataset.directory} has no records in split {split!r} "
                          f"(splits: {dataset.manifest.counts.get('splits')})")
    candidates, rejected = [], []
    for record in records:
        source = f"{dataset.directory.name}/{record.structure_file}"
        try:
            atoms = dataset.read_structure(record)
        except ValueError as err:
            rejected.append(Rejected(record.id, source, str(err)))
            continue
        candidates.append(candidate_from_record(record, atoms, source, record.extra.get("calc_id")))
    return candidates, rejected


def candidates_from_store(settings, query) -> tuple[list[Candidate], list[Rejected]]:
    from betenet.dataset.build import query_documents
    from betenet.store.stores import get_store

    return candidates_from_documents(query_documents(get_store(settings), query)), []


def match_store_documents(candidates: list[Candidate], settings) -> int:
    """Attach the DFT labels, α²F and site PhDOS of the store's newest 'ok' document of the same crystal.
    Returns how many matched."""
    from betenet.store.stores import documents_of_structure, get_store

    matched = 0
    for candidate in candidates:
        docs = [d for d in documents_of_structure(_workflow_cell(candidate), get_store(settings)) if d.status == "ok"]
        if not docs:
            continue
        newest = max(docs, key=lambda d: d.last_updated)
        (from_doc,) = candidates_from_documents([newest])
        candidate.labels, candidate.dft_a2f, candidate.site_phdos = from_doc.labels, from_doc.dft_a2f, from_doc.site_phdos
        candidate.calc_id = newest.calc_id
        candidate.source += f" (DFT: store document {newest.calc_id})"
        matched += 1
    return matched


def _workflow_cell(candidate: Candidate):
    """The cell the DFT workflow would run this structure on (its documents are found by that cell)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from betenet.qe.structure import qe_symmetric_cell

    return qe_symmetric_cell(AseAtomsAdaptor.get_structure(candidate.atoms))


# ---------------------------------------------------------------------------------------------------
# Run and write
# ---------------------------------------------------------------------------------------------------


def run_and_report(ensemble, candidates: list[Candidate], rejected: list[Rejected], settings, *,
                   out: Path | None, mu_star: float | None = None, save: bool = True, plots: str = "top",
                   top: int = 20, tc_threshold_K: float = 5.0, tc_method: str = "allen-dynes",
                   eliashberg_spread: int | None = None) -> CampaignResult:
    """Screen, evaluate against DFT labels, write the files, save to the store. `tc_method` ranks;
    `eliashberg_spread`: how many of the best-ranked get the members' Eliashberg spread (None: all)."""
    result = screen(ensemble, candidates, rejected, mu_star=mu_star, tc_method=tc_method,
                    eliashberg_spread=eliashberg_spread)
    by_id = {c.id: c for c in candidates}
    campaign = CampaignResult(result.ranked, result.rejected, result.timings_s)
    labelled = {p.id: p.labels for p in result.ranked if p.labels}
    if labelled:
        from betenet.screening.evaluation import evaluate

        predicted = {p.id: p.row() for p in result.ranked}
        campaign.evaluation = evaluate(predicted, labelled, tc_threshold_K=tc_threshold_K)
    meta = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "ensemble": {"id": ensemble.id, "directory": str(ensemble.directory), "variant": ensemble.variant,
                     "n_members": len(ensemble.members), "dataset_hash": ensemble.dataset_hash},
        "timings_s": result.timings_s,
        "tc_method": tc_method,
    }
    if out is not None:
        start = time.perf_counter()
        _write_outputs(Path(out), campaign, by_id, meta, plots, top)
        campaign.timings_s["write_s"] = time.perf_counter() - start
    if save and result.ranked:
        start = time.perf_counter()
        from betenet.store.documents import structure_fingerprint
        from betenet.store.predictions import get_predictions_store, save_predictions

        docs = [to_document(p, ensemble, structure_fingerprint(_workflow_cell(by_id[p.id])), by_id[p.id].calc_id)
                for p in result.ranked]
        campaign.n_saved = save_predictions(docs, get_predictions_store(settings))
        campaign.timings_s["store_s"] = time.perf_counter() - start
    return campaign


def _write_outputs(out: Path, campaign: CampaignResult, by_id: dict[str, Candidate], meta: dict, plots: str,
                   top: int) -> None:
    from betenet.physics import MODEL_GRID_MEV
    from betenet.screening.plots import a2f_plot

    out.mkdir(parents=True, exist_ok=True)
    write_csv(campaign.ranked, out / "predictions.csv")
    write_json(campaign.ranked, out / "predictions.json", campaign.rejected, meta)
    with (out / "rejected.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "source", "reason"])
        writer.writerows((r.id, r.source, r.reason) for r in campaign.rejected)
    chosen = campaign.ranked if plots == "all" else campaign.ranked[:top]
    if chosen:
        (out / "plots").mkdir(exist_ok=True)
    for p in chosen:
        dft = by_id[p.id].dft_a2f
        title = f"{p.formula} ({p.id}): λ = {_fmt(p.values['lambda'], p.spread['lambda'])}\n" \
                f"Tc = {_fmt(p.values['tc_K'], p.spread['tc_K'])} K (Allen–Dynes), {p.tc_eliashberg_text(_fmt)} K (Eliashberg)"
        a2f_plot(MODEL_GRID_MEV, p.a2f_mean, p.a2f_std, title, out / "plots" / f"a2f_{_safe(p.id)}.png",
                 dft=(MODEL_GRID_MEV, dft) if dft is not None else None)
    if campaign.evaluation is not None:
        from betenet.screening.evaluation import write_report

        predicted = {p.id: p.row() for p in campaign.ranked}
        labels = {p.id: p.labels for p in campaign.ranked if p.labels}
        write_report(campaign.evaluation, predicted, labels, out / "evaluation")


def _fmt(value, spread) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" + (f" ± {spread:.2f}" if spread is not None else "")


def _safe(ident: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", ident)
