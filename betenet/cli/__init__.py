"""The `betenet` command: the layer on top. Each verb module parses options, calls the library beneath
(workflows, dataset, model, screening) and prints; no library module imports this package."""

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
from betenet.cli.data import build_dataset_command  # noqa: E402
from betenet.cli.dft import run_command, submit_command  # noqa: E402
from betenet.cli.learn import predict_command, screen_command, train_ensemble_command  # noqa: E402
from betenet.cli.pipeline import pipeline_command  # noqa: E402

app.command("run")(run_command)
app.command("submit")(submit_command)
app.command("build-dataset")(build_dataset_command)
app.command("train-ensemble")(train_ensemble_command)
app.command("predict")(predict_command)
app.command("screen")(screen_command)
app.command("pipeline")(pipeline_command)
