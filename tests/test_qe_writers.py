"""Input writers as text: structure/k-point cards, namelists, validation, and the recorded fixtures.

Whether QE accepts these inputs is tested by real runs in test_qe_real_runs.py / test_qe_al_chain.py.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from ase.build import bulk
from pymatgen.core import Lattice, Structure

from betenet.qe.lambda_x import lambda_input_from_ph, star_sizes, write_lambda_input
from betenet.qe.matdyn import write_matdyn_input
from betenet.qe.namelist import format_namelist, fortran_value
from betenet.qe.ph import ph_parameters, write_ph_input
from betenet.qe.pseudo import PseudoFamily
from betenet.qe.pw import pw_parameters, write_pw_input
from betenet.qe.q2r import write_q2r_input
from tests.al_chain import al_structure, chain_inputs

DEBIAN = "/usr/share/espresso/pseudo"


def _pseudos():
    return PseudoFamily(DEBIAN, filenames={"Al": "Al.pz-vbc.UPF", "As": "As.pz-bhs.UPF"})


def test_fortran_values_and_arrays():
    assert [fortran_value(v) for v in (True, False, 3, 0.05, 1e-10, "mv", np.float64(2.5))] == [
        ".true.", ".false.", "3", "0.05", "1d-10", "'mv'", "2.5",
    ]
    text = format_namelist("inputph", {"alpha_mix": {1: 0.3}, "amass": [26.98, 1.008], "tr2_ph": 1e-14})
    assert "alpha_mix(1) = 0.3" in text and "amass(2) = 1.008" in text and "tr2_ph = 1d-14" in text
    with pytest.raises(ValueError, match="non-finite"):
        fortran_value(float("nan"))
    with pytest.raises(ValueError, match="invalid namelist variable"):
        format_namelist("system", {"bad name": 1})


def test_pw_cell_species_and_automatic_kpoints_from_pymatgen_and_ase_agree():
    structure = al_structure()
    atoms = structure.to_ase_atoms() if hasattr(structure, "to_ase_atoms") else None
    parameters = pw_parameters("scf", {"system": {"ecutwfc": 15.0, "la2F": True}})
    text = write_pw_input(structure, parameters, pseudos=_pseudos(), kpoints=(8, 8, 8), kshift=(1, 1, 1))
    assert "ibrav = 0" in text and "nat = 1" in text and "ntyp = 1" in text and "la2F = .true." in text
    assert f"pseudo_dir = '{DEBIAN}'" in text
    assert re.search(r"ATOMIC_SPECIES\n  Al 26\.98\d+ Al\.pz-vbc\.UPF\n", text)
    assert "CELL_PARAMETERS angstrom\n  -1.9844145409 0.0000000000 1.9844145409" in text
    assert text.endswith("K_POINTS automatic\n  8 8 8 1 1 1\n")
    if atoms is not None:
        from_ase = write_pw_input(atoms, parameters, pseudos=_pseudos(), kpoints=(8, 8, 8), kshift=(1, 1, 1))
        assert from_ase == text


def test_pw_two_species_positions_in_crystal_coordinates():
    gaas = bulk("AlAs", "zincblende", a=5.66)
    text = write_pw_input(gaas, pw_parameters("scf"), pseudos=_pseudos(), kpoints=(4, 4, 4))
    assert "ntyp = 2" in text and "nat = 2" in text
    assert "  Al 0.0000000000 0.0000000000 0.0000000000\n  As 0.2500000000 0.2500000000 0.2500000000\n" in text


def test_pw_nscf_explicit_kpoint_list_without_symmetry():
    kpoints = np.array([[0, 0, 0], [0.5, 0, 0], [0.5, 0.5, 0]])
    text = write_pw_input(al_structure(), pw_parameters("nscf"), pseudos=_pseudos(), kpoints=kpoints)
    assert "calculation = 'nscf'" in text and "nosym = .true." in text and "noinv = .true." in text
    assert text.endswith(
        "K_POINTS crystal\n  3\n  0.0000000000 0.0000000000 0.0000000000 1.00000000\n"
        "  0.5000000000 0.0000000000 0.0000000000 1.00000000\n"
        "  0.5000000000 0.5000000000 0.0000000000 1.00000000\n"
    )


def test_pw_vc_relax_writes_ions_and_cell_namelists_in_order():
    text = write_pw_input(al_structure(), pw_parameters("vc-relax"), pseudos=_pseudos(), kpoints=(4, 4, 4))
    order = [text.index(f"&{name}") for name in ("control", "system", "electrons", "ions", "cell")]
    assert order == sorted(order) and "cell_dynamics = 'bfgs'" in text


@pytest.mark.parametrize(
    "parameters, kpoints, message",
    [
        ({"system": {"ibrav": 2}}, (4, 4, 4), "set by write_pw_input"),
        ({"control": {"calculation": "md5"}}, (4, 4, 4), "Invalid calculation='md5'"),
        ({"cell": {"cell_dynamics": "bfgs"}}, (4, 4, 4), "does not read it"),
        ({"sytem": {}}, (4, 4, 4), "unknown pw.x namelist"),
        ({}, (4, 4), "three positive integers"),
        ({}, (4, 0, 4), "three positive integers"),
        ({}, np.zeros((2, 5)), "shape"),
    ],
)
def test_pw_rejects_bad_input(parameters, kpoints, message):
    with pytest.raises(ValueError, match=message):
        write_pw_input(al_structure(), parameters, pseudos=_pseudos(), kpoints=kpoints)


def test_pw_presets_are_validated_and_not_shared():
    with pytest.raises(ValueError, match=r"Invalid preset='relaxx', use one of \('scf', 'nscf', 'vc-relax'\)"):
        pw_parameters("relaxx")
    first = pw_parameters("scf")
    first["system"]["degauss"] = 1.0
    assert pw_parameters("scf")["system"]["degauss"] == 0.02


def test_pw_needs_a_pseudo_for_every_species():
    with pytest.raises(ValueError, match=r"no pseudopotential given for \['As'\]"):
        write_pw_input(bulk("AlAs", "zincblende", a=5.66), {}, pseudos={"Al": _pseudos().lookup("Al")}, kpoints=(2, 2, 2))


def test_ph_grid_single_q_and_validation():
    text = write_ph_input(ph_parameters("elph", {"recover": True, "start_q": 2, "last_q": 3}), qgrid=(4, 4, 4))
    assert text.startswith("phonons by betenet\n&inputph\n")
    for line in ("electron_phonon = 'interpolated'", "el_ph_nsigma = 30", "ldisp = .true.", "nq3 = 4",
                 "recover = .true.", "start_q = 2", "fildvscf = 'dvscf'"):
        assert line in text
    single = write_ph_input(ph_parameters("phonons"), qpoint=(0, 0, 0.5))
    assert "ldisp = .false." in single and single.endswith("/\n  0.0000000000 0.0000000000 0.5000000000\n")
    with pytest.raises(ValueError, match="exactly one"):
        write_ph_input({}, qgrid=(2, 2, 2), qpoint=(0, 0, 0))
    with pytest.raises(ValueError, match="set by write_ph_input"):
        write_ph_input({"nq1": 2}, qgrid=(2, 2, 2))
    with pytest.raises(ValueError, match="el_ph_nsigma=60"):
        write_ph_input({"el_ph_nsigma": 60}, qgrid=(2, 2, 2))


def test_q2r_and_matdyn_modes():
    q2r = write_q2r_input({"la2F": True, "zasr": "simple"})
    assert q2r == "&input\n  fildyn = 'dyn'\n  flfrc = 'force_constants.fc'\n  zasr = 'simple'\n  la2F = .true.\n/\n"
    with pytest.raises(ValueError, match="Invalid zasr"):
        write_q2r_input({"zasr": "cristal"})

    dos = write_matdyn_input({"la2F": True, "ndos": 100}, dos_grid=(10, 10, 10))
    assert "dos = .true." in dos and "nk2 = 10" in dos and "fldos = 'phonon.dos'" in dos
    path = write_matdyn_input(qpoints=[[0, 0, 0], [0.5, 0, 0.5]], points_per_segment=[20, 1])
    assert "q_in_band_form = .true." in path and path.endswith("/\n  2\n  0.0000000000 0.0000000000 0.0000000000 20\n"
                                                               "  0.5000000000 0.0000000000 0.5000000000 1\n")
    with pytest.raises(ValueError, match="exactly one"):
        write_matdyn_input()
    with pytest.raises(ValueError, match="ndos or deltaE"):
        write_matdyn_input({"ndos": 50, "deltaE": 1.0}, dos_grid=(4, 4, 4))
    with pytest.raises(ValueError, match="set by write_matdyn_input"):
        write_matdyn_input({"dos": True}, dos_grid=(4, 4, 4))


def test_lambda_x_input_format_and_limits():
    text = write_lambda_input([[0, 0, 0], [0.5, 0.5, 0.5]], [1, 4], ["a.1", "a.2"], emax_THz=10, mu_star=0.12)
    assert text.splitlines() == [
        "10.000000 0.120000 0", "2",
        "0.0000000000 0.0000000000 0.0000000000 1.000000",
        "0.5000000000 0.5000000000 0.5000000000 4.000000",
        "a.1", "a.2", "0.120000",
    ]
    with pytest.raises(ValueError, match="one elph file per q-point"):
        write_lambda_input([[0, 0, 0]], [1], [], emax_THz=10)
    with pytest.raises(ValueError, match="80 characters"):
        write_lambda_input([[0, 0, 0]], [1], ["x" * 81], emax_THz=10)
    with pytest.raises(ValueError, match="positive weights"):
        write_lambda_input([[0, 0, 0]], [0], ["f"], emax_THz=10)


def test_star_sizes_reproduce_qe_example03_weights():
    # QE PHonon example03 (fcc Al, ibrav=2, alat = a): q-points and weights of its lambda.in.
    a_A = 7.5 * 0.529177210903
    structure = Structure(Lattice(a_A / 2 * np.array([[-1, 0, 1], [0, 1, 1], [-1, 1, 0]])), ["Al"], [[0, 0, 0]])
    q = [[0, 0, 0], [-0.25, 0.25, -0.25], [0.5, -0.5, 0.5], [0, 0.5, 0], [0.75, -0.25, 0.75], [0.5, 0, 0.5],
         [0, -1, 0], [-0.5, -1, 0]]
    assert star_sizes(structure, np.array(q), alat_A=a_A) == [1, 8, 4, 6, 24, 12, 3, 6]


def test_star_sizes_include_time_reversal_without_inversion():
    # Zincblende has no inversion; every star plus its −q image must still tile the full grid.
    import spglib

    zb = Structure.from_spacegroup("F-43m", Lattice.cubic(5.66), ["Al", "As"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    zb = zb.get_primitive_structure()
    mapping, grid = spglib.get_ir_reciprocal_mesh([4, 4, 4], (zb.lattice.matrix, zb.frac_coords, [13, 33]))
    irreducible = np.unique(mapping)
    reduced = grid[irreducible] / 4.0
    alat = np.linalg.norm(zb.lattice.matrix[0])
    cart_2pi_alat = reduced @ np.linalg.inv(zb.lattice.matrix / alat).T
    sizes = star_sizes(zb, cart_2pi_alat)
    assert sum(sizes) == 64
    assert sizes == [int(np.sum(mapping == i)) for i in irreducible]


def test_inputs_reproduce_the_recorded_al_fixtures(fixtures_dir):
    """The fixtures were made by this code: regenerating them would change no input."""
    folder = fixtures_dir / "qe-6.7" / "al"
    for label, (_, text) in chain_inputs().items():
        assert text == (folder / f"{label}.in").read_text(), label
    lambda_in = lambda_input_from_ph(folder / "elph.out", al_structure(), emax_THz=12.0)
    assert lambda_in == (folder / "lambda.in").read_text()
