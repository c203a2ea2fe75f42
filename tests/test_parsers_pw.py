"""parse_pw_output on real pw.x runs: the fcc-Al chain (fixtures/qe-6.7/al) and failed runs."""

from __future__ import annotations

import re

import pytest

from betenet.parsers import ParseError, parse_ph_output, parse_pw_output, processor_cores
from conftest import FIXTURES

AL = FIXTURES / "qe-6.7" / "al"
BROKEN = FIXTURES / "broken"


def test_scf_values_match_the_file_and_qe_reference():
    out = parse_pw_output(AL / "scf.out")
    text = (AL / "scf.out").read_text()
    assert out.qe_version.startswith("6.7")
    assert out.calculation == "scf"
    assert out.ok and out.job_done and out.converged and out.errors == ()
    # Same settings as QE's PHonon/example03 al.scf.in; its reference al.scf.out prints
    # E = -4.18634465 Ry, E_F = 8.1777 eV, 29 k-points.
    assert out.total_energy_ry == pytest.approx(-4.18634465, abs=2e-8)
    assert out.fermi_energy_ev == pytest.approx(8.1777, abs=1e-4)
    assert out.n_kpoints == 29
    assert out.n_scf_iterations == len(re.findall(r"iteration #", text))
    assert out.wall_time_s == pytest.approx(float(re.findall(r"PWSCF.*CPU\s+([\d.]+)s WALL", text)[-1]))
    # fcc primitive cell of a = 7.5 bohr: V = a³/4; QE's alat is |a1| = a/√2 for ibrav=0.
    assert out.n_atoms == 1
    assert out.cell_volume_bohr3 == pytest.approx(7.5**3 / 4, rel=1e-6)
    assert out.lattice_parameter_bohr == pytest.approx(7.5 / 2**0.5, abs=1e-4)
    assert out.highest_occupied_ev is None  # a metal reports a Fermi energy instead


def test_dense_k_scf_has_more_k_points_and_nearly_the_same_energy():
    dense, coarse = parse_pw_output(AL / "scf_fit.out"), parse_pw_output(AL / "scf.out")
    assert dense.ok and dense.n_kpoints > coarse.n_kpoints
    assert abs(dense.total_energy_ry - coarse.total_energy_ry) < 5e-3  # k-convergence of Al, Ry


def test_not_converged_run_is_reported_not_raised():
    out = parse_pw_output(BROKEN / "pw_not_converged.out")  # real run, electron_maxstep = 2
    assert out.job_done and not out.converged and not out.ok
    assert out.n_scf_iterations == 2
    assert out.total_energy_ry is None  # no `!` line: the SCF never finished


def test_qe_error_block_is_returned_with_routine_and_message():
    out = parse_pw_output(BROKEN / "pw_missing_pseudo.out")  # real run, pseudo file absent
    assert not out.job_done and not out.ok
    (error,) = out.errors
    assert error.routine == "readpp"
    assert "Al.missing.UPF" in error.message and "not found" in error.message


def test_ph_output_is_refused_as_foreign():
    with pytest.raises(ParseError, match=r"PHONON, expected PWSCF") as caught:
        parse_pw_output(AL / "elph.out")
    assert caught.value.path == AL / "elph.out"


def test_spin_polarised_scf_gives_the_converged_magnetisation():
    out = parse_pw_output(FIXTURES / "qe-6.7" / "fe-spin" / "pw.out")  # real run: bcc Fe, nspin=2
    text = (FIXTURES / "qe-6.7" / "fe-spin" / "pw.out").read_text()
    assert out.ok and len(re.findall(r"total magnetization", text)) > 1  # printed every iteration
    assert (out.total_magnetization_muB, out.absolute_magnetization_muB) == (2.29, 2.37)  # the last pair
    assert 2.0 < out.total_magnetization_muB <= out.absolute_magnetization_muB  # bcc Fe ≈ 2.2 μB per atom


def test_spin_unpolarised_scf_has_no_magnetisation():
    out = parse_pw_output(AL / "scf.out")
    assert out.total_magnetization_muB is None and out.absolute_magnetization_muB is None


def test_processor_cores_come_from_the_banner():
    """Core-hours are wall time × cores: the fixtures ran pw.x/ph.x on 2 MPI ranks and q2r.x on one;
    QE 7 counts MPI processes × OpenMP threads as 'processor cores'; a serial build says so."""
    assert parse_pw_output(AL / "scf.out").processor_cores == 2
    assert parse_ph_output(AL / "elph.out").processor_cores == 2
    assert processor_cores((AL / "q2r.out").read_text()) == 1
    assert parse_pw_output(FIXTURES / "qe-7" / "al" / "scf.out").processor_cores == 2
    assert processor_cores("     Program PWSCF v.6.7 starts on  1Dec2026\n     Serial version\n") == 1
    assert processor_cores("     Program PWSCF v.6.7 starts on  1Dec2026\n") is None
