"""Train an ensemble from data: a dataset directory, or the store through the same query as build-dataset.

`train_from_dataset` checks up front that the data fits the variant, builds the training set and calls
`train_ensemble`. Members run one after another (`workers=1`), in parallel processes (`workers>1`), or as
one jobflow Job each (`member_flow`), so a cluster runs them through the same engines as the DFT workflows.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from jobflow import Flow, job

from betenet.dataset.build import build_dataset
from betenet.dataset.format import Dataset, read_dataset
from betenet.model import checkpoints
from betenet.model.ensemble import Ensemble
from betenet.model.ensemble_training import train_ensemble
from betenet.model.presets import DEFAULT_PRESET, preset_network, preset_training
from betenet.model.calibration import record_labels
from betenet.model.splits import elements_of
from betenet.model.training_set import check_variant_fits, training_set_from_dataset, variant_graphs
from betenet.store.stores import DOCS_COLLECTION, describe_store, get_store


class DatasetChangedError(ValueError):
    """The store no longer gives the dataset a (partly) trained ensemble was trained on."""


@dataclass(frozen=True)
class TrainingRequest:
    variant: str = "CSO"
    n_members: int = 10
    seed: int = 0
    preset: str = DEFAULT_PRESET  # network size and schedule (`betenet.model.presets`); fields below override
    max_epochs: int | None = None
    batch_size: int | None = None
    lr_schedule: str | None = None
    weight_decay: float | None = None
    splits: tuple[str | None, ...] | None = ("train",)
    workers: int = 1
    threads: int | None = None
    dtype: str = "float32"
    network: dict[str, Any] = field(default_factory=dict)  # NetworkConfig fields other than the preset's
    calibrate_on: str | None = None  # dataset split whose labelled rows calibrate the spread after training


def request_configs(request: TrainingRequest):
    """(NetworkConfig, TrainingConfig) of a request: its preset with the request's fields on top."""
    network = preset_network(request.preset, **{**request.network, "variant": request.variant})
    training = preset_training(request.preset, max_epochs=request.max_epochs, dtype=request.dtype,
                               batch_size=request.batch_size, lr_schedule=request.lr_schedule,
                               weight_decay=request.weight_decay)
    return network, training


def train_from_dataset(dataset: Dataset | Path | str, out: Path | str, request: TrainingRequest,
                       progress: bool = True, members: Sequence[int] | None = None) -> Ensemble:
    """Train (or finish) the ensemble in `out` on the records of `dataset` in `request.splits`."""
    dataset = dataset if isinstance(dataset, Dataset) else read_dataset(dataset)
    if request.calibrate_on is not None and (request.splits is None or request.calibrate_on in request.splits):
        raise ValueError(f"cannot calibrate on split {request.calibrate_on!r}: it is trained on (splits "
                         f"{'all' if request.splits is None else list(request.splits)}); calibrate on a held-out split")
    check_variant_fits(dataset, request.variant, request.splits)
    data = training_set_from_dataset(dataset, request.variant, splits=request.splits,
                                     cache_dir=Path(out) / "graph-cache")
    network, training = request_configs(request)
    ensemble = train_ensemble(out, data, variant=request.variant, network=network, training=training,
                              n_members=request.n_members, seed=request.seed, workers=request.workers,
                              threads=request.threads, progress=progress, members=members)
    if request.calibrate_on is not None and len(ensemble.members) == request.n_members:
        calibrate_on_split(ensemble, dataset, request.calibrate_on, Path(out) / "graph-cache")
    return ensemble


def calibrate_on_split(ensemble: Ensemble, dataset: Dataset, split: str, cache_dir: Path | None = None) -> dict:
    """Fit the ensemble's spread scales on the records of `split` that carry λ, ω_log and Tc (a split the
    ensemble did not train on)."""
    records = [r for r in dataset.records if r.split == split]
    labels = record_labels(records)
    known = set(ensemble.elements)
    # rows the ensemble can predict (elements it saw) that carry all three labels
    usable = [r for r, *values in zip(records, *labels.values())
              if not np.isnan(values).any() and elements_of(r.formula) <= known]
    if len(usable) < 2:
        raise ValueError(f"cannot calibrate on split {split!r} of {dataset.directory}: {len(usable)} of its "
                         f"{len(records)} records carry λ, ω_log and Tc and only elements seen in training; "
                         "at least 2 are needed")
    graphs = variant_graphs(dataset, ensemble.variant, ensemble.network.r_max, cache_dir, usable)
    return ensemble.calibrate(graphs, record_labels(usable))


@job
def train_member(dataset_dir: str, out: str, request: dict, member: int) -> dict:
    """One bootstrap member as a jobflow Job: members are independent, the unit of scale-out."""
    ensemble = train_from_dataset(dataset_dir, out, TrainingRequest(**request), progress=False, members=[member])
    return {"member": member, "ensemble": str(ensemble.directory), "n_finished": len(ensemble.members)}


def missing_members(out: Path | str, n_members: int) -> list[int]:
    """Members of the ensemble in `out` not finished yet (all of a fresh directory); a damaged finished
    member raises CheckpointError, as when training here."""
    return [m for m in range(n_members) if checkpoints.finished_member(Path(out), m) is None]


def member_flow(dataset: Dataset | Path | str, out: Path | str, request: TrainingRequest,
                members: Sequence[int] | None = None) -> Flow:
    """A Flow of independent Jobs, one per member, training into `out` (submit it like the DFT Flows:
    jobflow's run_locally, FireWorks' flow_to_workflow, jobflow-remote). `members`: which (default: those
    not finished in `out`, so a resubmission after a partial run adds only the missing members)."""
    dataset_dir = str(dataset.directory if isinstance(dataset, Dataset) else Path(dataset).resolve())
    payload = {**asdict(request), "workers": 1}  # one process per Job: the engine does the scale-out
    members = missing_members(out, request.n_members) if members is None else members
    jobs = [train_member(dataset_dir, str(Path(out).resolve()), payload, m) for m in members]
    return Flow(jobs, name=f"train-ensemble {Path(out).name}")


ENGINES = ("local", "fireworks", "jobflow-remote")


def submit_members(dataset: Dataset, out: Path | str, request: TrainingRequest, engine: str, settings,
                   project: str | None = None, worker: str | None = None) -> tuple[list[int], str | None]:
    """Submit one Job per missing member to FireWorks (LaunchPad in the store's MongoDB) or jobflow-remote;
    returns (members submitted, the engine's id of the submission; None when nothing was missing)."""
    from betenet.workflows import submit

    if engine not in ENGINES[1:]:
        raise ValueError(f"Invalid engine={engine!r} for submission, use one of {ENGINES[1:]}")
    target = submit.jobflow_remote_target(project, worker) if engine == "jobflow-remote" else None
    if engine == "fireworks":
        submit.launchpad(settings)  # no server, no LaunchPad: say so before anything else
    members = missing_members(out, request.n_members)
    if not members:
        return [], None
    flow = member_flow(dataset, out, request, members)
    if engine == "fireworks":
        return members, str(submit.submit_flow_fireworks(flow, settings))
    return members, submit.submit_flow_jobflow_remote(flow, *target)


def dataset_from_store(settings, out: Path | str, query, split, require: Sequence[str],
                       allow_flags: Sequence[str] = (), allow_mixed: bool = False) -> Dataset:
    """Run the build-dataset query and keep the result in `out`/dataset.

    Re-running on a partly trained ensemble is fine while the store gives the same dataset (same
    content hash); when the store changed, the ensemble's members would mix two datasets, so that is
    an error and the existing dataset is left as it is.
    """
    out = Path(out)
    target = out / "dataset"
    fresh = out / "dataset.new"
    shutil.rmtree(fresh, ignore_errors=True)
    built = build_dataset(get_store(settings), fresh, query, split=split, require=require,
                          source=describe_store(settings, DOCS_COLLECTION), allow_flags=allow_flags,
                          allow_mixed=allow_mixed).dataset
    if target.exists():
        existing = read_dataset(target)
        if existing.content_hash == built.content_hash:
            shutil.rmtree(fresh)
            return existing
        if (out / "ensemble.json").exists():
            shutil.rmtree(fresh)
            raise DatasetChangedError(
                f"the store now gives another dataset ({built.content_hash}) than the one this ensemble was "
                f"trained on ({existing.content_hash}, {target}); train into a new directory"
            )
        shutil.rmtree(target)
    fresh.rename(target)
    return read_dataset(target)
