"""Periodic crystal graphs and their full-batch tensors.

A `CrystalGraph` holds what never changes during training: atomic numbers, the directed edges within
`r_max` (ASE neighbour list, self-loops included as in the seed) and the edge vectors, plus the optional
per-atom site PhDOS (51 bins). `GraphBatch.from_graphs` concatenates graphs into one big graph and
evaluates all geometry once — edge spherical harmonics times the smooth cutoff, and the Gaussian radial
basis on the *unique* edge lengths (an 806-structure set has 48 214 edges but 4 378 distinct lengths per
structure, far fewer overall) — so a training epoch only runs the learned parts.

Edge convention (the seed's): edge (src=i, dst=j) carries ``vec = pos[j] - pos[i] + S·cell``, ASE's
``D`` vector; messages flow src → dst. The network's output is made of even scalars, so flipping every
vector (an inversion of the structure) cannot change it — tests check this and rotation invariance.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from ase.data import atomic_masses, chemical_symbols
from ase.neighborlist import neighbor_list
from e3nn import o3
from e3nn.math import soft_one_hot_linspace

from betenet.model.errors import MissingFeatureError
from betenet.model.kernels import RowGroups
from betenet.model.variants import get_variant
from betenet.physics import N_MODEL_BINS

N_ELEMENTS = 118
GRAPH_FORMAT_VERSION = 1
# Edges whose lengths agree to this many decimals (Å) share one radial-basis evaluation.
_LENGTH_DECIMALS = 9


def node_input_dim(variant: str) -> int:
    """118 (one-hot) for CSO; 118 + 51 (site PhDOS) for the variants that take one."""
    return N_ELEMENTS + (N_MODEL_BINS if get_variant(variant).needs_site_phdos else 0)


@dataclass(frozen=True)
class CrystalGraph:
    """One structure's graph. Arrays are NumPy; shapes: numbers (n,), edge_* (E,), edge_vec (E, 3)."""

    id: str
    numbers: np.ndarray
    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_vec: np.ndarray
    site_phdos: np.ndarray | None = None

    @property
    def n_atoms(self) -> int:
        return int(self.numbers.size)

    @property
    def elements(self) -> set[str]:
        return {chemical_symbols[z] for z in self.numbers}

    def with_site_phdos(self, site_phdos) -> "CrystalGraph":
        phdos = np.asarray(site_phdos, dtype=float)
        if phdos.shape != (self.n_atoms, N_MODEL_BINS):
            raise MissingFeatureError(
                f"structure {self.id!r}: site PhDOS has shape {phdos.shape}, expected "
                f"({self.n_atoms}, {N_MODEL_BINS}) — one 51-bin row per atom in structure order"
            )
        return CrystalGraph(self.id, self.numbers, self.edge_src, self.edge_dst, self.edge_vec, phdos)


def build_graph(atoms, graph_id: str = "", r_max: float = 4.0, site_phdos=None) -> CrystalGraph:
    """Graph of an ASE Atoms (or pymatgen Structure): every pair within `r_max` Å, self-loops included."""
    if hasattr(atoms, "lattice") and hasattr(atoms, "sites"):
        from pymatgen.io.ase import AseAtomsAdaptor

        atoms = AseAtomsAdaptor.get_atoms(atoms)
    if len(atoms) == 0:
        raise ValueError(f"structure {graph_id!r} has no atoms")
    src, dst, vec = neighbor_list("ijD", atoms, cutoff=r_max, self_interaction=True)
    graph = CrystalGraph(
        id=graph_id,
        numbers=np.asarray(atoms.numbers, dtype=np.int64),
        edge_src=src.astype(np.int64),
        edge_dst=dst.astype(np.int64),
        edge_vec=np.asarray(vec, dtype=np.float64),
    )
    return graph if site_phdos is None else graph.with_site_phdos(site_phdos)


def mean_neighbour_count(graphs) -> float:
    """Edges per atom, self-loops included (the seed's `num_neighbors` normaliser)."""
    graphs = list(graphs)
    return sum(g.edge_src.size for g in graphs) / sum(g.n_atoms for g in graphs)


def node_inputs(numbers: np.ndarray, variant: str, site_phdos: np.ndarray | None, graph_id: str = ""):
    """Seed node inputs: x = mass-weighted one-hot [+ ones(51)], z = one-hot [+ site PhDOS]."""
    n = numbers.size
    x = np.zeros((n, N_ELEMENTS))
    z = np.zeros((n, N_ELEMENTS))
    x[np.arange(n), numbers - 1] = atomic_masses[numbers]
    z[np.arange(n), numbers - 1] = 1.0
    kind = get_variant(variant)
    if not kind.needs_site_phdos:
        return x, z
    kind.require_site_phdos(site_phdos, graph_id)
    return np.hstack([x, np.ones((n, N_MODEL_BINS))]), np.hstack([z, site_phdos])


def smooth_cutoff(x: torch.Tensor) -> torch.Tensor:
    """e3nn's gate_points_2101 cutoff: 1 below x = 0.5, a cosine down to 0 at x = 1."""
    u = 2.0 * (x - 1.0)
    y = (1.0 - torch.cos(math.pi * u)) / 2.0
    return torch.where(u > 0, torch.zeros_like(y), torch.where(u < -1, torch.ones_like(y), y))


@dataclass
class GraphBatch:
    """Many graphs as one (full-batch training), geometry evaluated once.

    Shapes (N nodes, E edges, L unique edge lengths, G graphs):
    x_raw, z_raw (N, in_dim); x_unique (K, in_dim) the distinct rows of x_raw (one per element, as the
    seed's inputs x depend on the element only) with x_groups mapping nodes to them; kind_x, kind_z
    (K', in_dim) the distinct (x, z) pairs ("node kinds": one per element for CSO) with kind_groups;
    node_graph (N,); edge_src, edge_dst (E,); edge_attr (E, 4) = cutoff·Y_l≤1;
    radial_basis (L, number_of_basis); edge_length_index (E,) into radial_basis; atoms_per_graph (G,).
    """

    ids: list[str]
    x_raw: torch.Tensor
    z_raw: torch.Tensor
    node_graph: torch.Tensor
    atoms_per_graph: torch.Tensor
    edge_src: torch.Tensor
    edge_dst: torch.Tensor
    edge_attr: torch.Tensor
    radial_basis: torch.Tensor
    edge_length_index: torch.Tensor
    x_unique: torch.Tensor
    x_groups: RowGroups
    kind_x: torch.Tensor
    kind_z: torch.Tensor
    kind_groups: RowGroups

    @property
    def n_graphs(self) -> int:
        return len(self.ids)

    @property
    def n_nodes(self) -> int:
        return self.x_raw.shape[0]

    @property
    def n_edges(self) -> int:
        return self.edge_src.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.x_raw.dtype

    def edge_radial_embedding(self) -> torch.Tensor:
        """Per-edge radial basis (E, number_of_basis), as the seed computes it."""
        return self.radial_basis[self.edge_length_index]

    @classmethod
    def from_graphs(
        cls,
        graphs,
        variant: str,
        *,
        r_max: float = 4.0,
        number_of_basis: int = 10,
        lmax: int = 1,
        dtype: torch.dtype = torch.float32,
    ) -> "GraphBatch":
        graphs = list(graphs)
        if not graphs:
            raise ValueError("cannot batch an empty list of graphs")
        xs, zs = zip(*(node_inputs(g.numbers, variant, g.site_phdos, g.id) for g in graphs))
        sizes = np.array([g.n_atoms for g in graphs])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        src = np.concatenate([g.edge_src + o for g, o in zip(graphs, offsets)])
        dst = np.concatenate([g.edge_dst + o for g, o in zip(graphs, offsets)])
        vec = np.concatenate([g.edge_vec for g in graphs])
        length = np.linalg.norm(vec, axis=1)
        if np.any(length > r_max + 1e-9):
            raise ValueError(f"graphs were built with a cutoff above r_max={r_max} Å")
        _, first, inverse = np.unique(np.round(length, _LENGTH_DECIMALS), return_index=True,
                                      return_inverse=True)
        unique_length = torch.as_tensor(length[first], dtype=torch.float64)
        vec_t = torch.as_tensor(vec, dtype=torch.float64)
        sh = o3.spherical_harmonics(o3.Irreps.spherical_harmonics(lmax), vec_t, True, normalization="component")
        cutoff = smooth_cutoff(torch.as_tensor(length) / r_max)
        radial = soft_one_hot_linspace(unique_length, 0.0, r_max, number_of_basis, basis="gaussian",
                                       cutoff=False).mul(number_of_basis**0.5)
        x_raw = torch.as_tensor(np.concatenate(xs), dtype=dtype)
        z_raw = torch.as_tensor(np.concatenate(zs), dtype=dtype)
        x_unique, x_index = torch.unique(x_raw, dim=0, return_inverse=True)
        kinds, kind_index = torch.unique(torch.cat([x_raw, z_raw], dim=1), dim=0, return_inverse=True)
        return cls(
            ids=[g.id for g in graphs],
            x_raw=x_raw,
            z_raw=z_raw,
            node_graph=torch.as_tensor(np.repeat(np.arange(len(graphs)), sizes), dtype=torch.long),
            atoms_per_graph=torch.as_tensor(sizes, dtype=torch.long),
            edge_src=torch.as_tensor(src, dtype=torch.long),
            edge_dst=torch.as_tensor(dst, dtype=torch.long),
            edge_attr=(cutoff[:, None] * sh).to(dtype),
            radial_basis=radial.to(dtype),
            edge_length_index=torch.as_tensor(inverse.reshape(-1), dtype=torch.long),
            x_unique=x_unique,
            x_groups=RowGroups.from_index(x_index, x_unique.shape[0]),
            kind_x=kinds[:, : x_raw.shape[1]],
            kind_z=kinds[:, x_raw.shape[1] :],
            kind_groups=RowGroups.from_index(kind_index, kinds.shape[0]),
        )


# ---------------------------------------------------------------------------------------------------
# On-disk cache of the neighbour lists of a dataset (reading CIFs and neighbour search are the slow part)
# ---------------------------------------------------------------------------------------------------


def _cache_key(content_hash: str, r_max: float) -> str:
    text = f"{content_hash}|r_max={r_max!r}|graph_format={GRAPH_FORMAT_VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def save_graphs(path: Path, graphs: list[CrystalGraph]) -> None:
    """Neighbour lists of many graphs in one .npz (site PhDOS are not stored: they live in the records)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial.npz")
    np.savez(
        tmp,
        ids=np.array([g.id for g in graphs]),
        n_atoms=np.array([g.n_atoms for g in graphs]),
        n_edges=np.array([g.edge_src.size for g in graphs]),
        numbers=np.concatenate([g.numbers for g in graphs]),
        edge_src=np.concatenate([g.edge_src for g in graphs]),
        edge_dst=np.concatenate([g.edge_dst for g in graphs]),
        edge_vec=np.concatenate([g.edge_vec for g in graphs]),
    )
    tmp.replace(path)


def load_graphs(path: Path) -> list[CrystalGraph]:
    with np.load(path) as data:
        atom_split = np.cumsum(data["n_atoms"])[:-1]
        edge_split = np.cumsum(data["n_edges"])[:-1]
        parts = zip(
            data["ids"],
            np.split(data["numbers"], atom_split),
            np.split(data["edge_src"], edge_split),
            np.split(data["edge_dst"], edge_split),
            np.split(data["edge_vec"], edge_split),
        )
        return [CrystalGraph(str(i), n, s, d, v) for i, n, s, d, v in parts]


def dataset_graphs(dataset, r_max: float = 4.0, cache_dir: Path | None = None) -> list[CrystalGraph]:
    """Graphs (without PhDOS) of every record of a `betenet.dataset.format.Dataset`, cached by content."""
    cache = Path(cache_dir) / f"graphs-{_cache_key(dataset.content_hash, r_max)}.npz" if cache_dir else None
    if cache is not None and cache.is_file():
        graphs = load_graphs(cache)
        if [g.id for g in graphs] == [r.id for r in dataset.records]:
            return graphs
    graphs = [build_graph(dataset.read_structure(r), r.id, r_max) for r in dataset.records]
    if cache is not None:
        save_graphs(cache, graphs)
    return graphs
