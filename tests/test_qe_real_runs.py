"""The writers' inputs run in real pw.x / ph.x (tiny fcc-Al settings, serial, a few seconds each).

Each test asserts what the run means physically, read back with betenet.parsers.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from betenet.parsers.ph import parse_ph_output
from betenet.parsers.pw import parse_pw_output
from betenet.qe.ph import ph_parameters, write_ph_input
from betenet.qe.pseudo import PseudoFamily
from betenet.qe.pw import pw_parameters, write_pw_input
from betenet.qe.runner import run_program
from betenet.settings import override_settings
from tests.al_chain import al_structure
from tests.conftest import require_qe

pytestmark = pytest.mark.qe

TINY = {
    "control": {"prefix": "al"},
    "system": {"ecutwfc": 12.0, "degauss": 0.05},
    "electrons": {"conv_thr": 1e-9},
}


@pytest.fixture(scope="module")
def pseudos():
    return PseudoFamily("/usr/share/espresso/pseudo", filenames={"Al": "Al.pz-vbc.UPF"})


@pytest.fixture(scope="module")
def scf_dir(tmp_path_factory, pseudos):
    """A converged scf of fcc Al (a = 7.5 bohr, k 4³) shared by the nscf and ph.x tests."""
    require_qe("pw.x", "ph.x")
    directory = tmp_path_factory.mktemp("al_scf")
    text = write_pw_input(al_structure(), pw_parameters("scf", TINY), pseudos=pseudos, kpoints=(4, 4, 4))
    with override_settings(mpi_command=""):
        result = run_program("pw", text, directory, label="scf", timeout_s=120)
    return directory, result


def test_scf_converges_to_aluminium_numbers(scf_dir):
    _, result = scf_dir
    out = parse_pw_output(result.stdout_path)
    assert out.job_done and out.converged and not out.errors
    assert out.n_atoms == 1
    # LDA Al, 3 valence electrons; free-electron-like E_F. Serial runs repeat to the printed digit
    # (measured with Debian's QE 6.7): pinned, so any change of inputs or engine shows.
    assert out.total_energy_ry == pytest.approx(-4.1623213, rel=1e-6)
    assert out.fermi_energy_ev == pytest.approx(7.9259, abs=1e-4)


def test_nscf_on_an_explicit_kpoint_list_without_symmetry(scf_dir, pseudos, tmp_path):
    directory = tmp_path / "nscf"
    shutil.copytree(scf_dir[0], directory)  # nscf rewrites the save folder the ph.x test reads
    kpoints = np.array([[0, 0, 0], [0.5, 0, 0], [0.5, 0.5, 0], [0.25, 0.1, 0.0]])  # last one breaks symmetry
    parameters = pw_parameters("nscf", TINY, {"system": {"nbnd": 8}})
    text = write_pw_input(al_structure(), parameters, pseudos=pseudos, kpoints=kpoints)
    with override_settings(mpi_command=""):
        result = run_program("pw", text, directory, label="nscf", timeout_s=120)
    out = parse_pw_output(result.stdout_path)
    assert out.job_done and not out.errors
    assert out.n_kpoints == len(kpoints)  # nosym/noinv: QE kept every point as given


def test_ph_at_gamma_gives_acoustic_modes_near_zero(scf_dir):
    directory, _ = scf_dir
    text = write_ph_input(ph_parameters("phonons", {"prefix": "al", "tr2_ph": 1e-12}), qpoint=(0, 0, 0))
    with override_settings(mpi_command=""):
        result = run_program("ph", text, directory, label="ph_gamma", timeout_s=120)
    out = parse_ph_output(result.stdout_path)
    assert out.ok and len(out.q_points) == 1
    frequencies = out.q_points[0].frequencies_cm1
    # acoustic modes at Γ: what is left is the sum-rule residual (no ASR imposed in ph.x), pinned as measured
    assert frequencies == pytest.approx(np.full(3, 7.138095), rel=1e-5)


def test_vc_relax_expands_a_compressed_cell(tmp_path, pseudos):
    require_qe("pw.x")
    compressed = al_structure()
    compressed.scale_lattice(compressed.volume * 0.85)
    parameters = pw_parameters("vc-relax", TINY, {"cell": {"press_conv_thr": 2.0}})
    text = write_pw_input(compressed, parameters, pseudos=pseudos, kpoints=(4, 4, 4))
    with override_settings(mpi_command=""):
        result = run_program("pw", text, tmp_path, label="relax", timeout_s=300)
    out = parse_pw_output(result.stdout_path)
    assert out.job_done and out.converged and not out.errors
    a_bohr = 7.5
    initial_volume_bohr3 = 0.85 * a_bohr**3 / 4
    # The LDA equilibrium of this pseudo is close to a = 7.5 bohr: the cell grows back by >10 %.
    assert out.cell_volume_bohr3 > 1.10 * initial_volume_bohr3
    assert out.cell_volume_bohr3 < 1.10 * a_bohr**3 / 4
