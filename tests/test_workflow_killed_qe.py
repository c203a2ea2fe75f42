"""SIGKILL of QE inside the real fcc-Al Flow (preset test): pw.x killed mid-scf and the el-ph ph.x killed
after its first q-point; the Flow resumes (workflows/handlers.py: KilledHandler) and ends where an
uninterrupted run ends, without recomputing the q-points that were finished when ph.x died."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import numpy as np
import psutil
import pytest

from betenet.parsers.ph import parse_ph_output
from betenet.settings import override_settings
from betenet.workflows.flows import ElectronPhononMaker
from betenet.workflows.local import run_structure
from tests.conftest import require_qe
from tests.test_workflow_handlers import fcc_al

pytestmark = pytest.mark.qe


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


def _pw_mid_scf(folder: Path) -> bool:
    out = _text(folder / "pw.out")
    return "iteration #  2" in out and "convergence has been achieved" not in out


def _elph_ph_between_qpoints(folder: Path) -> bool:
    """The el-ph ph.x has finished q-point 1 (its λ printed) and is working on a later one."""
    out = _text(folder / "ph.out")
    return "electron_phonon" in _text(folder / "ph.in") and out.count("Calculation of q") >= 2 and "lambda(" in out


class QEKiller(threading.Thread):
    """Sends SIGKILL once to the first QE child of this process that meets each condition."""

    def __init__(self, conditions: dict[str, tuple[str, callable]]):
        super().__init__(daemon=True)
        self.conditions = dict(conditions)  # name → (binary, test on its working folder)
        self.killed: dict[str, Path] = {}
        self.stop = threading.Event()

    def run(self):
        me = psutil.Process()
        while not self.stop.is_set() and len(self.killed) < len(self.conditions):
            for child in me.children(recursive=True):
                try:
                    name, folder = child.name(), Path(child.cwd())
                except psutil.Error:
                    continue
                for what, (binary, ready) in self.conditions.items():
                    if what not in self.killed and name == binary and ready(folder):
                        os.kill(child.pid, signal.SIGKILL)
                        self.killed[what] = folder
            self.stop.wait(0.02)


def _run(home: Path):
    with override_settings(home=home, store_uri=None, database="betenet", mpi_command=""):
        return run_structure(fcc_al(), ElectronPhononMaker.from_preset("test"))


@pytest.fixture(scope="module")
def killed_and_reference(tmp_path_factory):
    require_qe("pw.x", "ph.x", "q2r.x", "matdyn.x", "lambda.x")
    reference = _run(tmp_path_factory.mktemp("uninterrupted"))
    killer = QEKiller({"pw": ("pw.x", _pw_mid_scf), "ph": ("ph.x", _elph_ph_between_qpoints)})
    killer.start()
    try:
        killed = _run(tmp_path_factory.mktemp("killed"))
    finally:
        killer.stop.set()
        killer.join()
    assert set(killer.killed) == {"pw", "ph"}, f"only {sorted(killer.killed)} could be killed in time"
    return killed, reference, killer.killed


def test_killed_run_ends_with_the_uninterrupted_result(killed_and_reference):
    killed, reference, _ = killed_and_reference
    assert killed.status == reference.status == "ok", killed.status_reason
    assert killed.lambda_ == pytest.approx(reference.lambda_, abs=1e-6)
    assert killed.omega_log_K == pytest.approx(reference.omega_log_K, abs=1e-4)
    for ours, theirs in zip(killed.a2f_all, reference.a2f_all, strict=True):
        assert ours.lambda_ == pytest.approx(theirs.lambda_, abs=1e-6)
        assert np.allclose(ours.a2f, theirs.a2f, atol=1e-8)


def test_pw_killed_mid_scf_is_run_again(killed_and_reference):
    folder = killed_and_reference[2]["pw"]
    first, last = _text(folder / "pw.attempt1.out"), _text(folder / "pw.out")
    assert "iteration #  2" in first and "JOB DONE" not in first  # really killed mid-scf
    assert "convergence has been achieved" in last and "JOB DONE" in last


def test_ph_killed_recomputes_only_unfinished_qpoints(killed_and_reference):
    folder = killed_and_reference[2]["ph"]
    before = parse_ph_output(folder / "ph.attempt1.out", truncated_ok=True)
    after = parse_ph_output(folder / "ph.out")
    assert not before.job_done and after.job_done
    finished_before = {q.index for q in before.q_points}
    computed_after = {q.index for q in after.q_points if q.frequencies_thz.size}
    assert 1 in finished_before and all(q.elph for q in before.q_points)
    assert finished_before.isdisjoint(computed_after)  # ph.x's own output: nothing finished was redone
    assert finished_before | computed_after == set(range(1, len(after.grid_q_points_cart_2pi_alat) + 1))
