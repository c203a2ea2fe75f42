"""pw.x must see the full point group of the cell the workflow hands it (real pw.x runs)."""

import re
import subprocess

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from betenet.qe.pseudo import PseudoFamily
from betenet.qe.pw import pw_parameters, write_pw_input
from betenet.qe.structure import qe_symmetric_cell
from conftest import DEBIAN_PSEUDO_DIR, require_qe


def pw_symmetry_count(structure, tmp_path) -> int:
    """Number of symmetry operations pw.x reports for `structure` (a zero-step scf)."""
    family = PseudoFamily(DEBIAN_PSEUDO_DIR)
    params = pw_parameters("scf", {"system": {"ecutwfc": 8.0, "ecutrho": 32.0}, "electrons": {"electron_maxstep": 0}})
    (tmp_path / "pw.in").write_text(
        write_pw_input(structure, params, pseudos=family.for_elements(sorted(structure.symbol_set)), kpoints=(1, 1, 1))
    )
    out = subprocess.run(["pw.x", "-in", "pw.in"], cwd=tmp_path, capture_output=True, text=True).stdout
    match = re.search(r"(\d+) Sym\. Ops\.", out)
    assert match, f"pw.x printed no symmetry line:\n{out[-2000:]}"
    return int(match.group(1))


def rotated(structure: Structure, seed: int) -> Structure:
    """The same crystal with its lattice rotated arbitrarily in Cartesian space."""
    angles = np.random.default_rng(seed).uniform(0, 2 * np.pi, 3)
    c, s = np.cos(angles), np.sin(angles)
    rx = np.array([[1, 0, 0], [0, c[0], -s[0]], [0, s[0], c[0]]])
    ry = np.array([[c[1], 0, s[1]], [0, 1, 0], [-s[1], 0, c[1]]])
    rz = np.array([[c[2], -s[2], 0], [s[2], c[2], 0], [0, 0, 1]])
    lattice = structure.lattice.matrix @ (rz @ ry @ rx).T
    return Structure(Lattice(lattice), structure.species, structure.frac_coords)


@pytest.mark.qe
@pytest.mark.parametrize(
    "structure",
    [
        Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.05), ["Al"], [[0, 0, 0]]).get_primitive_structure(),
        Structure.from_spacegroup("P6_3/mmc", Lattice.hexagonal(3.21, 5.21), ["Mg"], [[1 / 3, 2 / 3, 0.25]]),
        Structure.from_spacegroup("R-3m", Lattice.hexagonal(4.3, 11.2), ["Al"], [[0, 0, 0.233]]).get_primitive_structure(),
    ],
    ids=["fcc", "hcp", "rhombohedral"],
)
def test_pw_finds_the_full_point_group_after_alignment(structure, tmp_path):
    require_qe("pw.x")
    expected = len(SpacegroupAnalyzer(structure).get_point_group_operations())
    turned = rotated(structure, seed=3)
    aligned = qe_symmetric_cell(turned)
    assert len(aligned) == len(structure)
    assert aligned.volume == pytest.approx(structure.volume, rel=1e-6)
    assert pw_symmetry_count(aligned, tmp_path) == expected
    # the arbitrary orientation is what loses symmetry in pw.x (the reason for the alignment)
    assert pw_symmetry_count(turned, tmp_path) < expected
