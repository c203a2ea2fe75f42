"""`betenet build-dataset`: store query (or a JARVIS jsonl) → dataset directory."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from betenet.cli.options import (
    AllowFlag,
    AllowMixed,
    StoreChoice,
    check_flags,
    checks_store,
    document_filters,
    parse_list,
    report_left_out,
    split_options,
    store_options,
    store_settings,
    user_errors,
)


@user_errors
@checks_store(lambda options: options["jarvis"] is None)
@document_filters
@split_options
@store_options
def build_dataset_command(
    query,
    split,
    store: StoreChoice,
    out: Path = typer.Argument(..., help="Dataset directory to write."),
    require: str = typer.Option("a2f", help="Comma list of features every record must have (a2f, cpd, fpd, mpd: "
                                "the site PhDOS of --potential, computed for every record)."),
    potential: Optional[str] = typer.Option(None, help="Interatomic potential for the mpd rows (sevennet-0, "
                                            "sevennet-l3i5, chgnet-0.3.0); default sevennet-l3i5 when mpd is required."),
    jarvis: Optional[Path] = typer.Option(
        None, help="Import this JARVIS supercon .jsonl (moment labels, no α²F) instead of querying the store."),
    overwrite: bool = typer.Option(False, help="Replace an existing dataset directory."),
    allow_flag: list[str] = AllowFlag,
    allow_mixed: bool = AllowMixed,
) -> None:
    """Export documents from the store (or a JARVIS file) as a versioned dataset directory."""
    if jarvis is not None:
        _import_jarvis(jarvis, out, overwrite)
        return
    from betenet.dataset.build import build_dataset
    from betenet.store.stores import DOCS_COLLECTION, describe_store, get_store

    with store_settings(store) as settings:
        mlip = None
        if potential is not None:
            from betenet.phonons.mlip import MlipPhononCalculator, PhononSettings

            mlip = MlipPhononCalculator(PhononSettings(potential=potential))
        result = build_dataset(get_store(settings), out, query, split=split, require=parse_list(require),
                               overwrite=overwrite, source=describe_store(settings, DOCS_COLLECTION),
                               allow_flags=check_flags(allow_flag), allow_mixed=allow_mixed, mlip=mlip)
    manifest = result.dataset.manifest
    typer.echo(f"{out}: {manifest.counts['records']} records from {result.n_matched} matching documents; "
               f"splits {manifest.counts['splits']}; {manifest.content_hash}")
    report_left_out(manifest.query["left_out_by_flag"], result.n_matched - manifest.counts["records"])
    if manifest.query.get("mlip"):
        typer.echo(f"mpd: site PhDOS of {manifest.query['mlip']['potential']} ({manifest.query['mlip']['version']})")
    if result.unmatched_split:
        typer.echo(f"{len(result.unmatched_split)} documents are not in the given split (split null): "
                   f"{', '.join(result.unmatched_split[:10])}", err=True)


def _import_jarvis(path: Path, out: Path, overwrite: bool) -> None:
    from betenet.dataset import jarvis

    dataset = jarvis.import_jarvis(path, out, overwrite=overwrite)
    typer.echo(f"{out}: {dataset.manifest.counts['records']} JARVIS records; splits "
               f"{dataset.manifest.counts['splits']}; {dataset.manifest.content_hash}")
