"""`betenet build-dataset`: store query (or a JARVIS jsonl) → dataset directory.

Heavy imports (pymatgen, maggma) happen inside the commands so `betenet --help` stays quick.

Also what the data verbs share (build-dataset, train-ensemble, screen): the store options
(`--store`, `--home`, `--database`, overriding the settings for one command, so `BETENET_STORE_URI`
and the config file still work without them), the document filters, and one-line user errors.
"""

from __future__ import annotations

import contextlib
import functools
import json
from datetime import datetime
from pathlib import Path
from typing import Iterator, Optional
from urllib.parse import urlparse

import typer

from betenet.model.errors import ModelError
from betenet.settings import BetenetSettings, override_settings

# Errors a user can fix: shown as one line (exit code 2) instead of a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, LookupError, FileExistsError, FileNotFoundError,
                                                ModelError)


def user_errors(command):
    """Wrap a Typer command so the errors of USER_ERRORS print as `error: ...` and exit 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except typer.BadParameter:
            raise
        except USER_ERRORS as err:
            typer.echo(f"error: {type(err).__name__}: {err}", err=True)
            raise typer.Exit(2) from err

    return wrapper


# The store options every data verb takes (the same spelling as `betenet run`).
StoreUri = typer.Option(None, "--store", help="mongodb://host:port/[db]; default BETENET_STORE_URI, else the "
                        "embedded store under --home.")
Home = typer.Option(None, "--home", help="Working folder holding the embedded store; default BETENET_HOME.")
Database = typer.Option(None, "--database", help="Database name; default BETENET_DATABASE.")


@contextlib.contextmanager
def store_settings(store_uri: str | None, home: Path | None, database: str | None) -> Iterator[BetenetSettings]:
    """Settings with the command's store options applied."""
    overrides = {k: v for k, v in {"store_uri": store_uri, "home": home, "database": database}.items()
                 if v is not None}
    with override_settings(**overrides) as settings:
        yield settings


def describe_store(settings: BetenetSettings, collection: str) -> str:
    """Where the data came from, for manifests (no credentials: the URI's user:password is dropped)."""
    if settings.store_uri:
        url = urlparse(settings.store_uri)
        return f"mongodb://{url.hostname}:{url.port or 27017} database {settings.database} collection {collection}"
    from betenet.store.stores import embedded_store_path

    return f"embedded store {embedded_store_path(settings)} database {settings.database} collection {collection}"


def parse_list(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip()) if text else ()


def parse_where(text: str | None) -> dict:
    if not text:
        return {}
    try:
        where = json.loads(text)
    except json.JSONDecodeError as err:
        raise typer.BadParameter(f"--where is not valid JSON ({err}); example: '{{\"tc_K\": {{\"$gt\": 1}}}}'")
    if not isinstance(where, dict):
        raise typer.BadParameter("--where must be a JSON object of Mongo criteria")
    return where


def query_from_options(status: str, include_unstable: bool, method: str | None, elements: str | None,
                       exclude_elements: str | None, max_sites: int | None, since: datetime | None,
                       until: datetime | None, where: str | None):
    from betenet.dataset.query import METHODS, STATUSES, StoreQuery

    if status != "any" and status not in STATUSES:
        raise typer.BadParameter(f"Invalid --status {status!r}, use one of {(*STATUSES, 'any')}")
    if method is not None and method not in METHODS:
        raise typer.BadParameter(f"Invalid --method {method!r}, use one of {METHODS}")
    return StoreQuery(
        status=None if status == "any" else status,
        stable_only=not include_unstable,
        method=method,
        elements=parse_list(elements),
        exclude_elements=parse_list(exclude_elements),
        max_sites=max_sites,
        created_after=since,
        created_before=until,
        where=parse_where(where),
    )


# Document filters (build-dataset, train-ensemble from the store, screen from the store).
Status = typer.Option("ok", help="Document status: ok / unstable / failed / any.")
IncludeUnstable = typer.Option(False, help="Also dynamically unstable materials (default: stable only).")
Method = typer.Option(None, help="Only documents of this α²F route: dfpt / epw.")
Elements = typer.Option(None, help="Comma list: materials containing all of these.")
ExcludeElements = typer.Option(None, help="Comma list: materials containing none of these.")
MaxSites = typer.Option(None, help="At most this many atoms in the cell.")
Since = typer.Option(None, help="Documents created at/after this date (UTC).")
Until = typer.Option(None, help="Documents created before this date (UTC).")
Where = typer.Option(None, help="Extra Mongo criteria as JSON, ANDed with the filters.")
# How the records are split (build-dataset, train-ensemble from the store).
TestFraction = typer.Option(0.2, help="Seeded split: fraction of distinct structures for test.")
ValFraction = typer.Option(0.0, help="Seeded split: fraction for validation.")
SplitSeed = typer.Option(0, "--split-seed", help="Seed of the split.")
SeedSplit = typer.Option(
    None, help="Folder with the seed paper's indices/idx_{train,test}_full.txt and structures/<i>.cif: "
    "use that split (matched by structure) instead of a seeded one.")


def split_from_options(test_fraction: float, val_fraction: float, seed: int, seed_split: Path | None):
    from betenet.dataset.build import SplitSpec, seed_paper_assignments

    if seed_split is not None:
        return SplitSpec(assignments=seed_paper_assignments(seed_split / "indices", seed_split / "structures"),
                         label=f"seed paper indices {seed_split}")
    return SplitSpec(test_fraction=test_fraction, val_fraction=val_fraction, seed=seed)


@user_errors
def build_dataset_command(
    out: Path = typer.Argument(..., help="Dataset directory to write."),
    status: str = Status,
    include_unstable: bool = IncludeUnstable,
    method: Optional[str] = Method,
    elements: Optional[str] = Elements,
    exclude_elements: Optional[str] = ExcludeElements,
    max_sites: Optional[int] = MaxSites,
    since: Optional[datetime] = Since,
    until: Optional[datetime] = Until,
    where: Optional[str] = Where,
    require: str = typer.Option("a2f", help="Comma list of features every record must have (a2f, cpd, fpd)."),
    test_fraction: float = TestFraction,
    val_fraction: float = ValFraction,
    seed: int = SplitSeed,
    seed_split: Optional[Path] = SeedSplit,
    jarvis: Optional[Path] = typer.Option(
        None, help="Import this JARVIS supercon .jsonl (moment labels, no α²F) instead of querying the store."),
    overwrite: bool = typer.Option(False, help="Replace an existing dataset directory."),
    store_uri: Optional[str] = StoreUri,
    home: Optional[Path] = Home,
    database: Optional[str] = Database,
) -> None:
    """Export documents from the store (or a JARVIS file) as a versioned dataset directory."""
    if jarvis is not None:
        _import_jarvis(jarvis, out, overwrite)
        return
    from betenet.dataset.build import build_dataset
    from betenet.store.stores import DOCS_COLLECTION, get_store

    query = query_from_options(status, include_unstable, method, elements, exclude_elements, max_sites, since,
                               until, where)
    split = split_from_options(test_fraction, val_fraction, seed, seed_split)

    with store_settings(store_uri, home, database) as settings:
        result = build_dataset(get_store(settings), out, query, split=split, require=parse_list(require),
                               overwrite=overwrite, source=describe_store(settings, DOCS_COLLECTION))
    manifest = result.dataset.manifest
    typer.echo(f"{out}: {manifest.counts['records']} records from {result.n_matched} matching documents; "
               f"splits {manifest.counts['splits']}; {manifest.content_hash}")
    if result.unmatched_split:
        typer.echo(f"{len(result.unmatched_split)} documents are not in the given split (split null): "
                   f"{', '.join(result.unmatched_split[:10])}", err=True)


def _import_jarvis(path: Path, out: Path, overwrite: bool) -> None:
    from betenet.dataset import jarvis

    dataset = jarvis.import_jarvis(path, out, overwrite=overwrite)
    typer.echo(f"{out}: {dataset.manifest.counts['records']} JARVIS records; splits "
               f"{dataset.manifest.counts['splits']}; {dataset.manifest.content_hash}")
