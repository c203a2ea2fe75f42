"""SIGKILL of a `betenet train-ensemble` worker process in the middle of writing a member checkpoint
(tests/kill_during_write: the real atomic writer, cut after 2000 bytes by a real signal): the command
says so in one line, no truncated checkpoint exists under a checkpoint name, the resume trains only the
missing members and rewrites none of the finished ones, and the ensemble equals an uninterrupted one.
A truncated checkpoint planted in the directory is refused with an error naming it, never loaded."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _model_helpers import TINY, records, structures

from betenet.dataset.format import write_dataset
from betenet.model.ensemble import Ensemble
from betenet.model.errors import CheckpointError

REPO = Path(__file__).resolve().parents[1]
BETENET = Path(sys.executable).parent / "betenet"  # the installed command, as a user runs it
N_MEMBERS, CUT_BYTES = 4, 2000


def train_command(out: Path, dataset: Path, workers: int, env: dict | None = None) -> subprocess.CompletedProcess:
    network = [arg for key, value in TINY.items() for arg in ("--network", f"{key}={value}")]
    command = [str(BETENET), "train-ensemble", str(out), "--dataset", str(dataset),
               "--variant", "CPD", "--members", str(N_MEMBERS), "--seed", "11", "--max-epochs", "6",
               "--workers", str(workers), "--threads", "1", *network]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600, cwd=REPO)


def _stat(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_ino, status.st_mtime_ns


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data") / "ds", records(), structures(), source="tests").directory


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, dataset):
    out = tmp_path_factory.mktemp("reference") / "ens"
    done = train_command(out, dataset, workers=1)
    assert done.returncode == 0, done.stderr
    return out


def test_worker_killed_while_writing_a_checkpoint_resumes_the_missing_members(tmp_path, dataset, uninterrupted):
    out = tmp_path / "ens"
    members = out / "members"
    kill = {"PYTHONPATH": os.pathsep.join([str(REPO / "tests" / "kill_during_write"), os.environ.get("PYTHONPATH", "")]),
            "BETENET_TEST_KILL_WRITE": f"member_002.pt:{CUT_BYTES}",
            "BETENET_TEST_KILL_AFTER": "member_000.json,member_001.json"}
    killed = train_command(out, dataset, workers=2, env=kill)
    assert killed.returncode == 2
    # one line of ours, no traceback (Python's resource tracker may add its own warning that it cleaned up
    # the semaphores the killed worker held)
    error_lines = [line for line in killed.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in killed.stderr, killed.stderr
    assert len(error_lines) == 1 and "TrainingInterruptedError: a training worker died" in error_lines[0], killed.stderr

    # the kill really cut the write: the temporary holds exactly the bytes written before the signal
    cut = list(members.glob(".member_002.pt.tmp-*"))
    assert len(cut) == 1 and cut[0].stat().st_size == CUT_BYTES
    assert not (members / "member_002.pt").exists() and not (members / "member_002.json").exists()
    finished = sorted(p.name for p in members.glob("member_00?.json"))
    assert {"member_000.json", "member_001.json"} <= set(finished) and "member_002.json" not in finished
    # the other worker may finish member 3 before the death is noticed (a race of the two processes):
    # the message counts what is on disk
    n = len(finished)
    assert (f"{n} of 4 members are finished and kept; run the same command again to train the {4 - n} missing"
            in error_lines[0]), error_lines[0]
    before = {p.name: (_stat(p), p.read_bytes()) for p in members.glob("member_00?.*")}

    resumed = train_command(out, dataset, workers=1)
    assert resumed.returncode == 0, resumed.stderr
    for name, (status, data) in before.items():  # the finished members were not rewritten, not even renamed over
        if name.endswith((".pt", ".json")) and not name.endswith(".partial.pt"):
            assert _stat(members / name) == status and (members / name).read_bytes() == data, name
    assert not list(members.glob(".*.tmp-*"))  # the cut temporary is gone
    ensemble = Ensemble.load(out)  # verifies every member's SHA-256
    assert len(ensemble.members) == N_MEMBERS
    for m in range(N_MEMBERS):  # training is deterministic: the resumed ensemble is the uninterrupted one
        ours = torch.load(members / f"member_00{m}.pt", weights_only=True)
        theirs = torch.load(uninterrupted / "members" / f"member_00{m}.pt", weights_only=True)
        assert all(torch.equal(ours["state_dict"][k], v) for k, v in theirs["state_dict"].items())


@pytest.mark.parametrize("planted", ["member_001.pt", "member_001.partial.pt"])
def test_a_truncated_checkpoint_planted_in_the_directory_is_refused(tmp_path, dataset, uninterrupted, planted):
    out = tmp_path / "ens"
    shutil.copytree(uninterrupted, out)
    source = out / "members" / "member_001.pt"
    if planted.endswith(".partial.pt"):  # a member not finished yet, with a damaged snapshot
        (out / "members" / "member_001.json").unlink()
    (out / "members" / planted).write_bytes(source.read_bytes()[:CUT_BYTES])
    files = {p.name: p.read_bytes() for p in (out / "members").iterdir()}
    refused = train_command(out, dataset, workers=1)
    assert refused.returncode == 2
    assert f"CheckpointError: {out / 'members' / planted}" in refused.stderr
    assert "delete it" in refused.stderr  # what to do
    assert {p.name: p.read_bytes() for p in (out / "members").iterdir()} == files  # nothing changed
    if planted == "member_001.pt":
        with pytest.raises(CheckpointError, match="member_001.pt: SHA-256"):
            Ensemble.load(out)
