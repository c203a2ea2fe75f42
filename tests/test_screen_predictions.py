"""Member spectra → predictions (moments of the mean, spread over members), ranking, outputs; and
the inputs a screening reads (files, folders) with every unusable one rejected with a reason."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import write

from betenet.physics import MODEL_GRID_MEV, allen_dynes_tc, model_grid_moments
from betenet.screening.inputs import Candidate, read_structure_files
from betenet.screening.predictions import rank_by_tc, summarise, write_csv, write_json


def _gauss(center_meV, height):
    return height * np.exp(-((MODEL_GRID_MEV - center_meV) / 4.0) ** 2)


def _candidates(*names):
    return [Candidate(id=n, atoms=bulk("Al", "fcc", a=4.05), source=f"{n}.cif") for n in names]


def test_moments_of_the_mean_and_spread_over_members():
    base = _gauss(20.0, 0.5)
    members = np.stack([[0.8 * base], [1.2 * base]])  # (2 members, 1 structure, 51)
    (p,) = summarise(members, _candidates("al"), mu_star=0.1)
    exact = model_grid_moments(base)
    assert p.values["lambda"] == pytest.approx(exact.lambda_)
    assert p.values["omega_log_K"] == pytest.approx(exact.omega_log_K)
    assert p.values["tc_K"] == pytest.approx(allen_dynes_tc(exact.lambda_, exact.omega_log_K, exact.omega_2_K, 0.1))
    assert p.spread["lambda"] == pytest.approx(0.2 * exact.lambda_)  # std of 0.8λ and 1.2λ
    assert p.spread["omega_log_K"] == pytest.approx(0.0, abs=1e-9)  # scaling α²F leaves ω_log alone
    assert p.spread["tc_K"] > 0
    assert np.allclose(p.a2f_std, 0.2 * base)
    assert p.n_members == 2 and p.formula == "Al"


def test_empty_spectrum_has_no_frequencies_and_zero_tc():
    members = np.zeros((3, 1, 51))
    (p,) = summarise(members, _candidates("dead"))
    assert p.values == {"lambda": 0.0, "omega_log_K": None, "omega_2_K": None, "tc_K": 0.0}
    assert p.spread["omega_log_K"] is None
    with pytest.raises(ValueError, match="expected \\(members, 1, 51\\)"):
        summarise(np.zeros((3, 2, 51)), _candidates("dead"))


def test_ranking_and_files(tmp_path):
    members = np.stack([[_gauss(20, 0.3), _gauss(12, 1.0), _gauss(30, 0.05)]] * 2)
    ranked = rank_by_tc(summarise(members, _candidates("weak", "strong", "none")))
    assert [p.id for p in ranked] == ["strong", "weak", "none"]
    write_csv(ranked, tmp_path / "p.csv")
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert [r["id"] for r in rows] == ["strong", "weak", "none"] and rows[0]["rank"] == "1"
    assert float(rows[0]["tc_K"]) == pytest.approx(ranked[0].values["tc_K"], rel=1e-5)
    write_json(ranked, tmp_path / "p.json", meta={"variant": "CSO"})
    saved = json.loads((tmp_path / "p.json").read_text())
    assert saved["variant"] == "CSO" and len(saved["predictions"][0]["a2f_mean"]) == 51


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
