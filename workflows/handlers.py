"""custodian ErrorHandlers for pw.x and ph.x: each reads the run's output with the project's parsers
and corrects the run's *parameters* in its spec file (see qe_run.py); the next attempt re-renders
the input with the engine's writer.

- PwConvergenceHandler: pw.x SCF not converged → halve mixing_beta (≥ 0.05), more electron steps.
- PhConvergenceHandler: ph.x linear-response SCF not converged → raise nmix_ph (≤ 5), halve alpha_mix,
  at least QE's default number of iterations; restart from the first unfinished q-point.
- DiagonalizationHandler: Cholesky / "S matrix not positive definite" → diagonalization='cg'.
- WalltimeHandler: QE stopped itself at max_seconds → restart. ph.x restarts from the first
  q-point without results (`start_q`) rather than with `recover=.true.`: QE 6.7's recover of a
  q ≠ Γ point interrupted mid-way gives wrong dynamical matrices / el-ph files or diverges (seen on
  fcc Al), while each finished q-point's dyn and elph_dir files are final. pw.x uses
  restart_mode='restart'.
- KilledHandler: the program died from a signal or a non-zero exit without a word of its own (SIGKILL
  from the OOM killer or a scheduler, a crashed rank): ph.x restarts from the first q-point that the
  killed attempt had not finished (its output up to the q-point it was computing, see
  `parse_ph_output(truncated_ok=True)`), pw.x runs again from scratch (a killed pw.x writes no restart
  files).
"""

from __future__ import annotations

import json
from pathlib import Path

from custodian.custodian import ErrorHandler

from betenet.parsers.errors import ParseError
from betenet.parsers.ph import parse_ph_output
from betenet.parsers.pw import parse_pw_output
from betenet.workflows.qe_run import RUNS_SUFFIX, all_outputs, read_spec, write_spec

PH_DEFAULT_ALPHA_MIX = 0.7
PH_DEFAULT_NMIX = 4
PH_DEFAULT_NITER = 100
PH_MAX_NMIX = 5  # ph.x rejects nmix_ph > 5 ("Wrong nmix_ph")
_CHOLESKY_MARKERS = ("S matrix not positive definite", "problems computing cholesky", "cholesky")
_WALLTIME_MARKER = "Maximum CPU time exceeded"


class _QEHandler(ErrorHandler):
    """Common parts: the label of the run, its output text and spec."""

    is_monitor = False
    program: str = ""

    def __init__(self, label: str):
        self.label = label

    def _output(self, directory) -> Path:
        return Path(directory) / f"{self.label}.out"

    def _text(self, directory) -> str:
        path = self._output(directory)
        return path.read_text(errors="replace") if path.is_file() else ""

    def _applies(self, directory) -> bool:
        try:
            return read_spec(directory, self.label)["program"] == self.program
        except FileNotFoundError:
            return False


class PwConvergenceHandler(_QEHandler):
    program = "pw"

    def check(self, directory="./") -> bool:
        if not self._applies(directory) or _WALLTIME_MARKER in self._text(directory):
            return False
        try:
            out = parse_pw_output(self._output(directory))
        except ParseError:
            return False
        return "convergence NOT achieved" in self._text(directory) or (out.job_done and not out.converged and not out.errors)

    def correct(self, directory="./") -> dict:
        spec = read_spec(directory, self.label)
        electrons = spec["parameters"].setdefault("electrons", {})
        beta = float(electrons.get("mixing_beta", 0.7))
        steps = int(electrons.get("electron_maxstep", 100))
        electrons["mixing_beta"] = max(0.05, beta / 2)
        electrons["electron_maxstep"] = max(2 * steps, 100)
        write_spec(directory, self.label, spec)
        return {
            "errors": ["pw.x SCF not converged"],
            "actions": [{"mixing_beta": electrons["mixing_beta"], "electron_maxstep": electrons["electron_maxstep"]}],
        }


def computed_qpoints(directory, label: str = "ph") -> dict:
    """q-point index → parsed q-point with frequencies, over every custodian attempt's output
    (a restart computes only the rest; a q-point interrupted mid-way has no frequencies printed)."""
    found = {}
    for path in all_outputs(directory, label):
        try:
            parsed = parse_ph_output(path, truncated_ok=True)  # a killed attempt: its finished q-points
        except ParseError:
            continue  # an attempt that stopped before it printed anything usable
        found.update({q.index: q for q in parsed.q_points if q.index and q.frequencies_thz.size})
    return found


def finished_qpoints(directory, elph: bool, label: str = "ph") -> set[int]:
    """1-based q-points whose dynamical matrix (and el-ph coefficients when asked) are final."""
    return {iq for iq, q in computed_qpoints(directory, label).items() if q.elph or not elph}


def unfinished_qpoints(directory, spec: dict) -> list[int]:
    """q-points of this run's range (start_q..last_q of ph.x's list) without results on disk."""
    params = spec["parameters"]
    try:
        n_q = len(parse_ph_output(Path(directory) / "ph.out", truncated_ok=True).grid_q_points_cart_2pi_alat)
    except ParseError:
        return [int(params.get("start_q", 1))]  # no q-point list printed yet: start where we started
    last = min(int(params.get("last_q", n_q)), n_q)
    done = finished_qpoints(directory, bool(params.get("electron_phonon")))
    return [iq for iq in range(int(params.get("start_q", 1)), last + 1) if iq not in done]


def restart_from_unfinished_q(directory, spec: dict) -> int:
    """Set start_q to the first q-point of this run without results, drop stale scratch; return it."""
    params = spec["parameters"]
    todo = unfinished_qpoints(directory, spec)
    params["start_q"] = todo[0] if todo else int(params.get("start_q", 1))
    params.pop("recover", None)
    status = Path(directory) / params.get("outdir", "./out") / "_ph0"
    for stale in status.glob("*.phsave/status_run.xml"):
        stale.unlink()  # a fresh start at start_q, not QE's recover of the interrupted point
    return params["start_q"]


class PhConvergenceHandler(_QEHandler):
    program = "ph"

    def check(self, directory="./") -> bool:
        return self._applies(directory) and "No convergence has been achieved" in self._text(directory)

    def correct(self, directory="./") -> dict:
        spec = read_spec(directory, self.label)
        params = spec["parameters"]
        alpha = params.get("alpha_mix", {})
        alpha = dict(alpha) if isinstance(alpha, dict) else {"1": alpha}
        alpha_now = float(alpha.get("1", alpha.get(1, PH_DEFAULT_ALPHA_MIX)))
        params["alpha_mix"] = {"1": max(0.1, alpha_now / 2)}
        params["nmix_ph"] = min(int(params.get("nmix_ph", PH_DEFAULT_NMIX)) + 1, PH_MAX_NMIX)
        params["niter_ph"] = max(int(params.get("niter_ph", PH_DEFAULT_NITER)), PH_DEFAULT_NITER)
        start_q = restart_from_unfinished_q(directory, spec)
        write_spec(directory, self.label, spec)
        return {
            "errors": ["ph.x self-consistency not converged"],
            "actions": [{"alpha_mix(1)": params["alpha_mix"]["1"], "nmix_ph": params["nmix_ph"],
                         "niter_ph": params["niter_ph"], "start_q": start_q}],
        }


class DiagonalizationHandler(_QEHandler):
    """Cholesky / S-matrix failures of Davidson: switch to conjugate gradients (pw.x or ph.x)."""

    def __init__(self, label: str, program: str):
        super().__init__(label)
        self.program = program

    def check(self, directory="./") -> bool:
        text = self._text(directory)
        return self._applies(directory) and "Error in routine" in text and any(
            marker.lower() in text.lower() for marker in _CHOLESKY_MARKERS
        )

    def correct(self, directory="./") -> dict:
        spec = read_spec(directory, self.label)
        if self.program == "pw":
            spec["parameters"].setdefault("electrons", {})["diagonalization"] = "cg"
        else:
            spec["parameters"]["diagonalization"] = "cg"
            restart_from_unfinished_q(directory, spec)
        write_spec(directory, self.label, spec)
        return {"errors": ["Cholesky / S matrix not positive definite"], "actions": [{"diagonalization": "cg"}]}


class WalltimeHandler(_QEHandler):
    """QE stopped at max_seconds: restart; if an attempt finished no q-point, double max_seconds."""

    def __init__(self, label: str, program: str):
        super().__init__(label)
        self.program = program

    def check(self, directory="./") -> bool:
        if not (self._applies(directory) and _WALLTIME_MARKER in self._text(directory)):
            return False
        # ph.x may hit max_seconds after its last q-point: then there is nothing left to do
        return self.program != "ph" or bool(unfinished_qpoints(directory, read_spec(directory, self.label)))

    def correct(self, directory="./") -> dict:
        spec = read_spec(directory, self.label)
        params = spec["parameters"]
        if self.program == "pw":
            params.setdefault("control", {})["restart_mode"] = "restart"
            write_spec(directory, self.label, spec)
            return {"errors": ["pw.x stopped at max_seconds"], "actions": [{"restart_mode": "restart"}]}
        previous = int(params.get("start_q", 1))
        start_q = restart_from_unfinished_q(directory, spec)
        action = {"start_q": start_q}
        if start_q == previous and "max_seconds" in params:
            params["max_seconds"] = 2 * float(params["max_seconds"])  # no q-point fits the budget
            action["max_seconds"] = params["max_seconds"]
        write_spec(directory, self.label, spec)
        return {"errors": ["ph.x stopped at max_seconds"], "actions": [action]}


class KilledHandler(_QEHandler):
    """The last attempt exited non-zero (or from a signal) and its output is neither a finished run nor
    one QE stopped with a message of its own (the parser then raises: no JOB DONE, no error block):
    it was killed from outside. Run it again, ph.x from the first unfinished q-point."""

    def __init__(self, label: str, program: str):
        super().__init__(label)
        self.program = program

    def _returncode(self, directory) -> int | None:
        runs = Path(directory) / f"{self.label}{RUNS_SUFFIX}"
        return json.loads(runs.read_text())[-1]["returncode"] if runs.is_file() else None

    def check(self, directory="./") -> bool:
        if not self._applies(directory) or self._returncode(directory) in (None, 0):
            return False
        parse = parse_ph_output if self.program == "ph" else parse_pw_output
        try:
            parse(self._output(directory))
        except ParseError:
            return True
        return False  # finished, or stopped by QE itself: the other handlers' business

    def correct(self, directory="./") -> dict:
        spec = read_spec(directory, self.label)
        code = self._returncode(directory)
        why = f"signal {-code}" if code < 0 else f"exit code {code}"
        if self.program == "ph":
            action = {"start_q": restart_from_unfinished_q(directory, spec)}
        else:
            spec["parameters"].setdefault("control", {})["restart_mode"] = "from_scratch"
            action = {"restart_mode": "from_scratch"}
        write_spec(directory, self.label, spec)
        return {"errors": [f"{self.program}.x killed ({why}) without a QE message"], "actions": [action]}


def default_handlers(label: str, program: str) -> list[ErrorHandler]:
    handlers: list[ErrorHandler] = [
        DiagonalizationHandler(label, program), WalltimeHandler(label, program), KilledHandler(label, program),
    ]
    if program == "pw":
        handlers.insert(0, PwConvergenceHandler(label))
    if program == "ph":
        handlers.insert(0, PhConvergenceHandler(label))
    return handlers
