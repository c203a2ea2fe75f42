"""Every verb that touches the store, pointed at a store it cannot use: one line naming the store and
what to check, exit code 2, before any other work (no ensemble loaded, no structure read, no QE run).

No server is needed: the refused port is one nobody listens on, the other cases are misconfigurations.
(The seconds each verb takes to say so are figures of `benchmarks/store_unreachable.py`, not asserted here.)
"""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from betenet.cli import app
from tests.test_workflow_handlers import fcc_al


def _closed_port() -> int:
    """A local port nothing listens on (bound for a moment by us, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# every verb that reads or writes the document store (build-dataset and train-ensemble from the store,
# predict/screen matching documents and writing predictions, run storing documents, submit to FireWorks'
# LaunchPad on the store's server, pipeline all of it); ALL = the inputs that would let each one go on
VERBS = {
    "run": ["run", "{cif}", "--preset", "test"],
    "submit": ["submit", "{cif}", "--engine", "fireworks", "--preset", "test"],
    "build-dataset": ["build-dataset", "{tmp}/dataset"],
    "train-ensemble": ["train-ensemble", "{tmp}/ensemble", "--members", "1", "--max-epochs", "1"],
    "predict": ["predict", "{cif}", "--ensemble", "{tmp}/ensemble"],
    "screen": ["screen", "{cif}", "--ensemble", "{tmp}/ensemble", "--out", "{tmp}/screen"],
    "pipeline": ["pipeline", "{cif}", "--preset", "test"],
}


def _invoke(verb: str, store_args: list[str], tmp_path):
    cif = tmp_path / "Al.cif"
    fcc_al().to(filename=str(cif))
    args = [a.format(cif=cif, tmp=tmp_path) for a in VERBS[verb]]
    return CliRunner().invoke(app, [*args, *store_args])


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert result.stdout == "", result.stdout  # nothing was done, nothing to report
    return lines[0]


@pytest.mark.parametrize("verb", VERBS)
def test_unreachable_server(verb, tmp_path):
    uri = f"mongodb://127.0.0.1:{_closed_port()}/betenet"
    line = _one_error_line(_invoke(verb, ["--store", uri, "--home", str(tmp_path / "home")], tmp_path))
    assert uri in line and "cannot reach" in line and "within 3 s" in line
    assert "check that the server runs" in line and "BETENET_STORE_URI" in line
    assert not (tmp_path / "home").exists()  # no run folder, no pipeline output, no embedded store made


@pytest.mark.parametrize("verb", VERBS)
def test_misconfigured_store(verb, tmp_path):
    line = _one_error_line(_invoke(verb, ["--store", "localhost:27017"], tmp_path))
    assert "localhost:27017 is not a usable MongoDB URI" in line and "mongodb://host:port/database" in line
    home = tmp_path / "a-file"
    home.write_text("not a folder")
    line = _one_error_line(_invoke(verb, ["--home", str(home)], tmp_path))
    assert f"cannot create the embedded store at {home / 'store'}" in line and "BETENET_HOME" in line
