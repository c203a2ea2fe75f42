"""The ensemble's prediction → ranked rows and files; and the inputs a screening reads (files,
folders) with every unusable one rejected with a reason."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import write

from betenet.physics import MODEL_GRID_MEV
from betenet.screening.inputs import Candidate, read_structure_files
from betenet.screening.predictions import from_model, rank_by_tc, write_csv, write_json


def _candidates(*names):
    return [Candidate(id=n, atoms=bulk("Al", "fcc", a=4.05), source=f"{n}.cif",
                      labels={"lambda": 0.5} if n == "strong" else None) for n in names]


def _model_prediction(ids, tc, tc_std):
    """What `Ensemble.predict` returns (model engineer's dataclass), with chosen numbers."""
    from betenet.model.ensemble import Prediction as ModelPrediction

    n = len(ids)
    a2f = np.tile(np.exp(-((MODEL_GRID_MEV - 20.0) / 4.0) ** 2), (n, 1))
    values = np.linspace(0.2, 0.6, n)
    nan_where_tc_nan = np.where(np.isnan(tc), np.nan, 1.0)
    return ModelPrediction(
        ids=list(ids), omega_meV=MODEL_GRID_MEV.copy(), a2f=a2f, a2f_std=0.1 * a2f, lambda_=values,
        omega_log_K=200.0 * nan_where_tc_nan, omega_2_K=220.0 * nan_where_tc_nan, tc_K=np.asarray(tc, dtype=float),
        lambda_std=0.1 * values, omega_log_K_std=np.full(n, 5.0), omega_2_K_std=np.full(n, 6.0),
        tc_K_std=np.asarray(tc_std, dtype=float), n_members=4, mu_star=0.1,
        tc_eliashberg_K=np.asarray(tc, dtype=float), tc_eliashberg_K_std=np.full(n, np.nan),
        tc_eliashberg_below_K=np.full(n, np.nan), tc_eliashberg_reason=(None,) * n, member_a2f=a2f[None],
    )


def test_rows_from_the_model_prediction_ranked_by_tc(tmp_path):
    candidates = _candidates("weak", "strong", "none", "tie")
    model = _model_prediction([c.id for c in candidates], tc=[1.0, 9.0, np.nan, 1.0], tc_std=[0.5, 2.0, np.nan, 0.2])
    rows = from_model(model, candidates)
    assert rows[0].values["lambda"] == pytest.approx(0.2) and rows[0].spread["lambda"] == pytest.approx(0.02)
    # undefined numbers (λ = 0 → no ω_log, no Tc) are null, never a placeholder
    assert rows[2].values["tc_K"] is None and rows[2].values["omega_log_K"] is None
    assert rows[1].labels == {"lambda": 0.5} and rows[1].n_members == 4 and rows[1].formula == "Al"
    ranked = rank_by_tc(rows)
    # highest Tc first; equal Tc: the smaller spread first; undefined Tc last
    assert [p.id for p in ranked] == ["strong", "tie", "weak", "none"]
    write_csv(ranked, tmp_path / "p.csv")
    table = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert [r["id"] for r in table] == ["strong", "tie", "weak", "none"] and table[0]["rank"] == "1"
    assert float(table[0]["tc_K"]) == pytest.approx(9.0) and table[3]["tc_K"] == ""
    write_json(ranked, tmp_path / "p.json", meta={"variant": "CSO"})
    saved = json.loads((tmp_path / "p.json").read_text())
    assert saved["variant"] == "CSO" and len(saved["predictions"][0]["a2f_mean"]) == 51
    assert saved["predictions"][0]["dft"] == {"lambda": 0.5}
    with pytest.raises(ValueError, match="not in the order"):
        from_model(model, candidates[::-1])


def test_inputs_report_every_unusable_file(tmp_path):
    folder = tmp_path / "structures"
    folder.mkdir()
    write(folder / "2.cif", bulk("Al", "fcc", a=4.05))
    write(folder / "10.cif", bulk("NaCl", "rocksalt", a=5.64))
    (folder / "broken.cif").write_text("data_broken\n_cell_length_a 4.0\nnot a cif at all\n")
    write(folder / "molecule.xyz", Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]))
    (folder / "notes.txt").write_text("ignored: not a structure file name")
    empty = tmp_path / "empty"
    empty.mkdir()
    candidates, rejected = read_structure_files([folder, empty, tmp_path / "absent.cif"])
    assert [c.id for c in candidates] == ["2", "10"]  # natural order of numbered files
    assert candidates[1].formula == "ClNa"
    reasons = {r.id: r.reason for r in rejected}
    assert set(reasons) == {"broken", "molecule", str(empty), str(tmp_path / "absent.cif")}
    assert reasons["broken"].startswith("cannot read the structure")
    assert "not a periodic 3-D crystal" in reasons["molecule"]
    assert "no structure files" in reasons[str(empty)] and "no such file" in reasons[str(tmp_path / "absent.cif")]
