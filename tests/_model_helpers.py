"""Small structures, labels and networks shared by the model tests (kept tiny so tests stay fast)."""

from __future__ import annotations

import numpy as np
import torch
from ase.build import bulk

from betenet.dataset.format import DatasetRecord
from betenet.model.graphs import build_graph
from betenet.model.network import NetworkConfig
from betenet.physics import MODEL_GRID_MEV

TINY = dict(em_dim=8, mul=4, radial_neurons=8)


def tiny_config(variant: str = "CPD", **kw) -> NetworkConfig:
    return NetworkConfig(variant=variant, num_neighbors=12.0, **{**TINY, **kw})


def structures():
    """A handful of small crystals with 1–4 atoms and a few elements."""
    return {
        "Al": bulk("Al", "fcc", a=4.05),
        "Nb": bulk("Nb", "bcc", a=3.30),
        "NaCl": bulk("NaCl", "rocksalt", a=5.64),
        "MgO": bulk("MgO", "rocksalt", a=4.21),
        "Mg": bulk("Mg", "hcp", a=3.21, c=5.21),
        "AlNb": bulk("AlNb", "cesiumchloride", a=3.2),
        "NbC": bulk("NbC", "rocksalt", a=4.47),
        "MgAl": bulk("MgAl", "cesiumchloride", a=3.4),
    }


def phdos(n_atoms: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(5, 60, n_atoms)
    return np.exp(-((MODEL_GRID_MEV[None, :] - centres[:, None]) / 8.0) ** 2)


def graphs(variant: str = "CPD"):
    out = []
    for k, (name, atoms) in enumerate(structures().items()):
        graph = build_graph(atoms, name)
        out.append(graph.with_site_phdos(phdos(len(atoms), k)) if variant != "CSO" else graph)
    return out


def records():
    """Mixed supervision: half the materials carry α²F, the others λ/ω_log/Tc only."""
    out = []
    for k, (name, atoms) in enumerate(structures().items()):
        a2f = 0.3 * np.exp(-((MODEL_GRID_MEV - 10 - 5 * k) / 6.0) ** 2)
        common = dict(id=name, formula=atoms.get_chemical_formula(), cpd=phdos(len(atoms), k), split="train")
        if k % 2 == 0:
            out.append(DatasetRecord(a2f=a2f, **common))
        else:
            out.append(DatasetRecord(lambda_=0.3 + 0.1 * k, omega_log_K=150.0 + 20 * k, tc_K=1.0 + k, **common))
    return out


def random_rotation(seed: int = 0) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def manual_seed(seed: int = 0) -> None:
    torch.manual_seed(seed)
