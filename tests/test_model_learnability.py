"""Training learns: on a synthetic set whose α²F follows a known rule of the structure, a small ensemble's
error on held-out structures ends far below that of the best constant predictor, within a small budget.

The rule: an element-specific Gaussian α²F whose centre stiffens as the cell is compressed
(centre ∝ scale⁻³, scale = lattice constant / its reference). Six metals, eight scales each; the
structures at two of the eight scales of every element are held out, so the network must interpolate
in the interatomic distances, not recall a training row. A broken optimiser, a zero learning rate or a
loss that ignores the spectrum leaves the error at or above the constant predictor's, and this test fails.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk

from betenet import physics
from betenet.dataset.format import DatasetRecord
from betenet.model.ensemble_training import train_ensemble
from betenet.model.graphs import build_graph
from betenet.model.loss import FIRST_BIN, Targets
from betenet.model.network import NetworkConfig
from betenet.model.training import TrainingConfig
from betenet.model.training_set import TrainingSet

# element → (lattice, reference lattice constant Å, α²F amplitude, α²F centre meV at the reference)
RULE = {"Al": ("fcc", 4.05, 0.30, 25.0), "Cu": ("fcc", 3.61, 0.15, 20.0), "Nb": ("bcc", 3.30, 0.50, 15.0),
        "V": ("bcc", 3.03, 0.40, 22.0), "Pd": ("fcc", 3.89, 0.20, 12.0), "Mo": ("bcc", 3.15, 0.25, 28.0)}
SCALES = np.linspace(0.92, 1.08, 8)
HELD_OUT_SCALES = (2, 6)
EPOCHS = 60
LEARNING_RATE = 0.02


def synthetic_a2f(element: str, scale: float) -> np.ndarray:
    _, _, amplitude, centre_meV = RULE[element]
    return amplitude * np.exp(-((physics.MODEL_GRID_MEV - centre_meV * scale**-3) / 5.0) ** 2)


def synthetic_set():
    graphs, spectra, held_out = [], [], []
    for element, (lattice, a, _, _) in RULE.items():
        for k, scale in enumerate(SCALES):
            graphs.append(build_graph(bulk(element, lattice, a=a * scale), f"{element}-{k}"))
            spectra.append(synthetic_a2f(element, scale))
            held_out.append(k in HELD_OUT_SCALES)
    return graphs, np.array(spectra), np.array(held_out)


@pytest.fixture(scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_ensemble_learns_a_known_structure_to_a2f_rule(tmp_path, one_thread):
    graphs, spectra, held_out = synthetic_set()
    train, test = np.flatnonzero(~held_out), np.flatnonzero(held_out)
    records = [DatasetRecord(id=graphs[i].id, formula=graphs[i].id.split("-")[0], a2f=spectra[i]) for i in train]
    data = TrainingSet([graphs[i] for i in train], Targets.from_records(records, torch.float64))
    training = TrainingConfig(lr=LEARNING_RATE, max_epochs=EPOCHS, patience_descent=EPOCHS, patience_hump=EPOCHS,
                              patience_second=EPOCHS)
    ensemble = train_ensemble(tmp_path / "ensemble", data, network=NetworkConfig(variant="CSO", em_dim=16, mul=8,
                              radial_neurons=16), training=training, n_members=2, seed=0, workers=1, progress=False)
    prediction = ensemble.predict([graphs[i] for i in test])

    constant = spectra[train].mean(axis=0)  # the best constant spectrum in the least-squares sense
    model_error = np.mean((prediction.a2f - spectra[test]) ** 2)
    constant_error = np.mean((constant - spectra[test]) ** 2)
    assert model_error < 0.35 * constant_error, (model_error, constant_error)

    # and the moments follow: λ of the held-out structures much closer than the constant's
    lam_true = physics.lambda_from_a2f(physics.MODEL_GRID_MEV, spectra[test], first_bin=FIRST_BIN)
    lam_constant = physics.lambda_from_a2f(physics.MODEL_GRID_MEV, constant, first_bin=FIRST_BIN)
    assert np.mean(np.abs(prediction.lambda_ - lam_true)) < 0.5 * np.mean(np.abs(lam_constant - lam_true))
