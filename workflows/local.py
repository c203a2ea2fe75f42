"""Run electron-phonon Flows on this machine (jobflow's run_locally) into the configured stores.

A Flow that fails still leaves a document: status 'failed' with the failing Job and its error as the
reason (DESIGN: failed materials are stored too, never a sentinel number).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from jobflow import run_locally
from pymatgen.core import Structure

from betenet.parsers import processor_cores
from betenet.settings import get_settings
from betenet.store.documents import ElectronPhononDoc
from betenet.store.stores import get_job_store, get_store, load_document, save_document
from betenet.workflows.flows import ElectronPhononMaker, build_document
from betenet.workflows.qe_run import RUNS_SUFFIX

_FAILED = re.compile(r"^(?P<job>.+?) failed with exception:\n(?P<trace>.*)$", re.DOTALL)


_EXCEPTION_LINE = re.compile(r"^(?:[\w]+\.)*(?P<name>\w+(?:Error|Exception))\b: (?P<message>.*)$")


def _reason(trace: str) -> str:
    """'QERunError: pw.x exited with code 1 in … [Error in routine …: message]' from a traceback."""
    lines = trace.strip().splitlines()
    found = [i for i, line in enumerate(lines) if _EXCEPTION_LINE.match(line)]
    if not found:
        return lines[-1].strip() if lines else "unknown error"
    start = found[-1]
    head = _EXCEPTION_LINE.match(lines[start])
    reason = f"{head['name']}: {head['message']}"
    qe = [i for i in range(start, len(lines)) if "Error in routine" in lines[i]]
    if qe and qe[0] + 1 < len(lines):
        reason += f" [{lines[qe[0]].strip()} {lines[qe[0] + 1].strip()}]"
    return reason


class _JobEvents(logging.Handler):
    """Collects jobflow's per-Job log lines: progress callbacks and the failure tracebacks."""

    def __init__(self, on_event: Callable[[str], None] | None):
        super().__init__(level=logging.INFO)
        self.on_event = on_event
        self.failures: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        failed = _FAILED.match(message)
        if failed:
            self.failures.append((failed["job"], _reason(failed["trace"])))
        if self.on_event is not None:
            self.on_event(message.splitlines()[0])


# final verdicts of the protocol (an unresolved one has been through the remedy ladder); a failed run is worth another try
FINISHED_STATUSES = ("ok", "unstable", "unresolved", "unsupported")


def qe_runs_since(root: Path, start: float) -> tuple[dict[str, float], dict[str, int]]:
    """QE wall time and cores of every run under `root` since `start` (epoch s), the failing one included:
    what a failed flow cost. Steps are named by order and program, e.g. '1 pw', '2 ph'."""
    records = sorted((p for p in root.rglob(f"*{RUNS_SUFFIX}") if p.stat().st_mtime >= start),
                     key=lambda p: p.stat().st_mtime)
    walls, cores = {}, {}
    for n, path in enumerate(records, 1):
        label = path.name.removesuffix(RUNS_SUFFIX)
        step = f"{n} {label}"
        walls[step] = sum(run["wall_time_s"] for run in json.loads(path.read_text()))
        stdout = path.with_name(f"{label}.out")
        found = processor_cores(stdout.read_text(errors="replace")) if stdout.is_file() else None
        if found:
            cores[step] = found
    return walls, cores


def finished_document(structure: Structure, maker: ElectronPhononMaker) -> ElectronPhononDoc | None:
    """The stored document of this structure and these settings when it needs no rerun, else None."""
    calc_id, _ = maker.identity(structure)
    doc = load_document(calc_id, get_store())
    return doc if doc is not None and doc.status in FINISHED_STATUSES else None


def run_structure(structure: Structure, maker: ElectronPhononMaker, root_dir: str | Path | None = None,
                  on_event: Callable[[str], None] | None = None) -> ElectronPhononDoc:
    """Build (validates first), run and store one material; returns its stored document."""
    settings = get_settings()
    home = Path(settings.home).resolve()  # Jobs run in their own folders: pin a relative home now
    if maker.document_store is None:
        maker = dataclasses.replace(
            maker, document_store={"home": str(home), "store_uri": settings.store_uri, "database": settings.database}
        )
    flow = maker.make(structure)
    calc_id, pseudos = maker.identity(structure)
    root = Path(root_dir).resolve() if root_dir else home / "runs" / calc_id
    root.mkdir(parents=True, exist_ok=True)
    events = _JobEvents(on_event)
    logger = logging.getLogger("jobflow")
    logger.addHandler(events)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    start = time.time()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # jobflow's own use of monty's deprecated cd
            run_locally(flow, store=get_job_store(), create_folders=True, root_dir=root, log=False)
    finally:
        logger.removeHandler(events)
        logger.setLevel(previous_level)
    if not events.failures:
        doc = load_document(calc_id, get_store())
        if doc is not None:
            return doc
        reason = "the flow finished without writing its document"
    else:
        job_name, error = events.failures[0]
        reason = f"{job_name}: {error}"
    failed = build_document(maker.settings, structure, structure, calc_id, [p.model_dump() for p in pseudos],
                            {}, None, status_reason=reason)
    failed.provenance.run_dirs["flow"] = str(root)  # where the failed step's files are
    failed.provenance.wall_times_s, failed.provenance.processor_cores = qe_runs_since(root, start)
    return save_document(failed, get_store())
