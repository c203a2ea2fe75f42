"""Training one bootstrap member: AdamW (full batch, or seeded mini-batches) with tempered early stopping.

A member draws a seeded bootstrap resample of the training samples (n draws with replacement) and
validates on the out-of-bag rest. Drawn samples are evaluated once and weighted by how often they were
drawn — the same loss and gradient as the seed's batch with duplicates, at ~63 % of the work. Each epoch is
one optimiser step on that batch (or one per mini-batch, `batch_size`) followed by the validation loss of
the updated model (the seed's order).

Long members can be interrupted: `snapshot` is called every `snapshot_interval_s` seconds with the full
state (model, optimiser, stopper, kept models, history), and `train_member(..., resume_from=state)`
continues exactly where the snapshot was taken (training itself has no randomness after initialisation).
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch

from betenet.model.early_stopping import SECOND_DESCENT, TemperedEarlyStopping
from betenet.model.errors import EmptyDatasetError
from betenet.model.graphs import GraphBatch
from betenet.model.loss import LossConfig, Targets, mixed_loss
from betenet.model.network import BeteNet, NetworkConfig

DTYPES = {"float32": torch.float32, "float64": torch.float64}
# "constant": the seed's fixed learning rate; "cosine": decays to 0 over max_epochs (cosine annealing)
LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainingConfig:
    """Optimiser and stopping settings (seed defaults); `max_epochs` caps every member."""

    lr: float = 0.005
    weight_decay: float = 0.0
    max_epochs: int = 10_000
    patience_descent: int = 15
    patience_hump: int = 500
    patience_second: int = 5000
    dtype: str = "float32"
    loss: LossConfig = field(default_factory=LossConfig)
    snapshot_interval_s: float = 300.0
    lr_schedule: str = "constant"
    # None: one optimiser step per epoch on the whole resample (the seed's); n: the drawn samples are
    # dealt once into seeded batches of about n, and every epoch steps through them in a seeded order
    batch_size: int | None = None

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"Invalid dtype={self.dtype!r}, use one of {tuple(DTYPES)}")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise ValueError(f"Invalid batch_size={self.batch_size!r}, must be a positive integer or None")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"Invalid lr_schedule={self.lr_schedule!r}, use one of {LR_SCHEDULES}")
        if not isinstance(self.max_epochs, int) or self.max_epochs < 1:
            raise ValueError(f"Invalid max_epochs={self.max_epochs!r}, must be a positive integer")
        if not self.lr > 0 or self.weight_decay < 0:
            raise ValueError(f"Invalid lr={self.lr!r} / weight_decay={self.weight_decay!r}")
        TemperedEarlyStopping(self.patience_descent, self.patience_hump, self.patience_second)

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> "TrainingConfig":
        obj = dict(obj)
        obj["loss"] = LossConfig(**obj.get("loss", {}))
        return cls(**obj)


def bootstrap(n: int, seed: int, member: int) -> np.ndarray:
    """Multiplicity of each of n samples in member `member`'s resample (n draws with replacement).

    Redrawn (same generator) until at least one sample is out of bag, so every member can validate.
    """
    if n < 2:
        raise EmptyDatasetError(f"bootstrap training needs at least 2 samples, got {n}")
    rng = np.random.default_rng([seed, member])
    while True:
        counts = np.bincount(rng.integers(0, n, n), minlength=n)
        if (counts == 0).any():
            return counts


@dataclass
class MemberResult:
    """A trained member: the kept weights and what happened."""

    state_dict: dict
    metrics: dict
    history: np.ndarray  # (epochs, 3): epoch, train loss (before the step), validation loss (after it)


@dataclass(frozen=True)
class EpochReport:
    member: int
    epoch: int
    train_loss: float
    val_loss: float
    region: int


def _init_seed(seed: int, member: int) -> int:
    return int(np.random.default_rng([seed, member, 1]).integers(2**62))


def train_member(
    network: NetworkConfig,
    training: TrainingConfig,
    graphs: list,
    targets: Targets,
    member: int,
    seed: int = 0,
    *,
    on_epoch: Callable[[EpochReport], None] | None = None,
    snapshot: Callable[[dict], None] | None = None,
    resume_from: dict | None = None,
) -> MemberResult:
    """Train bootstrap member `member` on `graphs` (CrystalGraphs) with `targets` (same order)."""
    if len(graphs) != len(targets):
        raise ValueError(f"{len(graphs)} graphs but {len(targets)} targets")
    dtype = training.torch_dtype
    counts = bootstrap(len(graphs), seed, member)
    drawn, out_of_bag = np.flatnonzero(counts), np.flatnonzero(counts == 0)

    def batch(index):
        return GraphBatch.from_graphs([graphs[i] for i in index], network.variant, r_max=network.r_max,
                                      number_of_basis=network.number_of_basis, lmax=network.lmax, dtype=dtype)

    n_batches = 1 if training.batch_size is None else max(1, round(drawn.size / training.batch_size))
    chunks = np.array_split(np.random.default_rng([seed, member, 2]).permutation(drawn), n_batches)
    train_batches = [(batch(c), targets.subset(c).to(dtype), torch.as_tensor(counts[c], dtype=dtype))
                     for c in (np.sort(chunk) for chunk in chunks)]
    val_batch, val_targets = batch(out_of_bag), targets.subset(out_of_bag).to(dtype)

    torch.manual_seed(_init_seed(seed, member))
    net = BeteNet(network).to(dtype)
    optimizer = torch.optim.AdamW(net.parameters(), lr=training.lr, weight_decay=training.weight_decay)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=training.max_epochs)
                 if training.lr_schedule == "cosine" else None)
    stopper = TemperedEarlyStopping(training.patience_descent, training.patience_hump, training.patience_second)
    kept: dict[int, tuple[int, dict]] = {}  # region → (epoch, state_dict)
    history: list[tuple[int, float, float]] = []
    start_epoch, wall_before = 0, 0.0
    if resume_from is not None:
        net.load_state_dict(resume_from["model"])
        optimizer.load_state_dict(resume_from["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(resume_from["scheduler"])
        stopper = TemperedEarlyStopping.from_state_dict(resume_from["stopper"])
        kept = {int(k): (e, s) for k, (e, s) in resume_from["kept"].items()}
        history = [tuple(row) for row in resume_from["history"]]
        start_epoch, wall_before = resume_from["epoch"] + 1, resume_from["wall_s"]

    t0 = last_snapshot = time.perf_counter()
    epoch = start_epoch - 1
    stopped = False
    for epoch in range(start_epoch, training.max_epochs):
        net.train()
        order = np.random.default_rng([seed, member, 3, epoch]).permutation(n_batches) if n_batches > 1 else [0]
        losses, weights = [], []
        for k in order:
            train_batch, train_targets, train_weight = train_batches[k]
            loss, _ = mixed_loss(net(train_batch), train_targets, train_weight, training.loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            weights.append(float(train_weight.sum()))
        if scheduler is not None:
            scheduler.step()
        net.eval()
        with torch.no_grad():
            val_loss, _ = mixed_loss(net(val_batch), val_targets, None, training.loss)
        # train loss: the seed's (before the step) for one batch, else the mean over the epoch's batches
        train_value = losses[0] if n_batches == 1 else float(np.average(losses, weights=weights))
        val_value = float(val_loss)
        history.append((epoch, train_value, val_value))
        decision = stopper.update(val_value)
        if decision.keep:
            kept[decision.region] = (epoch, copy.deepcopy(net.state_dict()))
        if on_epoch is not None:
            on_epoch(EpochReport(member, epoch, train_value, val_value, stopper.region))
        if decision.stop:
            stopped = True
            break
        now = time.perf_counter()
        if snapshot is not None and now - last_snapshot >= training.snapshot_interval_s:
            snapshot(copy.deepcopy({  # state_dicts alias the live tensors: hand over a copy
                "model": net.state_dict(), "optimizer": optimizer.state_dict(),
                "stopper": stopper.state_dict(), "kept": kept, "history": history,
                "scheduler": None if scheduler is None else scheduler.state_dict(),
                "epoch": epoch, "wall_s": wall_before + now - t0,
            }))
            last_snapshot = now

    region = stopper.kept_region()  # the better of the two descents
    best_epoch, state = kept[region]
    hist = np.asarray(history, dtype=float).reshape(-1, 3)
    metrics = {
        "member": member,
        "seed": seed,
        "n_drawn": int(drawn.size),
        "n_out_of_bag": int(out_of_bag.size),
        "epochs_run": int(epoch + 1),
        "stopped_by": "tempered early stopping" if stopped else "epoch cap",
        "region_reached": int(stopper.region),
        "kept_region": int(region),
        "kept_epoch": int(best_epoch),
        "val_loss": float(hist[hist[:, 0] == best_epoch, 2][0]),
        "best_val_loss_descent": stopper.best_descent,
        "best_val_loss_second_descent": (stopper.best_second if SECOND_DESCENT in kept else None),
        "wall_s": wall_before + time.perf_counter() - t0,
    }
    return MemberResult(state_dict=state, metrics=metrics, history=hist)
