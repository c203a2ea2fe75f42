"""`betenet run` (local, with progress) and `betenet submit` (FireWorks / jobflow-remote).

Everything a run needs is checked before anything runs or is written: every structure file reads,
every element has a pseudopotential, the QE binaries exist, the options are valid. A bad input
prints one line `error: <what> (<where>)` and exits 2, leaving the store untouched.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import typer

from betenet.cli.options import (
    InputError,
    StoreChoice,
    WorkflowSet,
    checks_store,
    fail,
    parse_key_values,
    store_options,
    store_settings,
    user_errors,
)

# programs each route needs on this machine
REQUIRED_PROGRAMS = {"dfpt": ("pw", "ph", "q2r", "matdyn", "lambda"), "epw": ("pw", "ph", "q2r", "matdyn", "epw")}
ENGINES = ("fireworks", "jobflow-remote")
MethodOption = typer.Option("dfpt", help="dfpt (ph.x + matdyn α²F) | epw (Wannier-interpolated α²F, epw.x)")
ConvergeOption = typer.Option(False, "--converge", help="Raise the dense k-grid until λ and ω_log of two grids "
                              "agree (--set converge_tolerance=0.05, converge_max_steps=3, converge_k_step=1); "
                              "report the smallest agreeing smearing.")


def workflow_overrides(set_: list[str], converge: bool) -> dict:
    """--set KEY=VALUE options, with --converge as the `converge` option."""
    overrides = parse_key_values(set_, "--set")
    return {**overrides, "converge": True} if converge else overrides


def read_structure(path: Path):
    """pymatgen Structure from CIF/POSCAR/...; InputError naming the file for anything unreadable."""
    from pymatgen.core import DummySpecies, Structure

    from betenet.structure_files import unreadable_reason

    if not path.is_file():
        raise InputError(f"structure file {path} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pymatgen warns line by line about a broken CIF; one error is enough
            structure = Structure.from_file(path)
    except Exception as err:  # pymatgen raises many types for malformed files
        raise InputError(f"cannot read a structure from {path}: {unreadable_reason(path, err)}; give a CIF or "
                         "POSCAR file") from err
    if len(structure) == 0:
        raise InputError(f"{path} holds no atoms")
    unknown = sorted({species.symbol for species in structure.composition if isinstance(species, DummySpecies)})
    if unknown:
        raise InputError(f"cannot read a structure from {path}: unknown element symbol(s) {', '.join(unknown)} (not in "
                         "the periodic table); give a CIF or POSCAR file")
    return structure


def prepare(structure_files: list[Path], preset: str, overrides: dict, check_binaries: bool = True,
            method: str = "dfpt"):
    """(maker, [(path, structure)]) after every check; raises InputError with a one-line message."""
    from betenet.qe.programs import get_program
    from betenet.qe.pseudo import PseudoError
    from betenet.qe.runner import MissingBinaryError, resolve_binary
    from betenet.workflows.epw import EpwElectronPhononMaker
    from betenet.workflows.flows import ElectronPhononMaker
    from betenet.workflows.presets import InvalidOptionError

    makers = {"dfpt": ElectronPhononMaker, "epw": EpwElectronPhononMaker}
    if method not in makers:
        raise InputError(f"Invalid method={method!r}, use one of {tuple(makers)}")
    try:
        maker = makers[method].from_preset(preset, **overrides)
    except InvalidOptionError as err:
        raise InputError(str(err)) from err
    items = [(path, read_structure(path)) for path in structure_files]
    for path, structure in items:
        try:
            maker.identity(structure)
            maker.makers(structure)
        except PseudoError as err:
            raise InputError(f"{err} (structure {path})") from err
        except ValueError as err:
            raise InputError(f"{path}: {err}") from err
    if check_binaries:
        for name in REQUIRED_PROGRAMS[method]:
            try:
                resolve_binary(get_program(name))
            except MissingBinaryError as err:
                raise InputError(str(err)) from err
    return maker, items


@user_errors
@checks_store()
@store_options
def run_command(
    store: StoreChoice,
    structures: list[Path] = typer.Argument(..., help="Structure files (CIF, POSCAR, ...).", show_default=False),
    preset: str = typer.Option("production", help="test | fast | validation | production"),
    set_: list[str] = WorkflowSet,
    skip_finished: bool = typer.Option(False, "--skip-finished", help="Do not rerun a structure whose document "
                                       "(same settings) is already stored with a final verdict (ok, unstable, "
                                       "unresolved, unsupported)."),
    method: str = MethodOption,
    converge: bool = ConvergeOption,
) -> None:
    """Run the electron-phonon workflow here, store the documents, print λ, ω_log and Tc."""
    from rich.console import Console

    from betenet.workflows.local import finished_document, run_structure

    console = Console(stderr=True)
    with store_settings(store):
        try:
            maker, items = prepare(structures, preset, workflow_overrides(set_, converge), method=method)
        except InputError as err:
            fail(str(err))
        failures = 0
        for path, structure in items:
            label = f"{structure.composition.reduced_formula} ({path.name})"
            doc = finished_document(structure, maker) if skip_finished else None
            if doc is not None:
                typer.echo(_summary(label, doc) + " (stored before, not rerun)")
                continue
            with console.status(f"{label}: starting") as status:
                doc = run_structure(structure, maker, on_event=lambda msg: status.update(f"{label}: {msg}"))
            typer.echo(_summary(label, doc))
            failures += doc.status == "failed"
    if failures:
        raise typer.Exit(code=1)


def _summary(label: str, doc) -> str:
    if doc.status == "ok":
        return (f"{label}: λ = {doc.lambda_:.3f}, ω_log = {doc.omega_log_K:.1f} K, ω₂ = {doc.omega_2_K:.1f} K, "
                f"Tc = {doc.tc_K:.2f} K (μ* = {doc.a2f.mu_star}, σ = {doc.a2f.smearing_Ry} Ry) [{doc.calc_id}]")
    return f"{label}: {doc.status}: {doc.status_reason} [{doc.calc_id}]"


@user_errors
# jobflow-remote writes to its project's store, not to ours: nothing of ours to check
@checks_store(lambda options: options["engine"] == "fireworks")
@store_options
def submit_command(
    store: StoreChoice,
    structures: list[Path] = typer.Argument(..., help="Structure files (CIF, POSCAR, ...).", show_default=False),
    engine: str = typer.Option(..., help="fireworks | jobflow-remote"),
    preset: str = typer.Option("production", help="test | fast | validation | production"),
    set_: list[str] = WorkflowSet,
    project: str = typer.Option(None, help="jobflow-remote project name (default: its current project)."),
    worker: str = typer.Option(None, help="jobflow-remote worker name (default: the project's first)."),
    method: str = MethodOption,
    converge: bool = ConvergeOption,
) -> None:
    """Submit the workflow to FireWorks (LaunchPad on the store's MongoDB: give --store) or jobflow-remote."""
    from betenet.workflows import submit

    if engine not in ENGINES:
        fail(f"Invalid engine={engine!r}, use one of {ENGINES}")
    with store_settings(store) as settings:
        try:
            # the programs run on the workers, not necessarily here: no binary check
            maker, items = prepare(structures, preset, workflow_overrides(set_, converge), check_binaries=False,
                                   method=method)
            if engine == "fireworks":
                ids = submit.submit_fireworks([s for _, s in items], maker, settings)
            else:
                ids = submit.submit_jobflow_remote([s for _, s in items], maker, project=project, worker=worker)
        except (InputError, submit.SubmitError) as err:
            fail(str(err))
    for (path, _), ident in zip(items, ids):
        typer.echo(f"{path}: submitted to {engine} as {ident}")
