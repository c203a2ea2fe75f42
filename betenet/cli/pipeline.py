"""`betenet pipeline`: the main job, from structures to a trained ensemble and its predictions.

    structures ──DFT (stability-gated el-ph workflow, skipped when the store already has it)──► store
    store ──build-dataset──► dataset ──train-ensemble──► ensemble ──► held-out evaluation + screening

Every stage is resumable: a material whose document is already stored is not recomputed, the dataset
is rebuilt from the store and the ensemble lives in a folder named by the dataset's content hash, so
finished members are kept when nothing changed and a changed store trains a new ensemble beside the
old one. The stages are the same functions the single verbs (`run`, `build-dataset`,
`train-ensemble`, `screen`) use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import typer

from betenet.cli.options import (
    AllowFlag,
    AllowMixed,
    InputError,
    Network,
    StoreChoice,
    VariantName,
    WorkflowSet,
    check_flags,
    check_variant_option,
    checks_store,
    parse_key_values,
    store_options,
    store_settings,
    user_errors,
)


@dataclass
class PipelineReport:
    """What the summary prints and `summary.json` keeps."""

    materials: list[dict] = field(default_factory=list)
    dataset: dict | None = None
    ensemble: str | None = None
    evaluation: dict | None = None
    holdout: dict | None = None  # mixed supervision: the grouped held-out scores beside the baselines
    screened: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)


def run_dft_stage(structure_files: list[Path], preset: str, overrides: dict, console, report: PipelineReport) -> None:
    """Run the el-ph workflow for each structure unless the store already holds its document."""
    from betenet.cli.dft import prepare
    from betenet.workflows.local import finished_document, run_structure

    maker, items = prepare(structure_files, preset, overrides)
    for number, (path, structure) in enumerate(items, start=1):
        label = f"[{number}/{len(items)}] {structure.composition.reduced_formula} ({path.name})"
        doc = finished_document(structure, maker)
        start = time.perf_counter()
        if doc is not None:
            console.print(f"{label}: already in the store ({doc.status}), not recomputed")
            origin = "store"
        else:
            with console.status(f"{label}: starting") as status:
                doc = run_structure(structure, maker, on_event=lambda msg: status.update(f"{label}: {msg}"))
            console.print(f"{label}: {doc.status} in {time.perf_counter() - start:.0f} s")
            origin = "computed"
        report.materials.append(_material_row(doc, origin, source=str(path)))


def _material_row(doc, origin: str, source: str) -> dict:
    return {
        "formula": doc.formula_pretty, "calc_id": doc.calc_id, "status": doc.status, "reason": doc.status_reason,
        "lambda": doc.lambda_, "omega_log_K": doc.omega_log_K, "omega_2_K": doc.omega_2_K, "tc_K": doc.tc_K,
        "tc_eliashberg_K": doc.tc_eliashberg_K,
        "tc_eliashberg_below_K": doc.a2f.eliashberg.below_K if doc.a2f and doc.a2f.eliashberg else None,
        "lowest_frequency_meV": doc.stability.lowest_frequency_meV if doc.stability else None,
        "origin": origin, "source": source,
    }


@user_errors
@checks_store()
@store_options
def pipeline_command(
    store: StoreChoice,
    structures: list[Path] = typer.Argument(None, help="Structure files to compute with DFT (CIF, POSCAR, ...).",
                                            show_default=False),
    preset: str = typer.Option("fast", help="Workflow preset: test | fast | validation | production."),
    set_: list[str] = WorkflowSet,
    documents: list[Path] = typer.Option([], "--documents", help="JSON(.gz) file of documents to add to the "
                                         "store first (e.g. a finished campaign); repeatable."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="JARVIS-format JSONL(.gz) of moment-only labels "
                                          "(λ, ω_log, Tc) trained on beside the store's α²F (mixed supervision); the "
                                          "evaluation is then a grouped held-out split of chemical systems over "
                                          "both, scored beside the baselines."),
    screen: list[Path] = typer.Option([], "--screen", help="Structures or folders to predict with the ensemble; "
                                      "repeatable."),
    variant: str = VariantName,
    members: int = typer.Option(10, help="Bootstrap members (the seed used 100)."),
    max_epochs: Optional[int] = typer.Option(None, help="Epoch cap per member (default: the compact preset's, 40)."),
    workers: int = typer.Option(1, help="Members trained in parallel processes."),
    network: list[str] = Network,
    test_fraction: float = typer.Option(0.2, help="Share of the stored materials held out for evaluation."),
    mu_star: float = typer.Option(0.10, help="μ* for the predicted Tc (Allen–Dynes)."),
    allow_flag: list[str] = AllowFlag,
    allow_mixed: bool = AllowMixed,
) -> None:
    """Main job: DFT for new structures → dataset → bootstrap ensemble → evaluation and screening."""
    from rich.console import Console

    from betenet.model.training_request import TrainingRequest
    console = Console(stderr=True)
    report = PipelineReport()
    with store_settings(store) as settings:
        out = Path(settings.home) / "pipeline"
        out.mkdir(parents=True, exist_ok=True)
        try:
            check_variant_option(variant)
            overrides = parse_key_values(set_, "--set")
            for path in documents:
                _import(path, console)
            if structures:
                start = time.perf_counter()
                run_dft_stage(list(structures), preset, overrides, console, report)
                report.timings_s["dft"] = time.perf_counter() - start
            request = TrainingRequest(variant=variant, n_members=members, max_epochs=max_epochs, workers=workers,
                                      network=parse_key_values(network, "--network"))
            _learn(out, request, test_fraction, mu_star, screen, console, report, check_flags(allow_flag), allow_mixed,
                   labels)
        except (InputError, ValueError, LookupError) as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(code=2)
        _write_summary(out, report)
        _print_summary(report, out, console)


def _import(path: Path, console) -> None:
    from betenet.store.transfer import import_documents

    docs = import_documents(path)
    console.print(f"imported {len(docs)} documents from {path} (upserted by calc_id)")


def _learn(out: Path, request, test_fraction: float, mu_star: float, screen_paths: list[Path], console,
           report: PipelineReport, allow_flags: tuple[str, ...] = (), allow_mixed: bool = False,
           labels: Path | None = None) -> None:
    from betenet.dataset.build import SplitSpec, build_dataset
    from betenet.dataset.query import StoreQuery
    from betenet.model.training_request import train_from_dataset
    from betenet.model.variants import get_variant
    from betenet.screening.campaign import candidates_from_dataset, candidates_from_paths, load_ensemble
    from betenet.screening.campaign import match_store_documents, run_and_report
    from betenet.settings import get_settings
    from betenet.store.stores import DOCS_COLLECTION, describe_store, get_store

    settings = get_settings()
    variant = request.variant
    require = get_variant(variant).required_features
    start = time.perf_counter()
    result = build_dataset(get_store(settings), out / ("dataset-dft" if labels else "dataset"), StoreQuery(),
                           split=SplitSpec(test_fraction=test_fraction), require=require, overwrite=True,
                           source=describe_store(settings, DOCS_COLLECTION), allow_flags=allow_flags,
                           allow_mixed=allow_mixed)
    built = result.dataset
    if result.left_out_by_flag:
        console.print("left out of the dataset for quality flags: "
                      + "; ".join(f"{flag}: {', '.join(ids)}" for flag, ids in result.left_out_by_flag.items()))
    console.print(f"dataset: {len(built)} stable materials with α²F → {built.directory} ({built.content_hash})")
    if labels:
        built = _mixed_dataset(out, built, labels, request.seed, console)
    report.dataset = {"directory": str(built.directory), "records": len(built), "hash": built.content_hash,
                      "splits": built.manifest.counts.get("splits")}
    ensemble_dir = out / f"ensemble-{variant}-{built.content_hash.split(':')[-1][:12]}"
    if labels:
        _train_and_score_holdout(built, ensemble_dir, request, console, report)
    else:
        train_from_dataset(built, ensemble_dir, request)
    report.ensemble = str(ensemble_dir)
    report.timings_s["dataset+training"] = time.perf_counter() - start
    ensemble = load_ensemble(ensemble_dir)

    test_records = [r for r in built.records if r.split == "test"]
    if test_records:
        candidates, rejected = candidates_from_dataset(built, "test")
        campaign = run_and_report(ensemble, candidates, rejected, settings, out=out / "evaluation",
                                  mu_star=mu_star, save=False, plots="top", top=10, eliashberg_spread=10)
        if campaign.evaluation is not None:
            report.evaluation = {name: {"mae": m.mae, "n": m.n} for name, m in campaign.evaluation.metrics.items()}
            report.plots.append(str(out / "evaluation"))
        else:  # e.g. one-element materials: a held-out element is one the ensemble never saw
            console.print(f"held-out evaluation: none of the {len(test_records)} test materials could be predicted: "
                          + "; ".join(f"{r.id}: {r.reason}" for r in campaign.rejected))
    if screen_paths:
        start = time.perf_counter()
        candidates, rejected = candidates_from_paths(screen_paths)
        match_store_documents(candidates, settings)
        campaign = run_and_report(ensemble, candidates, rejected, settings, out=out / "screen", mu_star=mu_star)
        report.screened = [p.row() for p in campaign.ranked]
        report.rejected = [{"id": r.id, "source": r.source, "reason": r.reason} for r in campaign.rejected]
        report.plots.append(str(out / "screen"))
        report.timings_s["screening"] = time.perf_counter() - start
    report.plots.append(_plot_dft_spectra(out, report))


def _mixed_dataset(out: Path, dft, labels: Path, seed: int, console):
    """The store's α²F records and the moment-only labels in one dataset, split grouped by chemical system."""
    from betenet.dataset.jarvis import import_jarvis
    from betenet.screening.accuracy import holdout_dataset

    moments = import_jarvis(labels, out / "dataset-labels", overwrite=True)
    mixed = holdout_dataset(out / "dataset", [dft, moments], seed=seed, overwrite=True)
    splits = mixed.manifest.counts.get("splits")
    console.print(f"mixed supervision: {len(dft)} α²F records + {len(moments)} moment-only records from "
                  f"{labels.name} → {mixed.directory} ({mixed.content_hash}); grouped held-out split {splits}")
    return mixed


def _train_and_score_holdout(dataset, ensemble_dir: Path, request, console, report: PipelineReport) -> None:
    from betenet.screening.accuracy import evaluate_on_holdout

    evaluation = evaluate_on_holdout(dataset, ensemble_dir, request, progress=True)
    report.holdout = {**evaluation.to_json(), "table": evaluation.table()}
    console.print(f"\nheld-out evaluation ({evaluation.summary}); cov = share of true values inside the ±1σ band, "
                  "raw and calibrated (cal):")
    console.print("\n".join(evaluation.table()), markup=False, highlight=False, soft_wrap=True)
    if "calibration_error" in evaluation.ensemble:
        console.print(f"spread not calibrated ({evaluation.ensemble['calibration_error']}): the ±1σ bands are the "
                      "members' raw spread")


def _plot_dft_spectra(out: Path, report: PipelineReport) -> str:
    """All stored α²F of this run's materials in one figure (the DFT half of the main job)."""
    from betenet.screening.plots import dft_spectra_plot
    from betenet.store.stores import get_store, load_document

    docs = [load_document(m["calc_id"], get_store()) for m in report.materials if m["status"] == "ok"]
    path = out / "dft_a2f.png"
    if docs:
        dft_spectra_plot([(d.formula_pretty, d.a2f.omega_meV, d.a2f.a2f, d.lambda_) for d in docs], path)
    return str(path) if docs else ""


def _write_summary(out: Path, report: PipelineReport) -> None:
    import json
    from dataclasses import asdict

    (out / "summary.json").write_text(json.dumps(asdict(report), indent=1, default=str))


def _fmt(value, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _eliashberg(row: dict, spread: bool = False) -> str:
    """A row's Eliashberg Tc (± spread), '< 0.1' where it lies below the lowest temperature solved."""
    if row["tc_eliashberg_K"] is None and row["tc_eliashberg_below_K"] is not None:
        return f"< {row['tc_eliashberg_below_K']:g}"
    text = _fmt(row["tc_eliashberg_K"], 2)
    return f"{text} ± {_fmt(row['tc_eliashberg_K_std'], 2)}" if spread and row["tc_eliashberg_K_std"] is not None else text


def _print_summary(report: PipelineReport, out: Path, console) -> None:
    from rich.table import Table

    from betenet.settings import get_settings

    if report.materials:
        table = Table(title="DFT electron-phonon results (this run's structures)")
        for column in ("material", "status", "λ", "ω_log (K)", "ω₂ (K)", "Tc (K)", "Tc Eliashberg (K)", "lowest ω (meV)",
                       "origin"):
            table.add_column(column)
        for m in report.materials:
            table.add_row(m["formula"], m["status"] if m["status"] == "ok" else f"{m['status']}: {m['reason']}",
                          _fmt(m["lambda"], 3), _fmt(m["omega_log_K"], 1), _fmt(m["omega_2_K"], 1),
                          _fmt(m["tc_K"], 2), _eliashberg(m), _fmt(m["lowest_frequency_meV"], 2), m["origin"])
        console.print(table)
    if report.evaluation:
        parts = [f"{name} MAE {m['mae']:.3g} (n={m['n']})" for name, m in report.evaluation.items()]
        console.print("held-out materials: " + ", ".join(parts))
    if report.screened:
        table = Table(title="Screening, ranked by predicted Tc (± ensemble spread)")
        for column in ("structure", "formula", "λ", "ω_log (K)", "Tc (K)", "Tc Eliashberg (K)"):
            table.add_column(column)
        for row in report.screened[:15]:
            table.add_row(row["id"], row["formula"], f"{_fmt(row['lambda'], 3)} ± {_fmt(row['lambda_std'], 3)}",
                          f"{_fmt(row['omega_log_K'], 0)} ± {_fmt(row['omega_log_K_std'], 0)}",
                          f"{_fmt(row['tc_K'], 2)} ± {_fmt(row['tc_K_std'], 2)}", _eliashberg(row, spread=True))
        console.print(table)
    for rejected in report.rejected:
        console.print(f"not screened: {rejected['source']}: {rejected['reason']}")
    settings = get_settings()
    store = settings.store_uri or f"embedded store under {Path(settings.home).resolve() / 'store'}"
    console.print(f"store: {store}")
    if report.dataset:
        console.print(f"dataset: {report.dataset['directory']} ({report.dataset['records']} records, "
                      f"splits {report.dataset['splits']})")
    if report.ensemble:
        console.print(f"ensemble: {report.ensemble}")
    for plot in filter(None, report.plots):
        console.print(f"plots: {plot}")
    console.print(f"summary: {out / 'summary.json'}; timings (s): "
                  + ", ".join(f"{k} {v:.0f}" for k, v in report.timings_s.items()))
