"""What the verbs share, written once: one-line user errors, the store options (`--store`, `--home`,
`--database`, overriding the settings for one command, so `BETENET_STORE_URI` and the config file still
work without them), the document filters, the split options and KEY=VALUE option lists.

Heavy imports (pymatgen, maggma, torch) happen inside the commands so `betenet --help` stays quick.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer

from betenet.settings import BetenetSettings, override_settings


class InputError(Exception):
    """A user input problem: printed as one line, exit code 2."""


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _user_error_types() -> tuple[type[BaseException], ...]:
    """Errors a user can fix: shown as one line (exit code 2) instead of a traceback."""
    from betenet.model.errors import ModelError
    from betenet.phonons.potentials import MissingPotentialError
    from betenet.store.connection import StoreUnavailableError

    return (ValueError, LookupError, FileExistsError, FileNotFoundError, InputError, ModelError, MissingPotentialError,
            StoreUnavailableError)


def user_errors(command):
    """Wrap a Typer command so the errors of USER_ERRORS print as `error: ...` and exit 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except typer.BadParameter:
            raise
        except _user_error_types() as err:
            typer.echo(f"error: {type(err).__name__}: {err}", err=True)
            raise typer.Exit(2) from err

    return wrapper


def option_block(target: str, options: dict[str, tuple[Any, Any]], combine: Callable[..., Any]):
    """Decorator giving a command a block of options written once here: typer sees `options`
    (name → (type, typer.Option)) in place of the command's `target` parameter, and the command
    receives `target=combine(**values)` (a query, a split, store settings)."""

    def decorate(command):
        signature = inspect.signature(command)
        kept = [p for name, p in signature.parameters.items() if name != target]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=hint)
                 for name, (hint, option) in options.items()]

        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            values = {name: kwargs.pop(name) for name in options}
            return command(*args, **kwargs, **{target: combine(**values)})

        wrapper.__signature__ = signature.replace(parameters=kept + added)
        wrapper.__annotations__ = {**{k: v for k, v in command.__annotations__.items() if k != target},
                                   **{name: hint for name, (hint, _) in options.items()}}
        return wrapper

    return decorate


@dataclass(frozen=True)
class StoreChoice:
    """The command's --store/--home/--database (None: the settings decide)."""

    store_uri: str | None = None
    home: Path | None = None
    database: str | None = None


# The store options every data verb takes (the same spelling as `betenet run`): the command gets `store`.
store_options = option_block("store", {
    "store_uri": (Optional[str], typer.Option(None, "--store", help="mongodb://host:port/db; default "
                                              "BETENET_STORE_URI, else the embedded store under --home.")),
    "home": (Optional[Path], typer.Option(None, "--home", help="Working folder (run folders, the embedded store, "
                                          "pipeline outputs); default BETENET_HOME.")),
    "database": (Optional[str], typer.Option(None, "--database", help="Database name; default BETENET_DATABASE.")),
}, StoreChoice)


def checks_store(needed: Callable[[dict], bool] = lambda options: True):
    """Decorator, outermost but for `user_errors`: before the option blocks build their values and before
    the command imports anything heavy, open the store its --store/--home/--database (or the settings) name,
    so an unreachable or misconfigured one is told in seconds, in one line (StoreUnavailableError).
    `needed(options)`: whether these options use the store at all (e.g. not with --jarvis)."""

    def decorate(command):
        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            if needed(kwargs):
                from betenet.store.connection import check_store

                overrides = {name: kwargs[name] for name in ("store_uri", "home", "database")
                             if kwargs.get(name) is not None}
                with override_settings(**overrides) as settings:
                    check_store(settings)
            return command(*args, **kwargs)

        return wrapper

    return decorate


@contextlib.contextmanager
def store_settings(choice: StoreChoice) -> Iterator[BetenetSettings]:
    """Settings with the command's store options applied."""
    overrides = {k: v for k, v in vars(choice).items() if v is not None}
    with override_settings(**overrides) as settings:
        yield settings


def parse_list(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip()) if text else ()


def parse_key_values(pairs: list[str], option: str) -> dict:
    """['q_split=2', 'qgrid_coarse=[2,2,2]'] → {'q_split': 2, 'qgrid_coarse': [2, 2, 2]}; a value that is
    not JSON stays a string."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"{option} expects KEY=VALUE, got {pair!r}")
        try:
            values[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            values[key.strip()] = value
    return values


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


def _query(status: str, include_unstable: bool, method: str | None, elements: str | None,
           exclude_elements: str | None, max_sites: int | None, since: datetime | None, until: datetime | None,
           where: str | None):
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


# Document filters (build-dataset, train-ensemble from the store, screen from the store): the command gets
# `query`, a StoreQuery.
document_filters = option_block("query", {
    "status": (str, typer.Option("ok", help="Document status: ok / unstable / unresolved / unsupported / failed / skipped / any.")),
    "include_unstable": (bool, typer.Option(False, help="Also dynamically unstable materials (default: stable "
                                            "only).")),
    "method": (Optional[str], typer.Option(None, help="Only documents of this α²F route: dfpt / epw.")),
    "elements": (Optional[str], typer.Option(None, help="Comma list: materials containing all of these.")),
    "exclude_elements": (Optional[str], typer.Option(None, help="Comma list: materials containing none of these.")),
    "max_sites": (Optional[int], typer.Option(None, help="At most this many atoms in the cell.")),
    "since": (Optional[datetime], typer.Option(None, help="Documents created at/after this date (UTC).")),
    "until": (Optional[datetime], typer.Option(None, help="Documents created before this date (UTC).")),
    "where": (Optional[str], typer.Option(None, help="Extra Mongo criteria as JSON, ANDed with the filters.")),
}, _query)


def _split(test_fraction: float, val_fraction: float, split_seed: int, seed_split: Path | None):
    from betenet.dataset.build import SplitSpec, seed_paper_assignments

    if seed_split is not None:
        return SplitSpec(assignments=seed_paper_assignments(seed_split / "indices", seed_split / "structures"),
                         label=f"seed paper indices {seed_split}")
    return SplitSpec(test_fraction=test_fraction, val_fraction=val_fraction, seed=split_seed)


# How the records are split (build-dataset, train-ensemble from the store): the command gets `split`.
split_options = option_block("split", {
    "test_fraction": (float, typer.Option(0.2, help="Seeded split: fraction of distinct structures for test.")),
    "val_fraction": (float, typer.Option(0.0, help="Seeded split: fraction for validation.")),
    "split_seed": (int, typer.Option(0, "--split-seed", help="Seed of the split.")),
    "seed_split": (Optional[Path], typer.Option(
        None, help="Folder with the seed paper's indices/idx_{train,test}_full.txt and structures/<i>.cif: use "
        "that split (matched by structure) instead of a seeded one.")),
}, _split)


# Which flagged documents a dataset keeps (build-dataset, train-ensemble from the store).
AllowFlag = typer.Option([], "--allow-flag", help="Keep documents carrying this quality flag (repeatable); by "
                         "default every flagged document is left out, and the count said.")


# Whether a dataset may mix protocols (build-dataset, train-ensemble from the store, pipeline).
AllowMixed = typer.Option(False, "--allow-mixed", help="Keep documents of different protocols (preset, QE version, "
                          "pseudopotential files) in one dataset; the manifest records each. Default: refused, "
                          "naming the documents.")


def check_flags(names: list[str]) -> tuple[str, ...]:
    from betenet.workflows.quality import FLAGS

    unknown = sorted(set(names) - set(FLAGS))
    if unknown:
        raise typer.BadParameter(f"Invalid --allow-flag {unknown}, use any of {tuple(FLAGS)}")
    return tuple(names)


def report_left_out(counts: dict[str, int], n_documents: int | None = None) -> None:
    """One line on the documents a dataset left out for their quality flags (`counts`: flag → documents)."""
    if counts:
        how_many = f"{n_documents} " if n_documents is not None else ""
        typer.echo(f"left out {how_many}flagged document(s) (keep them with --allow-flag NAME): "
                   + "; ".join(f"{flag}: {n}" for flag, n in counts.items()), err=True)


# Workflow options (run, submit, pipeline).
WorkflowSet = typer.Option([], "--set", help="Workflow option KEY=VALUE (JSON value), repeatable.")

# Model options (train-ensemble, pipeline).
Network = typer.Option([], "--network", help="Network option KEY=VALUE (JSON), e.g. mul=8; repeatable (default: "
                       "the preset's network).")
VariantName = typer.Option("CSO", "--variant", help="CSO (structure only) / CPD (+ coarse site PhDOS) / FPD (+ fine) / "
                           "MPD (+ site PhDOS of an interatomic potential, for any structure).")


def check_variant_option(variant: str) -> str:
    from betenet.model.variants import VARIANT_NAMES

    if variant not in VARIANT_NAMES:
        raise typer.BadParameter(f"Invalid --variant {variant!r}, use one of {VARIANT_NAMES}")
    return variant
