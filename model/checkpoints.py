"""An ensemble directory on disk: its configuration and its member checkpoints, written whole or not at all.

    <dir>/ensemble.json              format + version, architecture, network config (incl. the training set's
                                     mean neighbour count), training config, seed, n_members, dataset
                                     (content hash, source, sample ids hash), elements seen in training;
                                     optional "calibration": spread scales of λ, ω_log, Tc fitted on held-out
                                     rows (`Ensemble.calibrate`; dropped when more members are trained)
    <dir>/members/member_007.pt      weights of the kept model (+ loss history), written atomically
    <dir>/members/member_007.json    that member's metrics and the SHA-256 of its .pt
    <dir>/members/member_007.partial.pt   snapshot of a member still training (removed when it finishes)
    <dir>/metrics.json               summary over the finished members

A checkpoint that does not load, or whose hash does not match, raises `CheckpointError` naming the file;
it is never loaded, retrained over or deleted (a damaged finished member means damaged storage: the user
decides). A process killed while writing leaves only `.member_007.pt.tmp-<pid>` (never read, its target
untouched), which the next run for that member removes (`remove_killed_writes`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from betenet.model.errors import CheckpointError
from betenet.model.network import ARCHITECTURES, NetworkConfig
from betenet.model.training import TrainingConfig

ENSEMBLE_FORMAT = "betenet-ensemble"
ENSEMBLE_FORMAT_VERSION = 1
CONFIG_FILE = "ensemble.json"
MEMBERS_DIR = "members"
# Configuration entries that must agree before a directory's training may be continued.
_COMPARED = ("architecture", "network", "training", "seed", "dataset", "elements")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a whole file or nothing: a temporary sibling, fsync, then rename over the target."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def remove_killed_writes(directory: Path, members: Sequence[int]) -> list[Path]:
    """Delete the temporaries a killed `atomic_write_bytes` left for these members (a finished write has
    renamed its temporary away, so any left is a cut one); only these members', because other processes
    may be writing other members into the same directory (one jobflow Job per member)."""
    removed = []
    for member in members:
        for stale in (directory / MEMBERS_DIR).glob(f".member_{member:03d}.*.tmp-*"):
            stale.unlink(missing_ok=True)
            removed.append(stale)
    return removed


def torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def load_torch(path: Path):
    try:
        # weights_only: tensors, numbers, strings and containers only — a checkpoint cannot run code
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, unpickling errors, ...
        raise CheckpointError(path, f"cannot be read ({type(err).__name__}: {err}); it is corrupt or "
                                    "truncated — delete it to retrain that member") from err


def member_path(directory: Path, member: int, suffix: str) -> Path:
    """members/member_007<suffix> ('.pt', '.json', '.partial.pt')."""
    return directory / MEMBERS_DIR / f"member_{member:03d}{suffix}"


def ensemble_config(network: NetworkConfig, training: TrainingConfig, *, seed: int, n_members: int,
                    dataset: dict, elements: list[str]) -> dict:
    import betenet

    return {
        "format": ENSEMBLE_FORMAT,
        "format_version": ENSEMBLE_FORMAT_VERSION,
        "architecture": network.architecture,
        "network": network.to_json(),
        "training": training.to_json(),
        "seed": seed,
        "n_members": n_members,
        "normalisation": {"num_neighbors": network.num_neighbors},
        "dataset": dataset,
        "elements": elements,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {"betenet": betenet.__version__, "torch": torch.__version__},
    }


def ids_hash(ids: Sequence[str]) -> str:
    return "sha256:" + hashlib.sha256("\n".join(ids).encode()).hexdigest()


def read_config(directory: Path | str) -> dict:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(path, "missing: not an ensemble directory (train one with train_ensemble)")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(path, f"invalid JSON: {err}") from err
    if config.get("format") != ENSEMBLE_FORMAT or config.get("format_version") != ENSEMBLE_FORMAT_VERSION:
        raise CheckpointError(path, f"format {config.get('format')!r} v{config.get('format_version')!r} is "
                                    f"not {ENSEMBLE_FORMAT!r} v{ENSEMBLE_FORMAT_VERSION}")
    if config.get("architecture") not in ARCHITECTURES:
        raise CheckpointError(path, f"architecture {config.get('architecture')!r} is unknown to this "
                                    f"version (knows {ARCHITECTURES}); upgrade betenet")
    return config


def check_same_run(path: Path, old: dict, new: dict) -> None:
    differing = [k for k in _COMPARED if old.get(k) != new.get(k)]
    if differing:
        raise CheckpointError(path, f"this directory holds an ensemble trained with other {differing}; "
                                    "use a new directory (nothing was changed)")


def finished_member(directory: Path, member: int, verify: bool = True) -> dict | None:
    """Metrics of a finished member, None if it is not finished; CheckpointError if it is damaged."""
    weights, meta = member_path(directory, member, ".pt"), member_path(directory, member, ".json")
    if not meta.exists():
        return None  # weights without metrics cannot happen (metrics are written last); treat as unfinished
    try:
        metrics = json.loads(meta.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(meta, f"invalid JSON ({err}); delete it and its .pt to retrain the member") from err
    if not weights.exists():
        raise CheckpointError(weights, "missing although its metrics file exists; delete "
                                       f"{meta.name} to retrain the member")
    if verify:
        digest = "sha256:" + hashlib.sha256(weights.read_bytes()).hexdigest()
        if digest != metrics.get("sha256"):
            raise CheckpointError(weights, f"SHA-256 {digest} differs from the recorded {metrics.get('sha256')}: "
                                           "the file is corrupt; delete it and its .json to retrain the member")
    return metrics


def save_member(directory: Path, member: int, architecture: str, result) -> dict:
    """Write a finished member (weights, then its metrics with their hash last: that marks it finished)."""
    blob = torch_bytes({"architecture": architecture, "state_dict": result.state_dict,
                        "history": torch.as_tensor(result.history), "metrics": result.metrics})
    atomic_write_bytes(member_path(directory, member, ".pt"), blob)
    metrics = {**result.metrics, "sha256": "sha256:" + hashlib.sha256(blob).hexdigest()}
    write_json(member_path(directory, member, ".json"), metrics)
    member_path(directory, member, ".partial.pt").unlink(missing_ok=True)
    return metrics


def metrics_summary(directory: Path, n_members: int) -> dict:
    members = [m for m in (finished_member(directory, i, verify=False) for i in range(n_members)) if m]
    val = [m["val_loss"] for m in members]
    return {
        "n_members": n_members,
        "n_finished": len(members),
        "val_loss_mean": float(np.mean(val)) if val else None,
        "val_loss_median": float(np.median(val)) if val else None,
        "epochs_run_mean": float(np.mean([m["epochs_run"] for m in members])) if members else None,
        "stopped_by_cap": sum(m["stopped_by"] == "epoch cap" for m in members),
        "train_wall_s_total": float(sum(m["wall_s"] for m in members)),
        "members": {str(m["member"]): {k: m[k] for k in ("val_loss", "epochs_run", "kept_epoch",
                                                           "region_reached", "stopped_by", "wall_s")}
                    for m in members},
    }
