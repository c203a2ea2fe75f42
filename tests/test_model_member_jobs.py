"""One jobflow Job per bootstrap member (`member_flow`, `train-ensemble --engine`): the Jobs give the
ensemble in-process training gives, a resubmission adds only the missing members, and finished members
are never retrained or rewritten — run with jobflow's run_locally, FireWorks (rapidfire against the
secantusdb server) and jobflow-remote (local worker; in .venv-hpc, see tests/test_workflow_submit.py)."""

from __future__ import annotations

import uuid

import pytest
import torch
from _model_helpers import TINY, records, structures
from jobflow import run_locally

from betenet.dataset.format import write_dataset
from betenet.model.ensemble import Ensemble
from betenet.model.training_request import TrainingRequest, member_flow, train_from_dataset
from tests.test_workflow_cli import betenet
from tests.test_workflow_submit import local_jobflow_remote_project, run_jobflow_remote_runner

# threads=1: every training here (in process and in the Jobs) runs on one torch thread
REQUEST = TrainingRequest(variant="CPD", n_members=3, seed=11, max_epochs=6, workers=1, threads=1, network=dict(TINY))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data") / "ds", records(), structures(), source="tests")


@pytest.fixture(scope="module")
def in_process(tmp_path_factory, dataset):
    return train_from_dataset(dataset, tmp_path_factory.mktemp("serial") / "ens", REQUEST, progress=False)


def _same_members(directory, reference) -> None:
    ensemble = Ensemble.load(directory)  # every member's SHA-256 checked
    assert len(ensemble.members) == REQUEST.n_members
    for m in range(REQUEST.n_members):
        ours = torch.load(directory / "members" / f"member_00{m}.pt", weights_only=True)
        theirs = torch.load(reference.directory / "members" / f"member_00{m}.pt", weights_only=True)
        assert all(torch.equal(ours["state_dict"][k], v) for k, v in theirs["state_dict"].items()), m


def _partly_trained(out, dataset):
    """Member 0 trained here first: the submission must leave it alone."""
    train_from_dataset(dataset, out, REQUEST, progress=False, members=[0])
    finished = out / "members" / "member_000.pt"
    return finished, (finished.stat().st_ino, finished.stat().st_mtime_ns)


def test_member_flow_runs_only_the_missing_members(tmp_path, dataset, in_process):
    out = tmp_path / "ens"
    finished, status = _partly_trained(out, dataset)
    flow = member_flow(dataset, out, REQUEST)
    assert len(flow.jobs) == 2  # members 1 and 2
    responses = run_locally(flow, create_folders=True, root_dir=tmp_path / "runs", log=False, ensure_success=True)
    assert sorted(r[1].output["member"] for r in responses.values()) == [1, 2]
    assert (finished.stat().st_ino, finished.stat().st_mtime_ns) == status
    _same_members(out, in_process)
    assert len(member_flow(dataset, out, REQUEST).jobs) == 0  # nothing left to submit


def _cli_submit(out, dataset, tmp_path, *engine_args, env=None):
    network = [arg for key, value in TINY.items() for arg in ("--network", f"{key}={value}")]
    return betenet("train-ensemble", out, "--dataset", dataset.directory, "--variant", "CPD", "--members", "3",
                   "--seed", "11", "--max-epochs", "6", "--threads", "1", *network, *engine_args,
                   home=tmp_path / "home", env=env)


@pytest.mark.mongo
def test_train_ensemble_engine_fireworks_submits_one_job_per_missing_member(secantusdb_uri, tmp_path, dataset,
                                                                             in_process, monkeypatch):
    from fireworks import FWorker
    from fireworks.core.rocket_launcher import rapidfire

    from betenet.settings import BetenetSettings
    from betenet.workflows.submit import launchpad

    uri = f"{secantusdb_uri.rstrip('/')}/fw{uuid.uuid4().hex[:8]}"
    out = tmp_path / "ens"
    finished, status = _partly_trained(out, dataset)
    submitted = _cli_submit(out, dataset, tmp_path, "--engine", "fireworks", "--store", uri)
    assert submitted.returncode == 0, submitted.stderr
    assert "2 member Jobs (members 1, 2) submitted to fireworks" in submitted.stdout
    lpad = launchpad(BetenetSettings(home=tmp_path / "home", store_uri=uri))
    assert len(lpad.get_fw_ids()) == 2
    launches = tmp_path / "launches"
    launches.mkdir()
    monkeypatch.chdir(tmp_path)
    rapidfire(lpad, FWorker(), m_dir=str(launches), nlaunches=0)
    assert {lpad.get_fw_by_id(i).state for i in lpad.get_fw_ids()} == {"COMPLETED"}
    assert (finished.stat().st_ino, finished.stat().st_mtime_ns) == status
    _same_members(out, in_process)
    again = _cli_submit(out, dataset, tmp_path, "--engine", "fireworks", "--store", uri)
    assert again.returncode == 0 and "all 3 members" in again.stdout and "nothing submitted" in again.stdout
    assert len(lpad.get_fw_ids()) == 2


@pytest.mark.mongo
def test_train_ensemble_engine_jobflow_remote_runs_the_missing_members(secantusdb_uri, tmp_path, dataset,
                                                                       in_process, monkeypatch):
    _, controller = local_jobflow_remote_project(secantusdb_uri, tmp_path, monkeypatch)
    out = tmp_path / "ens"
    finished, status = _partly_trained(out, dataset)
    submitted = _cli_submit(out, dataset, tmp_path, "--engine", "jobflow-remote", "--project", "betenet-test",
                            "--worker", "local", env={"JFREMOTE_PROJECTS_FOLDER": str(tmp_path / "projects")})
    assert submitted.returncode == 0, submitted.stderr
    assert "2 member Jobs (members 1, 2) submitted to jobflow-remote as betenet-test/local" in submitted.stdout
    run_jobflow_remote_runner(max_seconds=300)
    states = [info.state.value for info in controller.get_jobs_info()]
    assert states == ["COMPLETED", "COMPLETED"]
    assert (finished.stat().st_ino, finished.stat().st_mtime_ns) == status
    _same_members(out, in_process)
