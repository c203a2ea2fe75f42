"""Run one QE program under custodian: spec file → engine's input writer → runner → handlers.

The parameters of a run live in `<label>.spec.json` beside its input. Each attempt renders the input
from the spec with the engine's writer (`betenet.qe.*`), so error handlers correct *parameters*
(mixing_beta, alpha_mix, start_q, ...) and never edit namelist text. custodian's `Custodian` drives
the attempts and logs every correction to `custodian.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from custodian.custodian import Custodian, CustodianError, ErrorHandler, Job
from pymatgen.core import Structure

from betenet.qe.lambda_x import write_lambda_input
from betenet.qe.matdyn import write_matdyn_input
from betenet.qe.ph import write_ph_input
from betenet.qe.pseudo import PseudoFamily
from betenet.qe.pw import write_pw_input
from betenet.qe.q2r import write_q2r_input
from betenet.qe.runner import QERunError, run_program

SPEC_SUFFIX = ".spec.json"
RUNS_SUFFIX = ".runs.json"


def spec_path(directory: str | Path, label: str) -> Path:
    return Path(directory) / f"{label}{SPEC_SUFFIX}"


def read_spec(directory: str | Path, label: str) -> dict[str, Any]:
    return json.loads(spec_path(directory, label).read_text())


def write_spec(directory: str | Path, label: str, spec: dict[str, Any]) -> None:
    spec_path(directory, label).write_text(json.dumps(spec, indent=1, default=list))


def _render_pw(spec: dict) -> str:
    inputs = spec["inputs"]
    pseudos = PseudoFamily(inputs["pseudo_dir"], filenames=inputs["pseudo_files"])
    return write_pw_input(
        Structure.from_dict(inputs["structure"]), spec["parameters"], pseudos=pseudos, kpoints=inputs["kpoints"]
    )


RENDERERS = {
    "pw": _render_pw,
    "ph": lambda spec: write_ph_input(spec["parameters"], qgrid=spec["inputs"]["qgrid"]),
    "q2r": lambda spec: write_q2r_input(spec["parameters"]),
    "matdyn": lambda spec: write_matdyn_input(spec["parameters"], dos_grid=spec["inputs"]["dos_grid"]),
    "lambda": lambda spec: write_lambda_input(**spec["inputs"], **spec["parameters"]),
}


def render_input(spec: dict) -> str:
    return RENDERERS[spec["program"]](spec)


def attempt_outputs_path(directory: str | Path, label: str, index: int) -> Path:
    return Path(directory) / f"{label}.attempt{index + 1}.out"


def _attempts(directory: str | Path, label: str) -> list[Path]:
    return sorted(Path(directory).glob(f"{label}.attempt*.out"), key=lambda p: int(p.name.split("attempt")[1][:-4]))


def all_outputs(directory: str | Path, label: str) -> list[Path]:
    """Stdout files of every attempt, oldest first, the final one last."""
    return [*_attempts(directory, label), Path(directory) / f"{label}.out"]


class QEProgramJob(Job):
    """custodian Job: render `<label>.in` from the spec and run the program (blocking).

    run() returns None (the engine's runner waits for the process); handlers then read the output.
    The output of an earlier attempt is kept as `<label>.attempt<N>.out`.
    Every attempt's return code and wall time are appended to `<label>.runs.json`.
    """

    def __init__(self, label: str, npool: int | None = None, timeout_s: float | None = None):
        self.label = label
        self.npool = npool
        self.timeout_s = timeout_s

    def setup(self, directory: str = "./") -> None:
        if not spec_path(directory, self.label).is_file():
            raise FileNotFoundError(f"{spec_path(directory, self.label)} missing: write the spec before running")

    def run(self, directory: str = "./"):
        spec = read_spec(directory, self.label)
        previous = Path(directory) / f"{self.label}.out"
        if previous.is_file():  # keep each failed attempt's output: results of finished q-points live there
            previous.rename(attempt_outputs_path(directory, self.label, len(list(_attempts(directory, self.label)))))
        result = run_program(
            spec["program"], render_input(spec), directory, label=self.label,
            npool=self.npool, timeout_s=self.timeout_s, check=False,
        )
        runs_file = Path(directory) / f"{self.label}{RUNS_SUFFIX}"
        runs = json.loads(runs_file.read_text()) if runs_file.is_file() else []
        runs.append({"returncode": result.returncode, "wall_time_s": result.wall_time_s, "command": result.command})
        runs_file.write_text(json.dumps(runs, indent=1))

    def postprocess(self, directory: str = "./") -> None:
        pass


def run_with_handlers(
    directory: str | Path,
    label: str,
    spec: dict[str, Any],
    handlers: list[ErrorHandler],
    *,
    max_errors: int = 5,
    npool: int | None = None,
    timeout_s: float | None = None,
    accept_nonzero: Callable[[Path], bool] | None = None,
) -> dict[str, Any]:
    """Write the spec, run under custodian; return {attempts, wall_time_s, corrections, spec}.

    Raises QERunError when the last attempt still exited non-zero (no handler knew the failure and
    `accept_nonzero(directory)` does not say the work is complete anyway, e.g. ph.x stopped at
    max_seconds after its last q-point) or custodian ran out of corrections.
    """
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    write_spec(directory, label, spec)
    custodian = Custodian(
        handlers, [QEProgramJob(label, npool=npool, timeout_s=timeout_s)], max_errors=max_errors,
        directory=str(directory), polling_time_step=1,
    )
    out = directory / f"{label}.out"
    try:
        log = custodian.run()
    except CustodianError as err:
        raise QERunError(
            f"{spec['program']}.x in {directory} failed after corrections: {err}",
            returncode=-1, stdout_path=out, stderr_path=directory / f"{label}.err",
        ) from err
    runs = json.loads((directory / f"{label}{RUNS_SUFFIX}").read_text())
    if runs[-1]["returncode"] != 0 and not (accept_nonzero and accept_nonzero(directory)):
        tail = "\n".join(out.read_text(errors="replace").strip().splitlines()[-8:]) if out.is_file() else ""
        raise QERunError(
            f"{spec['program']}.x exited with code {runs[-1]['returncode']} in {directory} and no handler "
            f"recognised the failure; end of {out.name}:\n{tail}",
            returncode=runs[-1]["returncode"], stdout_path=out, stderr_path=directory / f"{label}.err",
        )
    corrections = [
        {"handler": type(c["handler"]).__name__, "errors": c["errors"], "actions": c["actions"]}
        for entry in log for c in entry["corrections"]
    ]
    return {
        "attempts": len(runs),
        "wall_time_s": sum(r["wall_time_s"] for r in runs),
        "corrections": corrections,
        "spec": read_spec(directory, label),
    }
