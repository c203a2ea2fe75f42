"""Hand electron-phonon Flows to existing HPC engines.

FireWorks: jobflow's `flow_to_workflow` → a LaunchPad on the same MongoDB as the documents; workers
(`rlaunch`/`qlaunch`, or `rapidfire` in Python) run the Fireworks, each in its own launch folder.
jobflow-remote: `submit_flow` into the project's queue; `jobflow_remote_project()` writes a project
file for a SLURM worker (see its docstring). The document store the Jobs write to is fixed at submit
time (`ElectronPhononMaker.document_store`), so workers need no betenet configuration of their own.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from urllib.parse import urlparse

from betenet.settings import BetenetSettings
from betenet.store.stores import get_job_store
from betenet.workflows.flows import ElectronPhononMaker


class SubmitError(RuntimeError):
    """Submission is impossible with this configuration; the message says what to change."""


def _with_store(maker: ElectronPhononMaker, settings: BetenetSettings) -> ElectronPhononMaker:
    return dataclasses.replace(maker, document_store={"store_uri": settings.store_uri, "database": settings.database})


def launchpad(settings: BetenetSettings):
    """FireWorks LaunchPad in the store's MongoDB database (FireWorks' collections beside ours)."""
    from fireworks import LaunchPad

    if not settings.store_uri:
        raise SubmitError(
            "FireWorks needs a MongoDB server: give --store mongodb://HOST:PORT/DB or set BETENET_STORE_URI "
            "(the embedded store cannot hold a LaunchPad)"
        )
    name = urlparse(settings.store_uri).path.strip("/") or settings.database
    lpad = LaunchPad(host=settings.store_uri, name=name, uri_mode=True)
    if lpad.fw_id_assigner.count_documents({}) == 0:  # a fresh database: create FireWorks' id counters
        lpad.reset("", require_password=False)
    return lpad


def submit_flow_fireworks(flow, settings: BetenetSettings) -> int:
    """Add one jobflow Flow as a FireWorks workflow; returns the id of its first Firework."""
    from jobflow.managers.fireworks import flow_to_workflow

    mapping = launchpad(settings).add_wf(flow_to_workflow(flow, store=get_job_store(settings)))
    return min(mapping.values())


def submit_fireworks(structures, maker: ElectronPhononMaker, settings: BetenetSettings) -> list[int]:
    """Add one FireWorks workflow per structure; returns the id of each workflow's first Firework."""
    launchpad(settings)  # no server, no LaunchPad: say so before building any Flow
    maker = _with_store(maker, settings)
    return [submit_flow_fireworks(maker.make(structure), settings) for structure in structures]


def jobflow_remote_target(project: str | None = None, worker: str | None = None):
    """(project config, worker name) of jobflow-remote; SubmitError saying what is missing."""
    try:
        from jobflow_remote.config import ConfigManager
    except ImportError as err:
        raise SubmitError("jobflow-remote is not installed: pip install jobflow-remote (see workflows/HPC.md)") from err
    try:
        config = ConfigManager().get_project(project)
    except Exception as err:  # jobflow-remote's own "no project" errors
        raise SubmitError(f"no jobflow-remote project {project or '(default)'}: {err}") from err
    worker = worker or next(iter(config.workers), None)
    if worker is None:
        raise SubmitError(f"jobflow-remote project {config.name} has no worker")
    return config, worker


def submit_flow_jobflow_remote(flow, config, worker: str) -> str:
    """Put one jobflow Flow into the project's queue for `worker`; returns '<project>/<worker>'."""
    from jobflow_remote import submit_flow

    submit_flow(flow, worker=worker, project=config.name)
    return f"{config.name}/{worker}"


def submit_jobflow_remote(structures, maker: ElectronPhononMaker, *, project: str | None = None,
                          worker: str | None = None) -> list[str]:
    """Submit to jobflow-remote's queue (its project file names the queue store and the workers)."""
    config, worker = jobflow_remote_target(project, worker)
    # the documents go to the database of the project's JobStore (a MongoDB the workers reach)
    docs_store = config.get_jobstore().docs_store
    uri = getattr(docs_store, "uri", None) or getattr(docs_store, "host", None)
    if not (isinstance(uri, str) and uri.startswith("mongodb")):
        raise SubmitError(f"jobflow-remote project {config.name}: its JobStore is not a MongoDB given by URI")
    maker = dataclasses.replace(maker, document_store={"store_uri": uri, "database": docs_store.database})
    return [submit_flow_jobflow_remote(maker.make(structure), config, worker) for structure in structures]


def jobflow_remote_project(name: str, *, mongo_uri: str, database: str, host: str, work_dir: str,
                           pre_run: str = "", partition: str | None = None, account: str | None = None,
                           ntasks: int = 32, walltime: str = "24:00:00") -> dict:
    """A jobflow-remote project for one SLURM cluster reached by SSH (write it as
    ~/.jfremote/<name>.yaml, then `jf runner start`).

    The queue and the JobStore live in the same MongoDB as the documents. On the cluster, the worker
    needs betenet installed (`pre_run` loads it) and Quantum ESPRESSO; set BETENET_MPI_COMMAND
    (e.g. 'srun') and BETENET_NPOOL in `pre_run` to run QE in parallel.
    """
    resources = {"ntasks": ntasks, "time": walltime}
    if partition:
        resources["partition"] = partition
    if account:
        resources["account"] = account
    return {
        "name": name,
        "workers": {
            "slurm": {
                "type": "remote",
                "host": host,
                "scheduler_type": "slurm",
                "work_dir": work_dir,
                "pre_run": pre_run,
                "resources": resources,
            }
        },
        "queue": {"store": {"type": "MongoStore", "host": mongo_uri, "database": database,
                            "collection_name": "jf_jobs"}},
        "jobstore": {
            "docs_store": {"type": "MongoStore", "host": mongo_uri, "database": database,
                           "collection_name": "jobs"},
        },
    }


def write_jobflow_remote_project(project: dict, folder: str | Path = "~/.jfremote") -> Path:
    import yaml

    path = Path(folder).expanduser() / f"{project['name']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    return path
