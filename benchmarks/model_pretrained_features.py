"""Pretrained features of a universal potential (CHGNet 0.3.0) as BETE-NET node attributes — an ablation lever.

Three ways of giving the CSO network what CHGNet learned from the Materials Project trajectories:

    chgnet atoms      z = one-hot ⊕ CHGNet's per-atom features after its last graph convolution (64, standardised
                      over the 924 JARVIS structures), x = mass-weighted one-hot ⊕ ones
    chgnet atoms xz   the same 64 features appended to both x and z
    chgnet elements   z = CHGNet's element embedding (its 94 × 64 `atom_embedding` table, standardised) instead
                      of the one-hot, x = the same row: elements share strength through a learned chemistry

The package has no such variant: on the grouped folds every one of them scored worse than the one-hot
(benchmarks/RESULTS.md, model accuracy), so it stays an experiment. `node_features(kind)` swaps
`betenet.model.graphs.node_inputs` (and the network's input width) for the duration of a `with` block in this
process only; the features are computed once per structure (0.02 s each) and cached in one .npz.

    .venv/bin/python benchmarks/model_accuracy.py ablation --members 3 --configs "chgnet atoms, batch 32, Tc weight 3"
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

KINDS = ("chgnet atoms", "chgnet atoms xz", "chgnet elements")
WIDTH = 64  # CHGNet 0.3.0's atom feature and embedding width


def _chgnet():
    from chgnet.model import CHGNet

    return CHGNet.load(model_name="0.3.0", use_device="cpu", verbose=False)


def _standardised(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return rows.mean(0), rows.std(0) + 1e-6


def atom_features(dataset, cache: Path) -> dict[str, np.ndarray]:
    """Record id → (n_atoms, 64) CHGNet atom features, standardised over all atoms of the dataset."""
    if cache.is_file():
        stored = np.load(cache)
        return {key: stored[key] for key in stored.files}
    from pymatgen.core import Structure

    model = _chgnet()
    raw = {}
    for record in dataset.records:
        prediction = model.predict_structure(Structure.from_file(dataset.structure_path(record)),
                                             return_atom_feas=True, task="e")
        raw[record.id] = np.asarray(prediction["atom_fea"], dtype=float)
    mean, std = _standardised(np.concatenate(list(raw.values())))
    features = {key: (value - mean) / std for key, value in raw.items()}
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **features)
    return features


def element_embedding() -> np.ndarray:
    """(94, 64) CHGNet element embedding, row Z − 1, standardised per column."""
    table = _chgnet().atom_embedding.embedding.weight.detach().numpy().astype(float)
    mean, std = _standardised(table)
    return (table - mean) / std


@contextlib.contextmanager
def node_features(kind: str, dataset, cache_dir: Path):
    """Inside the block, CSO graphs carry the `kind` features (graphs are looked up by their record id)."""
    import betenet.model.graphs as graphs
    import betenet.model.network as network

    if kind not in KINDS:
        raise ValueError(f"unknown node features {kind!r}; use one of {KINDS}")
    one_hot_inputs, one_hot_width = graphs.node_inputs, network.node_input_dim
    if kind == "chgnet elements":
        table = element_embedding()

        def inputs(numbers, variant, site_phdos, graph_id=""):
            rows = table[numbers - 1]
            return rows, rows

        width = WIDTH
    else:
        features = atom_features(dataset, cache_dir / "chgnet_atom_features.npz")

        def inputs(numbers, variant, site_phdos, graph_id=""):
            x, z = one_hot_inputs(numbers, variant, site_phdos, graph_id)
            extra = features[graph_id]
            return np.hstack([x, extra if kind == "chgnet atoms xz" else np.ones_like(extra)]), np.hstack([z, extra])

        width = graphs.N_ELEMENTS + WIDTH
    graphs.node_inputs, network.node_input_dim = inputs, (lambda variant: width)
    try:
        yield
    finally:
        graphs.node_inputs, network.node_input_dim = one_hot_inputs, one_hot_width
