"""A trained bootstrap ensemble of BETE-NET: open its directory, predict α²F and the moments with a spread.

The directory layout and its integrity checks are `betenet.model.checkpoints`; training into it is
`betenet.model.ensemble_training.train_ensemble`.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from betenet import physics
from betenet.dataset.format import Dataset
from betenet.model import checkpoints
from betenet.model.calibration import ONE_SIGMA, fit_std_scales, values_and_spreads
from betenet.model.errors import CheckpointError, EmptyDatasetError, UnseenElementError
from betenet.model.graphs import CrystalGraph, GraphBatch, build_graph
from betenet.model.loss import FIRST_BIN
from betenet.model.network import BeteNet, NetworkConfig
from betenet.model.training import TrainingConfig
from betenet.model.training_set import variant_graphs
from betenet.model.variants import get_variant
from betenet.store.documents import EliashbergData


@dataclass(frozen=True)
class Prediction:
    """Ensemble prediction for G structures. α²F on `omega_meV` (51 bins); moments from the mean α²F,
    `*_std` the spread (standard deviation) of the members' own values — for λ, ω_log and Tc multiplied by
    the ensemble's calibration scale when it has one (`calibrated`; `betenet.model.calibration`). ω_log/ω₂/Tc are NaN where the
    predicted λ is 0 (ω_log is undefined there).

    tc_eliashberg_K: the isotropic Eliashberg Tc of the mean α²F, NaN where there is none: then
    `tc_eliashberg_reason` says why (below `tc_eliashberg_below_K`, the lowest temperature solved, or refused
    by the solver). Its spread costs one solve per member and structure (≈ 23 ms each), so it is NaN until
    `with_eliashberg_spread` computes it for the structures asked for. member_a2f: (M, G, 51).
    """

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
    tc_eliashberg_K: np.ndarray
    tc_eliashberg_K_std: np.ndarray
    tc_eliashberg_below_K: np.ndarray
    tc_eliashberg_reason: tuple[str | None, ...]
    member_a2f: np.ndarray
    calibrated: bool = False

    def rows(self) -> list[dict]:
        """One JSON-ready dict per structure."""
        keys = ("lambda_", "omega_log_K", "omega_2_K", "tc_K", "tc_eliashberg_K", "lambda_std", "omega_log_K_std",
                "omega_2_K_std", "tc_K_std", "tc_eliashberg_K_std")
        return [{"id": i, **{k.rstrip("_"): float(getattr(self, k)[g]) for k in keys},
                 "a2f": self.a2f[g].tolist(), "a2f_std": self.a2f_std[g].tolist()}
                for g, i in enumerate(self.ids)]

    def with_eliashberg_spread(self, positions: Iterable[int]) -> "Prediction":
        """A copy with the members' Eliashberg-Tc spread at the structures `positions` (indices into `ids`).

        A member whose Tc lies below the lowest temperature solved counts as 0 K in the spread (off by at most
        that temperature, 0.1 K); a member spectrum the solver refuses leaves the spread undefined (NaN).
        """
        std = self.tc_eliashberg_K_std.copy()
        ddof = 1 if self.n_members > 1 else 0
        for g in positions:
            members = [_eliashberg(a2f, self.mu_star) for a2f in self.member_a2f[:, g]]
            refused = any(m.tc_K is None and m.below_K is None for m in members)
            std[g] = np.nan if refused else np.std([m.tc_K or 0.0 for m in members], ddof=ddof)
        return dataclasses.replace(self, tc_eliashberg_K_std=std)


def _eliashberg(a2f_51: np.ndarray, mu_star: float) -> EliashbergData:
    """The Eliashberg Tc of a 51-bin α²F, bins from FIRST_BIN on as the moments."""
    return EliashbergData.from_spectrum(physics.MODEL_GRID_MEV, a2f_51, mu_star, first_bin=FIRST_BIN)


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

    @property
    def id(self) -> str:
        """A stable short id of this trained ensemble (its configuration, creation time included)."""
        text = json.dumps(self.config, sort_keys=True, separators=(",", ":"))
        return "ens-" + hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def std_scales(self) -> dict[str, float] | None:
        """Calibration scales of the λ, ω_log, Tc spreads (None: uncalibrated)."""
        calibration = self.config.get("calibration")
        return None if calibration is None else dict(calibration["std_scale"])

    def calibrate(self, structures, truth: dict[str, np.ndarray], ids: Sequence[str] | None = None,
                  site_phdos=None, coverage: float = ONE_SIGMA) -> dict[str, float]:
        """Fit the spread scales on labelled structures it did not train on (`truth`: label → array in the
        order of `structures`, keys of `betenet.model.calibration.CALIBRATED`) and store them in the
        ensemble's configuration, so every later `predict` applies them. Returns the scales."""
        prediction = self.predict(structures, ids, site_phdos, calibrated=False)
        scales = fit_std_scales(truth, *values_and_spreads(prediction), coverage)
        self.config["calibration"] = {"std_scale": scales, "coverage": coverage, "n_rows": len(prediction.ids),
                                      "ids_hash": checkpoints.ids_hash(prediction.ids)}
        checkpoints.write_json(self.directory / checkpoints.CONFIG_FILE, self.config)
        return scales

    @property
    def mlip(self) -> dict | None:
        """The potential and phonon settings an MPD ensemble's features came from (None otherwise)."""
        return (self.config.get("dataset") or {}).get("mlip")

    @property
    def dataset_hash(self) -> str | None:
        """Content hash of the dataset it was trained on."""
        return (self.config.get("dataset") or {}).get("content_hash")

    @classmethod
    def load(cls, directory: Path | str, *, verify: bool = True) -> "Ensemble":
        """Open an ensemble directory; `verify` checks every member file against its recorded SHA-256."""
        directory = Path(directory)
        config = checkpoints.read_config(directory)
        members = [m for m in (checkpoints.finished_member(directory, i, verify) for i in range(config["n_members"]))
                   if m]
        if not members:
            raise CheckpointError(directory, "no finished members yet: finish training with train_ensemble")
        return cls(directory, config, members)

    def _member_state(self, member: int) -> dict:
        path = checkpoints.member_path(self.directory, member, ".pt")
        blob = checkpoints.load_torch(path)
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
            raise CheckpointError(self.directory / checkpoints.MEMBERS_DIR, f"member {member}: {err}") from err
        return net.eval()

    def graphs_for(self, structures, ids: Sequence[str] | None = None, site_phdos=None) -> list[CrystalGraph]:
        """Graphs of structures / graphs / a Dataset, checked against what this ensemble can predict."""
        variant = get_variant(self.variant)
        if isinstance(structures, Dataset):
            graphs = variant_graphs(structures, self.variant, self.network.r_max)
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
            variant.require_site_phdos(graph.site_phdos, graph.id, "pass site_phdos=..., or a Dataset with it")
            for element in sorted(graph.elements - known):
                raise UnseenElementError(element, graph.id, self.elements)
        return graphs

    def predict(self, structures, ids: Sequence[str] | None = None, site_phdos=None, *,
                dtype: torch.dtype | None = None, batch_size: int = 2000, threads: int | None = None,
                mu_star: float | None = None, calibrated: bool = True) -> Prediction:
        """Predict α²F and moments for structures (ASE Atoms / pymatgen Structures / CrystalGraphs, or a
        betenet Dataset). CPD/FPD ensembles need per-atom site PhDOS (`site_phdos`, graphs carrying it,
        or a Dataset with the cpd/fpd field). Tc uses `mu_star` (default: the μ* the ensemble trained with).

        Members run in parallel on `threads` threads (default: torch's thread count), each member on one
        thread: members are independent, so this scales without the per-operation synchronisation of
        splitting every tensor operation across threads. `calibrated=False` gives the raw member spread
        even where the ensemble has calibration scales.
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
                        raise CheckpointError(self.directory / checkpoints.MEMBERS_DIR,
                                              f"member {member}: {err}") from err
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
        scales = self.std_scales if calibrated else None
        if scales is not None:
            spread = [spread[0] * scales["lambda"], spread[1] * scales["omega_log_K"], spread[2],
                      spread[3] * scales["tc_K"]]
        eliashberg = [_eliashberg(a2f, mu_star) for a2f in mean]
        return Prediction(
            ids=[g.id for g in graphs], omega_meV=physics.MODEL_GRID_MEV.copy(), a2f=mean,
            a2f_std=member_a2f.std(axis=0, ddof=ddof), lambda_=lam, omega_log_K=wlog, omega_2_K=w2, tc_K=tc,
            lambda_std=spread[0], omega_log_K_std=spread[1], omega_2_K_std=spread[2], tc_K_std=spread[3],
            calibrated=scales is not None,
            n_members=len(self.members), mu_star=mu_star,
            tc_eliashberg_K=np.array([np.nan if e.tc_K is None else e.tc_K for e in eliashberg]),
            tc_eliashberg_K_std=np.full(len(graphs), np.nan),
            tc_eliashberg_below_K=np.array([np.nan if e.below_K is None else e.below_K for e in eliashberg]),
            tc_eliashberg_reason=tuple(e.reason for e in eliashberg), member_a2f=member_a2f,
        )

