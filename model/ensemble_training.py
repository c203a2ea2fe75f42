"""Training a bootstrap ensemble into its directory: members one after another or in worker processes,
resumable, with a progress bar.

A finished member is never retrained or overwritten: re-running `train_ensemble` on the directory trains
only the missing members (continuing from a snapshot where there is one).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import Sequence

import torch

from betenet.model import checkpoints
from betenet.model.ensemble import Ensemble
from betenet.model.errors import TrainingInterruptedError
from betenet.model.graphs import mean_neighbour_count
from betenet.model.network import NetworkConfig
from betenet.model.presets import DEFAULT_PRESET, preset_network, preset_training
from betenet.model.training import EpochReport, TrainingConfig, train_member
from betenet.model.training_set import TrainingSet
from betenet.model.variants import get_variant


def _train_and_save(directory: Path, network: NetworkConfig, training: TrainingConfig, data: TrainingSet,
                    member: int, seed: int, on_epoch=None) -> dict:
    partial = checkpoints.member_path(directory, member, ".partial.pt")
    resume_from = checkpoints.load_torch(partial) if partial.exists() else None
    result = train_member(network, training, data.graphs, data.targets, member, seed, on_epoch=on_epoch,
                          snapshot=lambda state: checkpoints.atomic_write_bytes(partial, checkpoints.torch_bytes(state)),
                          resume_from=resume_from)
    finished = checkpoints.finished_member(directory, member)
    if finished is not None:  # another process (a duplicate Job of this member) finished it first: keep that
        return finished
    return checkpoints.save_member(directory, member, network.architecture, result)


_WORKER_STATE: dict = {}


def _worker_init(threads: int, payload: tuple) -> None:
    _die_with_parent()
    torch.set_num_threads(threads)
    _WORKER_STATE["payload"] = payload


def _die_with_parent() -> None:
    """Linux: a worker gets SIGTERM when the training process dies, so a killed run leaves no orphans
    burning CPU (their snapshots are on disk; the next run resumes from them)."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _worker_task(member: int) -> dict:
    directory, network, training, data, seed = _WORKER_STATE["payload"]
    return _train_and_save(directory, network, training, data, member, seed)


def train_ensemble(
    directory: Path | str,
    data: TrainingSet,
    *,
    variant: str = "CPD",
    network: NetworkConfig | None = None,
    training: TrainingConfig | None = None,
    n_members: int = 100,
    seed: int = 0,
    workers: int | None = None,
    threads: int | None = None,
    progress: bool = True,
    members: Sequence[int] | None = None,
) -> Ensemble:
    """Train (or finish training) a bootstrap ensemble in `directory` and return it loaded.

    `members` trains only those member indices (one jobflow Job per member on a cluster, see
    `betenet.model.training_request.member_flow`); None trains every member not yet finished.
    `network` and `training` default to the default preset's (`betenet.model.presets`; the seed's are
    preset "seed"); the network's `num_neighbors` is always replaced by the training set's mean neighbour count. `workers` > 1 trains members in that many processes
    with `threads` torch threads each (default: all threads split among them); `workers=1` trains them
    one after another in this process. The default (None) is one process per core with one thread
    each whenever more than one member is left: members are independent, and on a shared 2-core
    machine this beat one process with 2 threads per operation by far (benchmarks/RESULTS.md, Model).
    """
    directory = Path(directory)
    if n_members < 1:
        raise ValueError(f"Invalid n_members={n_members!r}, must be ≥ 1")
    network = replace(network or preset_network(DEFAULT_PRESET, variant=variant),
                      num_neighbors=mean_neighbour_count(data.graphs))
    training = training or preset_training(DEFAULT_PRESET)
    variant_rules = get_variant(network.variant)
    for graph in data.graphs:
        variant_rules.require_site_phdos(graph.site_phdos, graph.id)
    dataset = {"content_hash": data.content_hash, "source": data.source, "n_samples": len(data.graphs),
               "ids_hash": checkpoints.ids_hash(data.ids), **({"mlip": data.mlip} if data.mlip else {})}
    config = checkpoints.ensemble_config(network, training, seed=seed, n_members=n_members, dataset=dataset,
                                         elements=data.elements)
    config_path = directory / checkpoints.CONFIG_FILE
    if config_path.exists():
        old = checkpoints.read_config(directory)
        checkpoints.check_same_run(config_path, old, config)
        config["created"] = old["created"]
        if "calibration" in old:
            config["calibration"] = old["calibration"]
    wanted = range(n_members) if members is None else sorted(set(members))
    if any(not 0 <= m < n_members for m in wanted):
        raise ValueError(f"Invalid members={list(members)}: indices must lie in 0..{n_members - 1}")
    todo = [m for m in wanted if checkpoints.finished_member(directory, m) is None]
    if todo:
        config.pop("calibration", None)  # fitted to other members: it no longer describes this ensemble
    (directory / checkpoints.MEMBERS_DIR).mkdir(parents=True, exist_ok=True)
    checkpoints.write_json(config_path, config)
    checkpoints.remove_killed_writes(directory, todo)
    if workers is None:
        workers, threads = (min(len(todo), os.cpu_count() or 1), 1) if len(todo) > 1 else (1, threads)
    if todo:
        _run_members(directory, network, training, data, seed, todo, n_members, workers, threads, progress)
    checkpoints.write_json(directory / "metrics.json", checkpoints.metrics_summary(directory, n_members))
    return Ensemble.load(directory)


def _run_members(directory, network, training, data, seed, todo, n_members, workers, threads, progress):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[status]}"))
    with Progress(*columns, disable=not progress, transient=False) as bar:
        members_task = bar.add_task("members", total=n_members, completed=n_members - len(todo), status="")
        if workers <= 1:
            epoch_task = bar.add_task("epochs", total=training.max_epochs, status="")

            def on_epoch(r: EpochReport):
                if r.epoch % 10 == 0:
                    bar.update(epoch_task, completed=r.epoch + 1,
                               status=f"member {r.member} region {r.region} val {r.val_loss:.4g}")

            previous = torch.get_num_threads()
            torch.set_num_threads(threads or previous)
            try:
                for member in todo:
                    bar.reset(epoch_task)
                    metrics = _train_and_save(directory, network, training, data, member, seed, on_epoch)
                    bar.update(members_task, advance=1, status=f"member {member}: val {metrics['val_loss']:.4g}, "
                                                               f"{metrics['epochs_run']} epochs")
            finally:
                torch.set_num_threads(previous)
            return
        threads = threads or max(1, torch.get_num_threads() // workers)
        payload = (directory, network, training, data, seed)
        broken = False
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init,
                                 initargs=(threads, payload)) as pool:
            futures = {pool.submit(_worker_task, m): m for m in todo}
            for future in as_completed(futures):
                try:
                    metrics = future.result()
                except BrokenProcessPool:
                    broken = True  # raised once the pool is shut down, so its queues are released
                    break
                bar.update(members_task, advance=1, status=f"member {futures[future]}: val "
                                                           f"{metrics['val_loss']:.4g}")
        if broken:
            finished = sum(checkpoints.finished_member(directory, m) is not None for m in range(n_members))
            raise TrainingInterruptedError(
                f"a training worker died (killed by a signal or out of memory) in {directory}: {finished} of "
                f"{n_members} members are finished and kept; run the same command again to train the "
                f"{n_members - finished} missing")
