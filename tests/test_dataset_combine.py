"""Combining datasets for mixed supervision: α²F records beside moment-only ones, one grouped held-out split."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from betenet.dataset.combine import combine_datasets
from betenet.dataset.format import DatasetFormatError, DatasetRecord, write_dataset
from betenet.model.splits import chemical_system
from betenet.physics import MODEL_GRID_MEV
from betenet.screening.accuracy import holdout_dataset, holdout_split, split_names

ELEMENTS = ["Al", "Cu", "Ag", "Au", "Pd", "Pt", "Ni", "Ir", "Rh", "Pb", "Ca", "Sr"]


def _a2f_dataset(path):
    a2f = np.exp(-((MODEL_GRID_MEV - 20.0) / 5.0) ** 2)
    records = [DatasetRecord(id=f"dft-{el}", formula=el, a2f=a2f, lambda_=0.4, omega_log_K=250.0, tc_K=1.0,
                             source="betenet") for el in ELEMENTS[:6]]
    return write_dataset(path, records, {r.id: bulk(r.formula, "fcc", a=4.0) for r in records}, source="dft")


def _moment_dataset(path):
    pairs = [(a, b) for a in ELEMENTS for b in ELEMENTS if a < b][:40]
    records = [DatasetRecord(id=f"JVASP-{i}", formula=f"{a}{b}", lambda_=0.2 + 0.01 * i, omega_log_K=200.0,
                             tc_K=0.5, source="JARVIS-DFT") for i, (a, b) in enumerate(pairs)]
    structures = {}
    for record, (a, b) in zip(records, pairs):
        structures[record.id] = bulk("NaCl", "rocksalt", a=5.6)
        structures[record.id].set_chemical_symbols([a, b])
    return write_dataset(path, records, structures, source="jarvis")


def test_combined_records_keep_their_kind_and_the_split_is_grouped(tmp_path):
    dft, moments = _a2f_dataset(tmp_path / "dft"), _moment_dataset(tmp_path / "moments")
    mixed = holdout_dataset(tmp_path / "mixed", [dft, moments], seed=0)
    assert len(mixed) == len(dft) + len(moments)
    assert sum(r.a2f is not None for r in mixed.records) == len(dft)
    assert mixed.manifest.source == "dft + jarvis"
    parts = mixed.manifest.query["combined"]
    assert [p["content_hash"] for p in parts] == [dft.content_hash, moments.content_hash]
    # the same split as the protocol computes on the rows, and no chemical system on both sides
    records = list(mixed.records)
    assert [r.split for r in records] == split_names(holdout_split(records, seed=0), len(records))
    sides = {name: {chemical_system(r.formula) for r in records if r.split == name} for name in ("train", "test")}
    assert sides["test"] and not sides["train"] & sides["test"]


def test_duplicate_ids_across_datasets_are_refused(tmp_path):
    dft = _a2f_dataset(tmp_path / "dft")
    with pytest.raises(DatasetFormatError, match="distinct ids"):
        combine_datasets(tmp_path / "twice", [dft, dft])
    assert not (tmp_path / "twice").exists()
