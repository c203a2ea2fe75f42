"""train-ensemble: from a dataset directory, or straight from the store through the same query as
build-dataset (the dataset is written beside the ensemble and its content hash recorded in it).

Training itself is `betenet.model.ensemble.train_ensemble`; this module only chooses the data and
checks up front that it fits the variant (a CPD/FPD ensemble needs the site PhDOS of every record).
Members run one after another (`workers=1`), in parallel processes (`workers>1`), or as one jobflow
Job each (`member_flow`), so a cluster runs them through the same engines as the DFT workflows.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from jobflow import Flow, job

from betenet.dataset.format import Dataset, read_dataset

PHDOS_FIELD = {"CPD": "cpd", "FPD": "fpd"}


class VariantMismatchError(ValueError):
    """The data (dataset, store documents) does not carry what the model variant needs, or an
    ensemble is asked to work with data of another variant or another dataset."""


class DatasetChangedError(ValueError):
    """The store no longer gives the dataset a (partly) trained ensemble was trained on."""


@dataclass(frozen=True)
class TrainingRequest:
    variant: str = "CSO"
    n_members: int = 10
    seed: int = 0
    max_epochs: int = 10_000
    splits: tuple[str | None, ...] | None = ("train",)
    workers: int = 1
    threads: int | None = None
    dtype: str = "float32"
    network: dict[str, Any] = field(default_factory=dict)  # NetworkConfig fields other than the seed's


def check_variant_fits(dataset: Dataset, variant: str, splits: Sequence[str | None] | None) -> None:
    """Every labelled record that will be trained on has the site PhDOS the variant needs."""
    field = PHDOS_FIELD.get(variant)
    if field is None:
        return
    records = [r for r in dataset.records if (splits is None or r.split in splits) and _labelled(r)]
    lacking = [r.id for r in records if getattr(r, field) is None]
    if lacking:
        raise VariantMismatchError(
            f"a {variant} ensemble needs the '{field}' site PhDOS, but {len(lacking)} of {len(records)} records "
            f"of {dataset.directory} in splits {list(splits) if splits else 'all'} lack it (e.g. {lacking[:3]}); "
            f"train CSO, or rebuild the dataset with --require a2f,{field}"
        )


def _labelled(record) -> bool:
    """Records without any label are skipped by training (as `training_set_from_dataset` does)."""
    return any(v is not None for v in (record.a2f, record.lambda_, record.omega_log_K, record.tc_K))


def train_from_dataset(dataset: Dataset | Path | str, out: Path | str, request: TrainingRequest,
                       progress: bool = True, members: Sequence[int] | None = None):
    """Train (or finish) the ensemble in `out` on the records of `dataset` in `request.splits`."""
    from betenet.model.ensemble import train_ensemble, training_set_from_dataset
    from betenet.model.network import NetworkConfig
    from betenet.model.training import TrainingConfig

    dataset = dataset if isinstance(dataset, Dataset) else read_dataset(dataset)
    check_variant_fits(dataset, request.variant, request.splits)
    data = training_set_from_dataset(dataset, request.variant, splits=request.splits,
                                     cache_dir=Path(out) / "graph-cache")
    network = NetworkConfig(**{**request.network, "variant": request.variant})
    training = TrainingConfig(max_epochs=request.max_epochs, dtype=request.dtype)
    return train_ensemble(out, data, variant=request.variant, network=network, training=training,
                          n_members=request.n_members, seed=request.seed, workers=request.workers,
                          threads=request.threads, progress=progress, members=members)


@job
def train_member(dataset_dir: str, out: str, request: dict, member: int) -> dict:
    """One bootstrap member as a jobflow Job: members are independent, the unit of scale-out."""
    ensemble = train_from_dataset(dataset_dir, out, TrainingRequest(**request), progress=False, members=[member])
    return {"member": member, "ensemble": str(ensemble.directory), "n_finished": len(ensemble.members)}


def member_flow(dataset: Dataset | Path | str, out: Path | str, request: TrainingRequest) -> Flow:
    """A Flow of `request.n_members` independent Jobs training into `out` (submit it like the DFT
    Flows: jobflow's run_locally, FireWorks' flow_to_workflow, jobflow-remote)."""
    dataset_dir = str(dataset.directory if isinstance(dataset, Dataset) else Path(dataset).resolve())
    payload = {**asdict(request), "workers": 1}  # one process per Job: the engine does the scale-out
    jobs = [train_member(dataset_dir, str(Path(out).resolve()), payload, m) for m in range(request.n_members)]
    return Flow(jobs, name=f"train-ensemble {Path(out).name}")


def dataset_from_store(settings, out: Path | str, query, split, require: Sequence[str]) -> Dataset:
    """Run the build-dataset query and keep the result in `out`/dataset.

    Re-running on a partly trained ensemble is fine while the store gives the same dataset (same
    content hash); when the store changed, the ensemble's members would mix two datasets, so that is
    an error and the existing dataset is left as it is.
    """
    from betenet.dataset.build import build_dataset
    from betenet.dataset.cli import describe_store
    from betenet.store.stores import DOCS_COLLECTION, get_store

    out = Path(out)
    target = out / "dataset"
    fresh = out / "dataset.new"
    shutil.rmtree(fresh, ignore_errors=True)
    built = build_dataset(get_store(settings), fresh, query, split=split, require=require,
                          source=describe_store(settings, DOCS_COLLECTION)).dataset
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


def ensemble_id(ensemble) -> str:
    """A stable short id of one trained ensemble (its configuration, creation time included)."""
    text = json.dumps(ensemble.config, sort_keys=True, separators=(",", ":"))
    return "ens-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def ensemble_dataset_hash(ensemble) -> str | None:
    return (ensemble.config.get("dataset") or {}).get("content_hash")
