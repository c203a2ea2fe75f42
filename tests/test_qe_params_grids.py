"""Pure parameter merge and k/q grids from a density."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from ase.build import bulk
from pymatgen.core import Lattice, Structure

from betenet.qe.grids import elph_grids, kgrid_from_density
from betenet.qe.params import deep_merge


# --------------------------------------------------------------------------------------------------
# deep_merge
# --------------------------------------------------------------------------------------------------


def test_deep_merge_layers_left_to_right_and_never_mutates():
    defaults = {"system": {"ecutwfc": 40.0, "degauss": 0.02}, "electrons": {"conv_thr": 1e-10}}
    preset = {"system": {"la2F": True}}
    user = {"system": {"degauss": 0.05}, "control": {"prefix": "al"}}
    before = copy.deepcopy((defaults, preset, user))

    merged = deep_merge(defaults, preset, user)

    assert merged == {
        "system": {"ecutwfc": 40.0, "degauss": 0.05, "la2F": True},
        "electrons": {"conv_thr": 1e-10},
        "control": {"prefix": "al"},
    }
    assert (defaults, preset, user) == before
    merged["system"]["ecutwfc"] = 1.0  # the result shares nothing with the inputs
    assert defaults["system"]["ecutwfc"] == 40.0


def test_deep_merge_none_removes_a_key_and_lists_replace_whole():
    merged = deep_merge({"a": {"b": 1, "c": [1, 2]}, "d": 3}, {"a": {"b": None, "c": [9]}, "d": None}, None)
    assert merged == {"a": {"c": [9]}}
    nested = [1, [2]]
    result = deep_merge({}, {"x": nested})
    result["x"][1].append(3)
    assert nested == [1, [2]]


def test_deep_merge_rejects_non_mappings():
    with pytest.raises(TypeError, match="mappings"):
        deep_merge({"a": 1}, [("a", 2)])


# --------------------------------------------------------------------------------------------------
# grids
# --------------------------------------------------------------------------------------------------


def _fcc_al(a_A: float = 4.05) -> Structure:
    return Structure(Lattice(a_A / 2 * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]])), ["Al"], [[0, 0, 0]])


def test_kgrid_by_hand_for_fcc():
    # fcc primitive: |b_i| = 2π·√3/a, so n = ceil(density·√3/a).
    a = 4.05
    for density in (10.0, 15.0, 40.0):
        expected = math.ceil(density * math.sqrt(3) / a)
        assert kgrid_from_density(_fcc_al(a), density) == (expected,) * 3
    assert kgrid_from_density(_fcc_al(a), 1e-3) == (1, 1, 1)  # never below one point


def test_kgrid_is_the_same_for_pymatgen_and_ase_and_follows_anisotropy():
    assert kgrid_from_density(bulk("Al", "fcc", a=4.05), 40) == kgrid_from_density(_fcc_al(4.05), 40)
    hexagonal = bulk("Mg", "hcp", a=3.2, c=5.2)
    n1, n2, n3 = kgrid_from_density(hexagonal, 30)
    assert n1 == n2 and n3 < n1  # the long c axis gets fewer points


def test_kgrid_float_noise_does_not_add_a_point():
    # density·|b|/2π = 4 up to rounding must give 4, not 5.
    cubic = Structure(Lattice.cubic(3.0), ["Po"], [[0, 0, 0]])
    assert kgrid_from_density(cubic, 12.0) == (4, 4, 4)


def test_kgrid_rejects_a_non_positive_density():
    with pytest.raises(ValueError, match="density"):
        kgrid_from_density(_fcc_al(), 0)


def test_elph_grids_k_is_a_multiple_of_q_and_not_coarser_than_asked():
    for structure in (_fcc_al(), bulk("Mg", "hcp", a=3.2, c=5.2), bulk("NaCl", "rocksalt", a=5.6)):
        for k_density, q_density in ((40, 15), (20, 10), (25, 25), (5, 12)):
            kgrid, qgrid = elph_grids(structure, k_density, q_density)
            assert qgrid == kgrid_from_density(structure, q_density)
            for k, q, k_asked in zip(kgrid, qgrid, kgrid_from_density(structure, k_density)):
                assert k % q == 0 and k >= max(k_asked, q)
    assert elph_grids(_fcc_al(4.05), 40, 15) == ((21, 21, 21), (7, 7, 7))  # 18 → next multiple of 7
