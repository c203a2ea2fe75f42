"""HPC submission: FireWorks end to end (CLI submit → rapidfire) against the secantusdb server;
jobflow-remote as far as it goes on one machine (project file for a SLURM worker)."""

from __future__ import annotations

import uuid

import pytest

from betenet.settings import BetenetSettings
from betenet.store.stores import get_store
from betenet.workflows.submit import jobflow_remote_project, launchpad, write_jobflow_remote_project
from tests.test_workflow_cli import betenet
from tests.test_workflow_handlers import fcc_al

# where the jobflow-remote tests run (they skip in .venv, which has no jobflow-remote)
JOBFLOW_REMOTE_ENV = "make test-hpc (scripts/setup-hpc: jobflow-remote in .venv-hpc, its own pymongo < 4.11)"


@pytest.mark.qe
@pytest.mark.mongo
def test_fireworks_submit_and_rapidfire(secantusdb_uri, tmp_path, monkeypatch):
    from fireworks import FWorker
    from fireworks.core.rocket_launcher import rapidfire

    database = f"fw{uuid.uuid4().hex[:8]}"
    uri = f"{secantusdb_uri.rstrip('/')}/{database}"
    al = tmp_path / "Al.cif"
    fcc_al().to(filename=str(al))
    result = betenet("submit", al, "--engine", "fireworks", "--preset", "test", "--store", uri, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "submitted to fireworks as" in result.stdout

    # The worker: a plain process with no betenet settings; the stores travel inside the Fireworks.
    monkeypatch.delenv("BETENET_STORE_URI", raising=False)
    settings = BetenetSettings(home=tmp_path / "elsewhere", store_uri=uri)
    lpad = launchpad(settings)
    launches = tmp_path / "launches"
    launches.mkdir()
    monkeypatch.chdir(tmp_path)
    rapidfire(lpad, FWorker(), m_dir=str(launches), nlaunches=0)

    states = {lpad.get_fw_by_id(i).state for i in lpad.get_fw_ids()}
    assert states == {"COMPLETED"}
    with get_store(settings) as store:
        docs = list(store.query({}, properties=["status", "lambda_", "formula_pretty"]))
    assert len(docs) == 1 and docs[0]["status"] == "ok" and 0.35 < docs[0]["lambda_"] < 0.45
    assert not (tmp_path / "elsewhere").exists()  # nothing went to an embedded store


def test_jobflow_remote_project_for_slurm(tmp_path):
    project = jobflow_remote_project(
        "betenet-cluster", mongo_uri="mongodb://db.example:27017", database="betenet", host="login.cluster",
        work_dir="/scratch/me/betenet", pre_run="module load qe/7.2\nsource ~/venvs/betenet/bin/activate",
        partition="compute", ntasks=64,
    )
    worker = project["workers"]["slurm"]
    assert worker["scheduler_type"] == "slurm" and worker["resources"]["partition"] == "compute"
    assert project["queue"]["store"]["database"] == project["jobstore"]["docs_store"]["database"] == "betenet"
    path = write_jobflow_remote_project(project, tmp_path)
    assert path.name == "betenet-cluster.yaml" and "scheduler_type: slurm" in path.read_text()
    try:
        from jobflow_remote.config.base import Project
    except ImportError:
        pytest.skip(f"jobflow-remote not installed: the project file was checked for shape only; {JOBFLOW_REMOTE_ENV}")
    Project.model_validate(project)


def test_jobflow_remote_submit_says_what_is_missing(tmp_path):
    al = tmp_path / "Al.cif"
    fcc_al().to(filename=str(al))
    result = betenet("submit", al, "--engine", "jobflow-remote", "--preset", "test", home=tmp_path,
                     env={"HOME": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "jobflow-remote" in result.stderr


def local_jobflow_remote_project(uri: str, tmp_path, monkeypatch) -> tuple[str, object]:
    """A jobflow-remote project 'betenet-test' with a local shell worker in place of SLURM, its queue and
    JobStore in a fresh database on the server at `uri`; returns (database, its JobController)."""
    jobflow_remote = pytest.importorskip("jobflow_remote", reason=f"jobflow-remote not installed: {JOBFLOW_REMOTE_ENV}")
    import os
    import shutil
    from pathlib import Path

    jf = shutil.which("jf") or Path(os.sys.executable).parent / "jf"  # the environment's own `jf`
    if not Path(jf).is_file():
        pytest.skip(f"jobflow-remote's `jf` command is not installed: {JOBFLOW_REMOTE_ENV}")
    monkeypatch.setattr(jobflow_remote.SETTINGS, "projects_folder", str(tmp_path / "projects"))
    database = f"jf{uuid.uuid4().hex[:8]}"
    project = jobflow_remote_project("betenet-test", mongo_uri=uri, database=database,
                                     host="localhost", work_dir=str(tmp_path / "work"))
    path_setup = f"export PATH={Path(jf).parent}:{Path(os.sys.executable).parent}:$PATH"
    python_path = f"export PYTHONPATH={os.environ.get('PYTHONPATH', '')}"
    project["workers"] = {"local": {"type": "local", "scheduler_type": "shell", "work_dir": str(tmp_path / "work"),
                                    "pre_run": f"{path_setup}; {python_path}; export OMP_NUM_THREADS=1"}}
    write_jobflow_remote_project(project, tmp_path / "projects")

    from jobflow_remote.jobs.jobcontroller import JobController

    controller = JobController.from_project_name("betenet-test")
    controller.reset(max_limit=0)
    return database, controller


def run_jobflow_remote_runner(max_seconds: int) -> None:
    """jobflow-remote's runner in this process until the queue is empty (short delays: a test)."""
    from jobflow_remote.jobs.runner import Runner

    runner = Runner(project_name="betenet-test")
    for option in ("delay_checkout", "delay_check_run_status", "delay_advance_status"):
        setattr(runner.runner_options, option, 1)
    runner.run_all_jobs(max_seconds=max_seconds)


@pytest.mark.qe
@pytest.mark.mongo
def test_jobflow_remote_local_worker_end_to_end(secantusdb_uri, tmp_path, monkeypatch):
    """The same project layout with a local shell worker instead of SLURM: submit → runner → document."""
    database, controller = local_jobflow_remote_project(secantusdb_uri, tmp_path, monkeypatch)
    al = tmp_path / "Al.cif"
    fcc_al().to(filename=str(al))
    result = betenet("submit", al, "--engine", "jobflow-remote", "--preset", "test", "--project", "betenet-test",
                     "--worker", "local", home=tmp_path, env={"JFREMOTE_PROJECTS_FOLDER": str(tmp_path / "projects")})
    assert result.returncode == 0, result.stderr
    run_jobflow_remote_runner(max_seconds=400)
    states = {info.name: info.state.value for info in controller.get_jobs_info()}
    assert set(states.values()) == {"COMPLETED"} and "store_document" in states
    with get_store(BetenetSettings(store_uri=secantusdb_uri, database=database)) as store:
        docs = list(store.query({}, properties=["status", "lambda_"]))
    assert len(docs) == 1 and docs[0]["status"] == "ok" and 0.35 < docs[0]["lambda_"] < 0.45
