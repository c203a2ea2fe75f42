"""Bootstrap ensembles of BETE-NET: training with resume, one directory per ensemble, prediction.

Directory layout (everything a later `Ensemble.load` needs; plain JSON beside torch weight files)::

    <dir>/ensemble.json              format + version, architecture, network config (incl. the training set's
                                     mean neighbour count), training config, seed, n_members, dataset
                                     (content hash, source, sample ids hash), elements seen in training
    <dir>/members/member_007.pt      weights of the kept model (+ loss history), written atomically
    <dir>/members/member_007.json    that member's metrics and the SHA-256 of its .pt
    <dir>/members/member_007.partial.pt   snapshot of a member still training (removed when it finishes)
    <dir>/metrics.json               summary over the finished members

A finished member is never retrained or overwritten: re-running `train_ensemble` on the directory
trains only the missing members (continuing from a snapshot where there is one). A checkpoint that
does not load, or whose hash does not match, stops everything with a `CheckpointError`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from ase.data import chemical_symbols

from betenet import physics
from betenet.model.errors import (
    CheckpointError,
    EmptyDatasetError,
    MissingFeatureError,
    UnseenElementError,
)
from betenet.model.graphs import CrystalGraph, GraphBatch, build_graph, dataset_graphs, mean_neighbour_count
from betenet.model.loss import FIRST_BIN, Targets
from betenet.model.network import ARCHITECTURES, BeteNet, NetworkConfig
from betenet.model.training import EpochReport, TrainingConfig, train_member

ENSEMBLE_FORMAT = "betenet-ensemble"
ENSEMBLE_FORMAT_VERSION = 1
CONFIG_FILE = "ensemble.json"
MEMBERS_DIR = "members"
SITE_PHDOS_FIELD = {"CPD": "cpd", "FPD": "fpd"}


# ---------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a whole file or nothing: a temporary sibling, fsync, then rename over the target."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _torch_bytes(obj) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _write_json(path: Path, obj) -> None:
    _atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def _member_stem(member: int) -> str:
    return f"member_{member:03d}"


def _ids_hash(ids: Sequence[str]) -> str:
    return "sha256:" + hashlib.sha256("\n".join(ids).encode()).hexdigest()


def _load_torch(path: Path):
    try:
        # weights_only: tensors, numbers, strings and containers only — a checkpoint cannot run code
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, unpickling errors, ...
        raise CheckpointError(path, f"cannot be read ({type(err).__name__}: {err}); it is corrupt or "
                                    "truncated — delete it to retrain that member") from err


# ---------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingSet:
    """Graphs (with site PhDOS where the variant needs them) and their labels, in one order."""

    graphs: list[CrystalGraph]
    targets: Targets
    content_hash: str | None = None
    source: str | None = None

    def __post_init__(self):
        if len(self.graphs) == 0:
            raise EmptyDatasetError("the training set is empty: no samples with a structure and a label")
        if len(self.graphs) != len(self.targets):
            raise ValueError(f"{len(self.graphs)} graphs but {len(self.targets)} targets")

    @property
    def ids(self) -> list[str]:
        return [g.id for g in self.graphs]

    @property
    def elements(self) -> list[str]:
        return sorted(set().union(*(g.elements for g in self.graphs)), key=chemical_symbols.index)


def training_set_from_dataset(dataset, variant: str, *, splits: Sequence[str | None] | None = ("train",),
                              r_max: float = 4.0, cache_dir: Path | None = None) -> TrainingSet:
    """Records of `dataset` in `splits` (None: all) that carry a label; CPD/FPD need the site PhDOS.

    Records without any label (no α²F, λ, ω_log or Tc) are skipped; a record without the PhDOS its
    variant needs is an error naming the record.
    """
    records = [r for r in dataset.records if splits is None or r.split in splits]
    labelled = [r for r in records
                if r.a2f is not None or r.lambda_ is not None or r.omega_log_K is not None or r.tc_K is not None]
    if not labelled:
        raise EmptyDatasetError(f"dataset {dataset.directory} has no labelled records in splits {splits} "
                                f"({len(records)} records without α²F, λ, ω_log or Tc)")
    graph_of = dict(zip((r.id for r in dataset.records), dataset_graphs(dataset, r_max, cache_dir)))
    field = SITE_PHDOS_FIELD.get(variant)
    graphs = []
    for record in labelled:
        graph = graph_of[record.id]
        if field is not None:
            phdos = getattr(record, field)
            if phdos is None:
                raise MissingFeatureError(f"record {record.id!r} has no '{field}' site PhDOS, which the "
                                          f"{variant} variant needs; train CSO or rebuild the dataset with it")
            graph = graph.with_site_phdos(phdos)
        graphs.append(graph)
    return TrainingSet(graphs, Targets.from_records(labelled, torch.float64), dataset.content_hash,
                       dataset.manifest.source)


def _ensemble_config(network: NetworkConfig, training: TrainingConfig, data: TrainingSet, seed: int,
                     n_members: int) -> dict:
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
        "dataset": {"content_hash": data.content_hash, "source": data.source, "n_samples": len(data.graphs),
                    "ids_hash": _ids_hash(data.ids)},
        "elements": data.elements,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {"betenet": betenet.__version__, "torch": torch.__version__},
    }


_COMPARED = ("architecture", "network", "training", "seed", "dataset", "elements")


def _check_same_run(path: Path, old: dict, new: dict) -> None:
    differing = [k for k in _COMPARED if old.get(k) != new.get(k)]
    if differing:
        raise CheckpointError(path, f"this directory holds an ensemble trained with other {differing}; "
                                    "use a new directory (nothing was changed)")


def _finished_member(directory: Path, member: int, verify: bool = True) -> dict | None:
    """Metrics of a finished member, None if it is not finished; CheckpointError if it is damaged."""
    stem = directory / MEMBERS_DIR / _member_stem(member)
    weights, meta = stem.with_suffix(".pt"), stem.with_suffix(".json")
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


def _train_and_save(directory: Path, network: NetworkConfig, training: TrainingConfig, data: TrainingSet,
                    member: int, seed: int, on_epoch=None) -> dict:
    stem = directory / MEMBERS_DIR / _member_stem(member)
    partial = stem.with_suffix(".partial.pt")
    resume_from = _load_torch(partial) if partial.exists() else None
    result = train_member(network, training, data.graphs, data.targets, member, seed, on_epoch=on_epoch,
                          snapshot=lambda state: _atomic_write_bytes(partial, _torch_bytes(state)),
                          resume_from=resume_from)
    blob = _torch_bytes({"architecture": network.architecture, "state_dict": result.state_dict,
                         "history": torch.as_tensor(result.history), "metrics": result.metrics})
    _atomic_write_bytes(stem.with_suffix(".pt"), blob)
    metrics = {**result.metrics, "sha256": "sha256:" + hashlib.sha256(blob).hexdigest()}
    _write_json(stem.with_suffix(".json"), metrics)  # written last: marks the member finished
    partial.unlink(missing_ok=True)
    return metrics


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


def _summary(directory: Path, n_members: int) -> dict:
    members = [m for m in (_finished_member(directory, i, verify=False) for i in range(n_members)) if m]
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


def train_ensemble(
    directory: Path | str,
    data: TrainingSet,
    *,
    variant: str = "CPD",
    network: NetworkConfig | None = None,
    training: TrainingConfig = TrainingConfig(),
    n_members: int = 100,
    seed: int = 0,
    workers: int | None = None,
    threads: int | None = None,
    progress: bool = True,
    members: Sequence[int] | None = None,
) -> "Ensemble":
    """Train (or finish training) a bootstrap ensemble in `directory` and return it loaded.

    `members` trains only those member indices (one jobflow Job per member on a cluster, see
    `betenet.screening.training.member_flow`); None trains every member not yet finished.
    `network` defaults to the seed's architecture for `variant`; its `num_neighbors` is always replaced
    by the training set's mean neighbour count. `workers` > 1 trains members in that many processes
    with `threads` torch threads each (default: all threads split among them); `workers=1` trains them
    one after another in this process. The default (None) is one process per core with one thread
    each whenever more than one member is left: members are independent, and on a shared 2-core
    machine this beat one process with 2 threads per operation by far (benchmarks/RESULTS.md, Model).
    """
    directory = Path(directory)
    if n_members < 1:
        raise ValueError(f"Invalid n_members={n_members!r}, must be ≥ 1")
    network = replace(network or NetworkConfig(variant=variant), num_neighbors=mean_neighbour_count(data.graphs))
    for graph in data.graphs:
        if network.variant != "CSO" and graph.site_phdos is None:
            raise MissingFeatureError(f"graph {graph.id!r} has no site PhDOS, needed by {network.variant}")
    config = _ensemble_config(network, training, data, seed, n_members)
    config_path = directory / CONFIG_FILE
    if config_path.exists():
        old = Ensemble.read_config(directory)
        _check_same_run(config_path, old, config)
        config["created"] = old["created"]
    (directory / MEMBERS_DIR).mkdir(parents=True, exist_ok=True)
    _write_json(config_path, config)

    wanted = range(n_members) if members is None else sorted(set(members))
    if any(not 0 <= m < n_members for m in wanted):
        raise ValueError(f"Invalid members={list(members)}: indices must lie in 0..{n_members - 1}")
    todo = [m for m in wanted if _finished_member(directory, m) is None]
    if workers is None:
        workers, threads = (min(len(todo), os.cpu_count() or 1), 1) if len(todo) > 1 else (1, threads)
    if todo:
        _run_members(directory, network, training, data, seed, todo, n_members, workers, threads, progress)
    _write_json(directory / "metrics.json", _summary(directory, n_members))
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
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init,
                                 initargs=(threads, payload)) as pool:
            futures = {pool.submit(_worker_task, m): m for m in todo}
            for future in as_completed(futures):
                metrics = future.result()
                bar.update(members_task, advance=1, status=f"member {futures[future]}: val "
                                                           f"{metrics['val_loss']:.4g}")


# ---------------------------------------------------------------------------------------------------
# Loading and prediction
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    """Ensemble prediction for G structures. α²F on `omega_meV` (51 bins); moments from the mean α²F,
    `*_std` the spread (standard deviation) of the members' own values. ω_log/ω₂/Tc are NaN where the
    predicted λ is 0 (ω_log is undefined there)."""

    ids: list[str]
    omega_meV: np.ndarray
    a2f: np.ndarray  # (G, 51) member mean
    a2f_std: np.ndarray  # (G, 51)
    lambda_: np.ndarray
    omega_log_K: np.ndarray
    omega_2_K: np.ndarray
    tc_K: np.ndarray
    lambda_std: np.ndarray
    omega_log_K_std: np.ndarray
    omega_2_K_std: np.ndarray
    tc_K_std: np.ndarray
    n_members: int
    mu_star: float

    def rows(self) -> list[dict]:
        """One JSON-ready dict per structure."""
        keys = ("lambda_", "omega_log_K", "omega_2_K", "tc_K", "lambda_std", "omega_log_K_std",
                "omega_2_K_std", "tc_K_std")
        return [{"id": i, **{k.rstrip("_"): float(getattr(self, k)[g]) for k in keys},
                 "a2f": self.a2f[g].tolist(), "a2f_std": self.a2f_std[g].tolist()}
                for g, i in enumerate(self.ids)]


def _moments(a2f: np.ndarray, mu_star: float):
    grid = physics.MODEL_GRID_MEV
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = physics.lambda_from_a2f(grid, a2f, first_bin=FIRST_BIN)
        wlog = physics.mev_to_kelvin(physics.omega_log_from_a2f(grid, a2f, first_bin=FIRST_BIN))
        w2 = physics.mev_to_kelvin(physics.omega_2_from_a2f(grid, a2f, first_bin=FIRST_BIN))
        tc = np.asarray(physics.allen_dynes_tc(lam, wlog, w2, mu_star), dtype=float)
    return lam, wlog, w2, np.where(np.isfinite(wlog), tc, np.nan)


class Ensemble:
    """A trained ensemble directory. Member weights are read when predicting, one member at a time."""

    def __init__(self, directory: Path, config: dict, members: list[dict]):
        self.directory = directory
        self.config = config
        self.members = members
        self.network = NetworkConfig.from_json(config["network"])
        self.training = TrainingConfig.from_json(config["training"])
        self.elements: list[str] = list(config["elements"])

    def __repr__(self) -> str:
        return (f"Ensemble({str(self.directory)!r}, {self.network.architecture}, variant={self.network.variant}, "
                f"{len(self.members)}/{self.config['n_members']} members)")

    @property
    def variant(self) -> str:
        return self.network.variant

    @staticmethod
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

    @classmethod
    def load(cls, directory: Path | str, *, verify: bool = True) -> "Ensemble":
        """Open an ensemble directory; `verify` checks every member file against its recorded SHA-256."""
        directory = Path(directory)
        config = cls.read_config(directory)
        members = [m for m in (_finished_member(directory, i, verify) for i in range(config["n_members"])) if m]
        if not members:
            raise CheckpointError(directory, "no finished members yet: finish training with train_ensemble")
        return cls(directory, config, members)

    def _member_state(self, member: int) -> dict:
        path = self.directory / MEMBERS_DIR / f"{_member_stem(member)}.pt"
        blob = _load_torch(path)
        if not isinstance(blob, dict) or blob.get("architecture") != self.network.architecture:
            raise CheckpointError(path, "not a member checkpoint of this ensemble's architecture")
        return blob["state_dict"]

    def member_network(self, member: int, dtype: torch.dtype | None = None) -> BeteNet:
        """One member as a module (eval mode)."""
        dtype = dtype or self.training.torch_dtype
        net = BeteNet(self.network).to(dtype)
        try:
            net.load_state_dict(self._member_state(member))
        except RuntimeError as err:  # missing / unexpected keys, wrong shapes
            raise CheckpointError(self.directory / MEMBERS_DIR, f"member {member}: {err}") from err
        return net.eval()

    def graphs_for(self, structures, ids: Sequence[str] | None = None, site_phdos=None) -> list[CrystalGraph]:
        """Graphs of structures / graphs / a Dataset, checked against what this ensemble can predict."""
        from betenet.dataset.format import Dataset

        if isinstance(structures, Dataset):
            field = SITE_PHDOS_FIELD.get(self.variant)
            graphs = dataset_graphs(structures, self.network.r_max)
            if field is not None:
                graphs = [g.with_site_phdos(_require_phdos(getattr(r, field), r.id, self.variant))
                          for g, r in zip(graphs, structures.records)]
        else:
            structures = list(structures)
            ids = list(ids) if ids is not None else [str(i) for i in range(len(structures))]
            if len(ids) != len(structures):
                raise ValueError(f"{len(ids)} ids for {len(structures)} structures")
            phdos = list(site_phdos) if site_phdos is not None else [None] * len(structures)
            graphs = []
            for s, i, p in zip(structures, ids, phdos):
                graph = s if isinstance(s, CrystalGraph) else build_graph(s, i, self.network.r_max)
                if p is not None:
                    graph = graph.with_site_phdos(p)
                graphs.append(graph)
        if not graphs:
            raise EmptyDatasetError("nothing to predict: no structures given")
        known = set(self.elements)
        for graph in graphs:
            if self.variant != "CSO" and graph.site_phdos is None:
                _require_phdos(None, graph.id, self.variant)
            for element in sorted(graph.elements - known):
                raise UnseenElementError(element, graph.id, self.elements)
        return graphs

    def predict(self, structures, ids: Sequence[str] | None = None, site_phdos=None, *,
                dtype: torch.dtype | None = None, batch_size: int = 2000, threads: int | None = None,
                mu_star: float | None = None) -> Prediction:
        """Predict α²F and moments for structures (ASE Atoms / pymatgen Structures / CrystalGraphs, or a
        betenet Dataset). CPD/FPD ensembles need per-atom site PhDOS (`site_phdos`, graphs carrying it,
        or a Dataset with the cpd/fpd field). Tc uses `mu_star` (default: the μ* the ensemble trained with).

        Members run in parallel on `threads` threads (default: torch's thread count), each member on one
        thread: members are independent, so this scales without the per-operation synchronisation of
        splitting every tensor operation across threads.
        """
        mu_star = self.training.loss.mu_star if mu_star is None else mu_star
        if not 0 <= mu_star < 1:
            raise ValueError(f"Invalid mu_star={mu_star!r}, must be in [0, 1)")
        graphs = self.graphs_for(structures, ids, site_phdos)
        dtype = dtype or self.training.torch_dtype
        c = self.network
        batches = [GraphBatch.from_graphs(graphs[i : i + batch_size], c.variant, r_max=c.r_max,
                                          number_of_basis=c.number_of_basis, lmax=c.lmax, dtype=dtype)
                   for i in range(0, len(graphs), batch_size)]
        member_a2f = np.empty((len(self.members), len(graphs), c.out_dim))
        threads = max(1, min(threads or torch.get_num_threads(), len(self.members)))
        template = BeteNet(c).to(dtype).eval()
        # one module per thread, copied here (copying e3nn's fx modules is not thread-safe)
        nets = [template] + [copy.deepcopy(template) for _ in range(threads - 1)]

        def run(net, positions):
            with torch.inference_mode():
                for k in positions:
                    member = self.members[k]["member"]
                    try:
                        net.load_state_dict(self._member_state(member))
                    except RuntimeError as err:
                        raise CheckpointError(self.directory / MEMBERS_DIR, f"member {member}: {err}") from err
                    member_a2f[k] = np.concatenate([net(b).double().numpy() for b in batches])

        if threads == 1:
            run(template, range(len(self.members)))
        else:
            previous = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                with ThreadPoolExecutor(threads) as pool:
                    jobs = [pool.submit(run, nets[i], range(i, len(self.members), threads)) for i in range(threads)]
                    for future in jobs:
                        future.result()
            finally:
                torch.set_num_threads(previous)
        mean = member_a2f.mean(axis=0)
        lam, wlog, w2, tc = _moments(mean, mu_star)
        per_member = _moments(member_a2f, mu_star)
        ddof = 1 if len(self.members) > 1 else 0
        with np.errstate(invalid="ignore"):
            spread = [np.std(v, axis=0, ddof=ddof) for v in per_member]
        return Prediction(
            ids=[g.id for g in graphs], omega_meV=physics.MODEL_GRID_MEV.copy(), a2f=mean,
            a2f_std=member_a2f.std(axis=0, ddof=ddof), lambda_=lam, omega_log_K=wlog, omega_2_K=w2, tc_K=tc,
            lambda_std=spread[0], omega_log_K_std=spread[1], omega_2_K_std=spread[2], tc_K_std=spread[3],
            n_members=len(self.members), mu_star=mu_star,
        )


def _require_phdos(phdos, record_id: str, variant: str):
    if phdos is None:
        raise MissingFeatureError(
            f"structure {record_id!r} has no site PhDOS, which a {variant} ensemble needs as input "
            f"(dataset field '{SITE_PHDOS_FIELD[variant]}', or pass site_phdos=...)")
    return phdos
