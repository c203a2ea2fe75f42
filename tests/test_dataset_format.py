"""The dataset directory format: round trip, plain-JSON readability, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk

from betenet.dataset.format import (
    DatasetFormatError,
    DatasetRecord,
    read_dataset,
    write_dataset,
)
from betenet.physics import MODEL_GRID_MEV


def _records():
    a2f = np.exp(-((MODEL_GRID_MEV - 20.0) / 5.0) ** 2)
    return [
        DatasetRecord(id="Al-fcc", formula="Al", a2f=a2f, cpd=[a2f], lambda_=0.4, omega_log_K=300.0,
                      split="train", source="unit test"),
        DatasetRecord(id="NaCl/rs", formula="NaCl", lambda_=0.1, tc_K=0.0, split="val",
                      extra={"jid": "X-1"}),
    ]


def _structures():
    return {"Al-fcc": bulk("Al", "fcc", a=4.05), "NaCl/rs": bulk("NaCl", "rocksalt", a=5.64)}


def test_round_trip_and_plain_json(tmp_path):
    out = tmp_path / "ds"
    dataset = write_dataset(out, _records(), _structures(), source="unit test", query={"q": 1})
    assert len(dataset) == 2
    assert dataset.manifest.counts["with_a2f"] == 1
    assert dataset.manifest.counts["splits"]["val"] == 1
    al, nacl = dataset.records
    assert np.allclose(al.a2f, _records()[0].a2f)
    assert nacl.extra == {"jid": "X-1"}
    assert nacl.structure_file == "structures/NaCl_rs.cif"  # id made file-safe
    atoms = dataset.read_structure(nacl)
    assert atoms.get_chemical_formula() == "ClNa"
    assert np.allclose(atoms.cell.cellpar(), _structures()["NaCl/rs"].cell.cellpar())  # CIF keeps lengths+angles
    # readable without betenet: plain JSON lines with the agreed field names
    first = json.loads((out / "records.jsonl").read_text().splitlines()[0])
    assert {"id", "formula", "structure_file", "a2f", "cpd", "fpd", "lambda", "omega_log_K",
            "omega_2_K", "tc_K", "split", "source"} <= set(first)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["content_hash"].startswith("sha256:") and len(manifest["grid_meV"]) == 51


def test_edit_after_writing_is_detected(tmp_path):
    out = tmp_path / "ds"
    write_dataset(out, _records(), _structures(), source="t")
    text = (out / "records.jsonl").read_text().replace('"lambda":0.4', '"lambda":0.5')
    (out / "records.jsonl").write_text(text)
    with pytest.raises(DatasetFormatError, match="content_hash mismatch"):
        read_dataset(out)
    assert read_dataset(out, verify_hash=False).records[0].lambda_ == 0.5


def test_existing_dataset_is_not_overwritten(tmp_path):
    out = tmp_path / "ds"
    first = write_dataset(out, _records(), _structures(), source="first")
    with pytest.raises(FileExistsError):
        write_dataset(out, _records()[:1], _structures(), source="second")
    assert read_dataset(out).content_hash == first.content_hash
    # a failing rewrite leaves the old dataset in place
    bad = [DatasetRecord(id="Al-fcc", formula="Al", cpd=[[0.0] * 51] * 3)]
    with pytest.raises(DatasetFormatError, match="3 rows but the structure has 1 atoms"):
        write_dataset(out, bad, _structures(), source="bad", overwrite=True)
    assert read_dataset(out).content_hash == first.content_hash
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # no staging leftovers


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"a2f": [0.0] * 50}, "has 50 values; the model grid has 51 bins"),
        ({"a2f": [float("nan")] * 51}, "NaN"),
        ({"lambda_": float("inf")}, "'lambda' must be a finite number"),
        ({"split": "training"}, "'split' must be one of"),
        ({"id": ""}, "'id' must be a non-empty string"),
    ],
)
def test_bad_records_name_the_field(kwargs, message):
    with pytest.raises(DatasetFormatError, match=message):
        DatasetRecord(**{"id": "x", "formula": "Al", **kwargs})


def test_bad_line_names_file_and_line(tmp_path):
    out = tmp_path / "ds"
    write_dataset(out, _records(), _structures(), source="t")
    lines = (out / "records.jsonl").read_text().splitlines()
    lines[1] = lines[1].replace('"split":"val"', '"split":"nope"')
    (out / "records.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetFormatError, match=r"records.jsonl line 2: .*'split'"):
        read_dataset(out, verify_hash=False)
    with pytest.raises(DatasetFormatError, match="manifest.json is missing"):
        read_dataset(tmp_path)


def test_jarvis_import_keeps_every_row_and_flags_unusual_labels(tmp_path, shared_dir):
    from betenet.dataset.jarvis import import_jarvis

    dataset = import_jarvis(shared_dir / "data/jarvis_supercon/jarvis_supercon.jsonl", tmp_path / "jarvis")
    counts = dataset.manifest.counts
    assert counts["records"] == 924 and counts["with_a2f"] == 0
    assert counts["splits"] == {"train": 499, "val": 27, "test": 0, "null": 398}
    flags = {r.id: r.extra["label_flags"] for r in dataset.records if r.extra["label_flags"]}
    assert flags["JVASP-14968"] == ["lambda<=0"]  # Si4Ti2, λ = -0.0471: kept as given
    assert sum(f == ["lambda>4"] for f in flags.values()) == 39
    record = next(r for r in dataset.records if r.id == "JVASP-14968")
    assert record.lambda_ == -0.0471 and record.omega_log_K == 0.0
    atoms = dataset.read_structure(record)
    assert sorted(atoms.get_chemical_symbols()) == ["Si"] * 4 + ["Ti"] * 2
