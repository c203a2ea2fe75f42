"""epw.x input writer and the k/q lists of the EPW route (pure functions, no QE run)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from betenet.qe.epw import (
    epw_parameters,
    full_grid_crystal,
    irreducible_grid_crystal,
    qpoints_file_text,
    write_epw_input,
)
from betenet.qe.structure import atomic_mass_amu
from tests.test_workflow_handlers import fcc_al

GRIDS = dict(coarse_kgrid=(6, 6, 6), coarse_qgrid=(3, 3, 3), fine_kgrid=(12, 12, 12))


def variables(text: str) -> dict[str, str]:
    """name → value text of every `name = value` line."""
    return dict(re.findall(r"^\s+(\S+) = (.+)$", text, re.MULTILINE))


def write(parameters=None, **kwargs) -> str:
    params = epw_parameters("write", {"nbndsub": 9}, parameters)
    args = {**GRIDS, "fine_qpoints_file": "fine_q.txt", "projections": ["Al:s;p;d"], **kwargs}
    return write_epw_input(fcc_al(), params, **args)


def test_first_run_input_has_the_physics_and_the_grids():
    text = write({"degaussw": 0.068, "nsmear": 10})
    assert text.startswith("--\n&inputepw\n") and text.rstrip().endswith("/")
    v = variables(text)
    # double-delta Gaussian linewidths as ph.x, α²F, Wannierisation written for restarts
    for flag in ("elph", "phonselfen", "a2f", "delta_approx", "wannierize", "epwwrite"):
        assert v[flag] == ".true."
    assert v["epwread"] == ".false." and v["ngaussw"] == "0" and v["vme"] == ".false."
    assert v["outdir"] == "'./out/'" and v["dvscf_dir"] == "'./save'"
    assert (v["nk1"], v["nq2"], v["nkf3"]) == ("6", "3", "12") and v["filqf"] == "'fine_q.txt'"
    assert "nqf1" not in v
    assert float(v["amass(1)"]) == pytest.approx(atomic_mass_amu("Al"))
    assert v["proj(1)"] == "'Al:s;p;d'" and v["wdata(1)"] == "'write_hr = .true.'"
    assert v["nbndsub"] == "9" and v["degaussw"] == "0.068" and v["nsmear"] == "10"


def test_restart_input_reads_the_wannier_representation():
    params = epw_parameters("restart", {"nbndsub": 9})
    text = write_epw_input(fcc_al(), params, **GRIDS, fine_qgrid=(6, 6, 6))
    v = variables(text)
    assert (v["epwread"], v["epwwrite"], v["wannierize"], v["kmaps"]) == (".true.", ".false.", ".false.", ".true.")
    assert "proj(1)" not in v and (v["nqf1"], v["nqf3"]) == ("6", "6") and "filqf" not in v


def test_extra_wannier90_lines_follow_write_hr():
    v = variables(write(wannier90_lines=["dis_num_iter = 1000"]))
    assert v["wdata(1)"] == "'write_hr = .true.'" and v["wdata(3)"] == "'dis_num_iter = 1000'"


def test_two_species_get_masses_in_species_order():
    structure = Structure(Lattice.cubic(2.87), ["Mg", "B"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    v = variables(write_epw_input(structure, epw_parameters("write", {"nbndsub": 4}), **GRIDS,
                                  fine_qgrid=(6, 6, 6), projections=["Mg:s", "B:p"]))
    assert float(v["amass(1)"]) == pytest.approx(atomic_mass_amu("Mg"))
    assert float(v["amass(2)"]) == pytest.approx(atomic_mass_amu("B"))
    assert (v["proj(1)"], v["proj(2)"]) == ("'Mg:s'", "'B:p'")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"parameters": {"nk1": 4}}, "set by write_epw_input"),
        ({"coarse_kgrid": (8, 8, 8)}, "multiple of coarse_qgrid"),
        ({"coarse_kgrid": (6, 6)}, "three positive integers"),
        ({"fine_qgrid": (6, 6, 6)}, "exactly one of fine_qgrid"),
        ({"parameters": {"epwread": True}}, "set wannierize=.false."),
        ({"parameters": {"phonselfen": False}}, "a2f=.true. needs phonselfen"),
        ({"projections": []}, "needs projections"),
        ({"parameters": {"scdm_proj": True}}, "not both"),
    ],
)
def test_inconsistent_inputs_are_refused_with_the_fix(change, message):
    parameters = change.pop("parameters", None)
    with pytest.raises(ValueError, match=message):
        write(parameters, **change)


def test_restart_without_kmaps_and_missing_nbndsub_are_refused():
    with pytest.raises(ValueError, match="needs kmaps"):
        write_epw_input(fcc_al(), epw_parameters("restart", {"nbndsub": 9, "kmaps": False}), **GRIDS, fine_qgrid=(6,) * 3)
    with pytest.raises(ValueError, match="nbndsub"):
        write_epw_input(fcc_al(), epw_parameters("write"), **GRIDS, fine_qgrid=(6,) * 3, projections=["Al:s"])
    with pytest.raises(ValueError, match="Invalid preset"):
        epw_parameters("rerun")


def test_full_grid_is_every_point_with_k3_fastest():
    points = full_grid_crystal((2, 3, 4))
    assert points.shape == (24, 4) and np.isclose(points[:, 3].sum(), 1.0)
    assert np.allclose(points[:4, :3], [[0, 0, 0], [0, 0, 0.25], [0, 0, 0.5], [0, 0, 0.75]])
    assert len({tuple(p) for p in np.round(points[:, :3], 8)}) == 24


def test_irreducible_fcc_grids_have_the_textbook_counts_and_weights():
    al = fcc_al()
    for n, count in ((4, 8), (6, 16), (8, 29)):
        points = irreducible_grid_crystal(al, (n, n, n))
        assert len(points) == count and np.isclose(points[:, 3].sum(), 1.0)
        assert np.allclose(points[0], [0, 0, 0, 1 / n**3])  # Γ alone in its star
    shifted = irreducible_grid_crystal(al, (6, 6, 6), half_shift=True)
    assert np.isclose(shifted[:, 3].sum(), 1.0)
    assert np.all(np.abs(np.round(shifted[:, :3] * 12) % 2) == 1)  # every coordinate an odd multiple of 1/12


def test_triclinic_grid_keeps_only_time_reversal_pairs():
    cell = Structure(Lattice.from_parameters(3.1, 3.7, 4.3, 81, 97, 103), ["Si", "Si"], [[0, 0, 0], [0.21, 0.33, 0.4]])
    points = irreducible_grid_crystal(cell, (4, 4, 4))
    assert np.isclose(points[:, 3].sum(), 1.0)
    assert len(points) == 36  # 8 time-reversal-invariant points + 56/2 pairs


def test_qpoints_file_lists_points_with_weights():
    points = irreducible_grid_crystal(fcc_al(), (4, 4, 4))
    lines = qpoints_file_text(points).splitlines()
    assert lines[0] == "8 crystal" and len(lines) == 9
    assert np.allclose(np.loadtxt(lines[1:]), points, atol=1e-10)
    with pytest.raises(ValueError, match="weights sum"):
        qpoints_file_text(np.array([[0, 0, 0, 0.5]]))
    with pytest.raises(ValueError, match="shape"):
        qpoints_file_text(np.zeros((2, 3)))
