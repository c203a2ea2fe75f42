"""`betenet train-ensemble`, `betenet predict`, `betenet screen`: the verbs of the learning half.

    train-ensemble OUT [--dataset DIR | store filters]   ensemble in OUT (dataset from the store in OUT/dataset);
                   [--engine fireworks|jobflow-remote]  or one Job per missing member submitted to an engine
    predict STRUCTURE... [--ensemble DIR] [--out DIR]    table; CSV/JSON and α²F plots with --out
    screen [SOURCE] [--ensemble DIR] --out DIR           SOURCE: folder/files of structures or a dataset
                                                         directory; none: the store's documents (filters);
                                                         --tc-method allen-dynes|eliashberg ranks

Without --ensemble, predict and screen use the ensemble shipped with the package (`betenet.model.default`).
Predictions go to the store's `predictions` collection (unless --no-save), linked to the ensemble id
and the hash of the dataset it was trained on. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

from betenet.cli.options import (
    AllowFlag,
    InputError,
    AllowMixed,
    Network,
    StoreChoice,
    VariantName,
    check_flags,
    check_variant_option,
    checks_store,
    document_filters,
    fail,
    parse_key_values,
    parse_list,
    report_left_out,
    split_options,
    store_options,
    store_settings,
    user_errors,
)

EnsembleDir = typer.Option(None, "--ensemble", help="Trained ensemble directory (from train-ensemble); default: the "
                           "ensemble shipped with betenet (its model card: model/default_ensemble/MODEL_CARD.md).")
MuStar = typer.Option(None, help="Coulomb pseudopotential μ* for Tc (default: the ensemble's, 0.10).")
TcMethod = typer.Option("allen-dynes", help="Tc to rank by: allen-dynes or eliashberg (both are reported).")
Save = typer.Option(True, help="Write the predictions to the store's 'predictions' collection.")


# ---------------------------------------------------------------------------------------------------
# train-ensemble
# ---------------------------------------------------------------------------------------------------


@user_errors
@checks_store(lambda options: options["dataset"] is None or options["engine"] == "fireworks")  # its LaunchPad
@document_filters
@split_options
@store_options
def train_ensemble_command(
    query,
    split,
    store: StoreChoice,
    out: Path = typer.Argument(..., help="Ensemble directory (created, or finished if partly trained)."),
    dataset: Optional[Path] = typer.Option(None, help="Train from this dataset directory instead of the store."),
    variant: str = VariantName,
    members: int = typer.Option(10, help="Bootstrap members (the seed used 100)."),
    seed: int = typer.Option(0, help="Seed of the bootstrap resamples and initialisations."),
    preset: Optional[str] = typer.Option(None, help="Network size and training schedule: compact (small data, the "
                                         "default) or seed (the BETE-NET paper's); the options below override it."),
    max_epochs: Optional[int] = typer.Option(None, help="Epoch cap per member (default: the preset's; tempered "
                                             "early stopping may end sooner)."),
    batch_size: Optional[int] = typer.Option(None, help="Mini-batch size (default: the preset's; at least the "
                                             "training set size = the full batch)."),
    lr_schedule: Optional[str] = typer.Option(None, help="constant / cosine (default: the preset's)."),
    weight_decay: Optional[float] = typer.Option(None, help="AdamW weight decay (default: the preset's)."),
    splits: str = typer.Option("train", help="Comma list of dataset splits to train on ('all' = every record)."),
    calibrate_on: Optional[str] = typer.Option(None, help="Dataset split (not trained on, e.g. val) whose λ, ω_log, "
                                               "Tc labels calibrate the ±1σ spread; stored with the ensemble."),
    workers: int = typer.Option(1, help="Members trained in parallel processes (1 = one after another)."),
    threads: Optional[int] = typer.Option(None, help="torch threads per worker (default: all split among workers)."),
    dtype: str = typer.Option("float32", help="float32 / float64."),
    network: list[str] = Network,
    allow_flag: list[str] = AllowFlag,
    allow_mixed: bool = AllowMixed,
    engine: str = typer.Option("local", help="local (train here) | fireworks | jobflow-remote (one Job per "
                               "missing member; OUT and the dataset must be on a file system the workers share)."),
    project: Optional[str] = typer.Option(None, help="jobflow-remote project name (default: its current project)."),
    worker: Optional[str] = typer.Option(None, help="jobflow-remote worker name (default: the project's first)."),
) -> None:
    """Train a bootstrap ensemble on a dataset directory, or on the store's documents (same filters as
    build-dataset; the dataset is written to OUT/dataset and its content hash recorded). With --engine
    fireworks (LaunchPad in the store's MongoDB) or jobflow-remote, submit one Job per member not yet
    finished in OUT instead; run it again after a partial run and only the missing members are submitted."""
    from betenet.model.training_request import ENGINES, TrainingRequest, dataset_from_store, train_from_dataset
    from betenet.model.variants import get_variant

    check_variant_option(variant)
    if engine not in ENGINES:
        fail(f"Invalid engine={engine!r}, use one of {ENGINES}")
    request = TrainingRequest(
        variant=variant, n_members=members, seed=seed, **({"preset": preset} if preset else {}),
        max_epochs=max_epochs, batch_size=batch_size, lr_schedule=lr_schedule, weight_decay=weight_decay,
        splits=None if splits == "all" else tuple(parse_list(splits)), calibrate_on=calibrate_on, workers=workers,
        threads=threads,
        dtype=dtype, network=parse_key_values(network, "--network"),
    )
    if dataset is None:
        with store_settings(store) as settings:
            data = dataset_from_store(settings, out, query, split, get_variant(variant).required_features,
                                      check_flags(allow_flag), allow_mixed)
        report_left_out(data.manifest.query.get("left_out_by_flag") or {})
        typer.echo(f"dataset {data.directory}: {len(data)} records from the store, {data.content_hash}")
    else:
        from betenet.dataset.format import read_dataset

        data = read_dataset(dataset)
    if engine != "local":
        _submit_members(data, out, request, engine, store, project, worker)
        return
    start = time.perf_counter()
    ensemble = train_from_dataset(data, out, request)
    summary = json.loads((Path(out) / "metrics.json").read_text())
    typer.echo(f"{ensemble!r}: trained on {ensemble.config['dataset']['n_samples']} samples of "
               f"{ensemble.config['dataset']['content_hash']}; median validation loss "
               f"{summary['val_loss_median']:.4g}; {time.perf_counter() - start:.1f} s")
    if ensemble.std_scales is not None:
        scales = ", ".join(f"{k} ×{v:.2f}" for k, v in ensemble.std_scales.items())
        typer.echo(f"spread calibrated on split {calibrate_on!r}: {scales}")


def _submit_members(data, out: Path, request, engine: str, store, project, worker) -> None:
    from betenet.model.training_request import submit_members
    from betenet.workflows.submit import SubmitError

    with store_settings(store) as settings:
        try:
            submitted, ident = submit_members(data, out, request, engine, settings, project=project, worker=worker)
        except SubmitError as err:
            fail(str(err))
    if not submitted:
        typer.echo(f"all {request.n_members} members of {out} are finished: nothing submitted")
        return
    typer.echo(f"{len(submitted)} member Jobs (members {', '.join(map(str, submitted))}) submitted to {engine} as "
               f"{ident}; they train into {Path(out).resolve()}")


# ---------------------------------------------------------------------------------------------------
# predict / screen
# ---------------------------------------------------------------------------------------------------


def _print_table(predictions, limit: int | None = None) -> None:
    shown = predictions if limit is None else predictions[:limit]
    typer.echo(f"{'rank':>4}  {'id':<24} {'formula':<14} {'λ':>12} {'ω_log (K)':>14} {'ω₂ (K)':>14} {'Tc AD (K)':>13} "
               f"{'Tc Eliashberg (K)':>17}")
    for rank, p in enumerate(shown, start=1):
        cells = [_pm(p.values[k], p.spread[k], digits) for k, digits in
                 (("lambda", 2), ("omega_log_K", 0), ("omega_2_K", 0), ("tc_K", 1))]
        eliashberg = p.tc_eliashberg_text(lambda value, spread: _pm(value, spread, 1))
        typer.echo(f"{rank:>4}  {p.id[:24]:<24} {p.formula[:14]:<14} {cells[0]:>12} {cells[1]:>14} {cells[2]:>14} "
                   f"{cells[3]:>13} {eliashberg:>17}")
    if limit is not None and len(predictions) > limit:
        typer.echo(f"      … {len(predictions) - limit} more in the output files")


def _pm(value, spread, digits: int) -> str:
    """`digits` decimals, or 2 significant digits for small numbers (a λ of 0.004 is not '0.00')."""
    if value is None:
        return "n/a"
    fmt = f".{digits}f" if abs(value) >= 10.0 ** -digits * 10 or value == 0 else ".2g"
    return f"{value:{fmt}}" + (f" ± {spread:{fmt}}" if spread is not None else "")


def _report_rejected(rejected) -> None:
    if not rejected:
        return
    typer.echo(f"{len(rejected)} input(s) could not be featurised (listed in the output with the reason):", err=True)
    for r in rejected[:10]:
        typer.echo(f"  {r.id}: {r.reason}", err=True)
    if len(rejected) > 10:
        typer.echo(f"  … {len(rejected) - 10} more", err=True)


def nothing_to_predict(candidates, rejected) -> None:
    """One line (InputError) when no input can be predicted, before any output is written; when some can,
    the others are listed with the results."""
    if not candidates:
        reasons = "; ".join(f"{r.source}: {r.reason}" for r in rejected[:5])
        more = f"; … {len(rejected) - 5} more" if len(rejected) > 5 else ""
        raise InputError(f"no input can be predicted — {reasons or 'no structure given'}{more}")


def _ensemble(directory: Path | None):
    """The ensemble in `directory`, or the shipped default (saying so in one line)."""
    if directory is not None:
        from betenet.screening.campaign import load_ensemble

        return load_ensemble(directory)
    from betenet.model.default import describe, load_default

    ensemble = load_default()
    typer.echo(describe(ensemble), err=True)
    return ensemble


@user_errors
@checks_store()
@store_options
def predict_command(
    store: StoreChoice,
    structures: list[Path] = typer.Argument(..., help="Structure files (CIF, POSCAR, ...) or folders of them."),
    ensemble: Optional[Path] = EnsembleDir,
    out: Optional[Path] = typer.Option(None, help="Write predictions.csv, predictions.json and α²F plots here."),
    mu_star: Optional[float] = MuStar,
    save: bool = Save,
) -> None:
    """Predict α²F (mean ± spread), λ, ω_log, ω₂ and Tc (Allen–Dynes and Eliashberg, each ± the members'
    spread) for structures; the DFT α²F is overlaid on the plots (and its site PhDOS used by CPD/FPD
    ensembles) when the store holds the structure's document."""
    from betenet.screening.campaign import match_store_documents, run_and_report
    from betenet.screening.inputs import read_structure_files

    ens = _ensemble(ensemble)
    candidates, rejected = read_structure_files(structures)
    nothing_to_predict(candidates, rejected)
    with store_settings(store) as settings:
        match_store_documents(candidates, settings)
        result = run_and_report(ens, candidates, rejected, settings, out=out, mu_star=mu_star, save=save,
                                plots="all")
    _print_table(result.ranked)
    _report_rejected(result.rejected)
    if not result.ranked:
        raise typer.Exit(1)


@user_errors
@checks_store()
@document_filters
@store_options
def screen_command(
    query,
    store: StoreChoice,
    source: Optional[list[Path]] = typer.Argument(
        None, help="Folder(s)/files of structures, or a dataset directory; none: the store's documents."),
    ensemble: Optional[Path] = EnsembleDir,
    out: Path = typer.Option(..., help="Output folder: predictions.csv (ranked), predictions.json, rejected.csv, plots/, evaluation/."),
    split: Optional[str] = typer.Option(None, help="Dataset source: only records of this split (e.g. test)."),
    top: int = typer.Option(20, help="Rows shown here and α²F plots written (the files hold all)."),
    tc_threshold: float = typer.Option(5.0, help="Tc (K) that counts as a hit in the evaluation's average precision."),
    mu_star: Optional[float] = MuStar,
    save: bool = Save,
    tc_method: str = TcMethod,
    eliashberg_spread: Optional[int] = typer.Option(
        None, min=0, help="Best-ranked rows that get the members' Eliashberg-Tc spread (default: --top); one "
        "solve per member and row, ≈ 23 ms each (806 rows × 100 members ≈ 31 min)."),
) -> None:
    """Rank many structures by predicted Tc (Allen–Dynes or Eliashberg) with uncertainty; with DFT labels (store
    documents or a dataset) also an evaluation: MAE/RMSE/R², parity plots, average precision vs random."""
    from betenet.screening import campaign
    from betenet.screening.predictions import check_tc_method

    check_tc_method(tc_method)
    t0 = time.perf_counter()
    ens = _ensemble(ensemble)
    load_s = time.perf_counter() - t0
    with store_settings(store) as settings:
        if source:
            candidates, rejected = campaign.candidates_from_paths(source, split)
        else:
            candidates, rejected = campaign.candidates_from_store(settings, query)
        nothing_to_predict(candidates, rejected)
        read_s = time.perf_counter() - t0 - load_s
        result = campaign.run_and_report(ens, candidates, rejected, settings, out=out, mu_star=mu_star, save=save,
                                         plots="top", top=top, tc_threshold_K=tc_threshold, tc_method=tc_method,
                                         eliashberg_spread=top if eliashberg_spread is None else eliashberg_spread)
    total_s = time.perf_counter() - t0
    _print_table(result.ranked, limit=top)
    _report_rejected(result.rejected)
    n_in = len(result.ranked) + len(result.rejected)
    t = result.timings_s
    typer.echo(f"screened {n_in} inputs: {len(result.ranked)} predicted, {len(result.rejected)} rejected; "
               f"load ensemble {load_s:.2f} s, read {read_s:.2f} s, featurise {t.get('featurise_s', 0):.2f} s, predict {t.get('predict_s', 0):.2f} s "
               f"({len(ens.members)} members), Eliashberg spread {t.get('eliashberg_spread_s', 0):.2f} s, files {t.get('write_s', 0):.2f} s, store {t.get('store_s', 0):.2f} s "
               f"({result.n_saved} rows), total {total_s:.2f} s ({1000 * total_s / max(n_in, 1):.1f} ms per structure)")
    if result.evaluation is not None:
        e = result.evaluation
        lines = [f"{k}: MAE {m.mae:.3g}, RMSE {m.rmse:.3g}, R² {'n/a' if m.r2 is None else f'{m.r2:.2f}'} (n={m.n})"
                 for k, m in e.metrics.items()]
        s = e.screening
        ap = "n/a (no positives)" if s.average_precision is None else f"{s.average_precision:.2f}"
        lines.append(f"Tc ≥ {s.tc_threshold_K:g} K: average precision {ap} vs random {s.random_average_precision:.2f} "
                     f"({s.n_positive}/{s.n} positives)")
        typer.echo("evaluation against DFT labels — " + "; ".join(lines))
    typer.echo(f"written to {out}")
