"""The `betenet` command. Each verb lives with the code it drives; this file only wires them up."""

from __future__ import annotations

import typer

from betenet import __version__

app = typer.Typer(
    name="betenet",
    help="Find conventional superconductors: Quantum ESPRESSO electron-phonon workflows and the "
    "BETE-NET model trained on their results.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"betenet {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """betenet command line."""


# --- verbs (each module keeps its heavy imports inside the command) -----------------------------------
from betenet.dataset.cli import build_dataset_command  # noqa: E402

app.command("build-dataset")(build_dataset_command)

from betenet.workflows.cli import run_command, submit_command  # noqa: E402

app.command("run")(run_command)
app.command("submit")(submit_command)

from betenet.screening.cli import predict_command, screen_command, train_ensemble_command  # noqa: E402

app.command("train-ensemble")(train_ensemble_command)
app.command("predict")(predict_command)
app.command("screen")(screen_command)

from betenet.pipeline import pipeline_command  # noqa: E402

app.command("pipeline")(pipeline_command)
