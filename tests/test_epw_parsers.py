"""EPW parsers on real epw.x outputs of the fcc-Al EPW flow (fixtures/qe-6.7/epw/al) and on broken copies."""

from __future__ import annotations

import numpy as np
import pytest

from betenet.parsers.epw import (
    parse_epw_a2f,
    parse_epw_linewidths,
    parse_epw_output,
    parse_epw_phdos,
    parse_wannier90_wout,
    parse_wannier_hr,
)
from betenet.parsers.errors import ParseError
from betenet.physics import lambda_from_a2f
from betenet.qe.programs import get_program
from conftest import FIXTURES

AL = FIXTURES / "qe-6.7" / "epw" / "al"
A2F = AL / "betenet.a2f.04.300.000"  # electronic smearing 4 × 0.005 Ry = 0.020 Ry


def test_a2f_columns_footer_and_units():
    a2f = parse_epw_a2f(A2F)
    assert a2f.a2f.shape == (500, 10) and len(a2f.omega_meV) == 500
    assert np.allclose(a2f.phonon_smearings_meV, 0.05 * np.arange(1, 11))
    assert a2f.electron_smearing_eV == pytest.approx(0.020 * 13.6057, rel=1e-4)
    assert 35 < a2f.omega_meV.max() < 50  # 1.1 × Al's highest interpolated phonon (~40 meV)
    assert np.allclose(np.diff(a2f.omega_meV), a2f.omega_meV[0], rtol=1e-4)  # EPW's grid starts at dω
    # EPW's own rectangle integral 2Σα²F/ω·dω is what the physics core computes on the same axis
    for column, lam in zip(a2f.a2f.T, a2f.lambda_per_phonon_smearing):
        assert lambda_from_a2f(a2f.omega_meV, column) == pytest.approx(lam, rel=2e-3)
    # with smooth enough phonon smearing the spectrum integrates to the plain q-sum of λ_qν
    assert a2f.lambda_per_phonon_smearing[-1] == pytest.approx(a2f.lambda_summed, rel=0.02)
    assert 0.3 < a2f.lambda_summed < 0.6


def test_a2f_smearing_index_matches_the_file_name():
    first, fourth = parse_epw_a2f(AL / "betenet.a2f.01.300.000"), parse_epw_a2f(A2F)
    assert fourth.electron_smearing_eV == pytest.approx(4 * first.electron_smearing_eV, rel=1e-5)
    assert first.fermi_window_eV == fourth.fermi_window_eV


def test_phonon_dos_integrates_to_three_branches():
    dos = parse_epw_phdos(AL / "betenet.phdos.04.300.000")
    assert dos.dos_states_per_meV.shape == (500, 10)
    step = dos.omega_meV[1] - dos.omega_meV[0]
    assert dos.dos_states_per_meV[:, -1].sum() * step == pytest.approx(3.0, rel=0.02)


def test_linewidths_hold_every_fine_q_and_mode():
    widths = parse_epw_linewidths(AL / "linewidth.phself.300.000K")
    n_q = len((AL / "fine_qpoints.txt").read_text().splitlines()) - 1
    assert widths.n_qpoints == n_q and len(widths.omega_meV) == 3 * n_q
    assert widths.lowest_frequency_meV > -1e-3  # acoustic modes at Γ ≈ 0, nothing imaginary
    assert 35 < widths.omega_meV.max() < 45 and np.all(widths.linewidth_meV >= 0)


def test_epw_output_first_run():
    out = parse_epw_output(AL / "epw.out")
    assert out.ok and out.epw_version == "5.3.1" and out.wall_time_s > 0
    assert out.wannier_spreads_A2.shape == (9,) and out.wannier_centres_alat.shape == (9, 3)
    assert np.all((out.wannier_spreads_A2 > 0.5) & (out.wannier_spreads_A2 < 5))
    assert len(out.smearings) == 10 and all(s.ngauss == 0 for s in out.smearings)
    assert [s.smearing_eV for s in out.smearings] == pytest.approx([0.068028 * i for i in range(1, 11)], rel=1e-4)
    assert 0.1 < out.smearings[-1].dos_states_per_spin_eV < 0.3  # Al: ≈ 0.2 states/spin/eV
    assert out.lambda_per_smearing.shape == (10,)
    assert out.lambda_per_smearing[3] == pytest.approx(parse_epw_a2f(A2F).lambda_summed, abs=1e-6)
    assert out.n_fine_kpoints == 12**3 and out.n_fine_qpoints == 16
    assert abs(out.fermi_energy_fine_eV - out.fermi_energy_coarse_eV) < 0.5


def test_epw_output_restart_has_no_wannierisation_but_the_same_lambda():
    first, restart = parse_epw_output(AL / "epw.out"), parse_epw_output(AL / "restart.epw.out")
    assert restart.ok and restart.wannier_spreads_A2 is None
    assert np.array_equal(restart.lambda_per_smearing, first.lambda_per_smearing)


def test_epw_error_block_is_reported():
    out = parse_epw_output(AL / "restart_without_ukk.epw.out")
    assert not out.ok and not out.finished
    assert out.errors[0].routine == "loadbm" and "ukk" in out.errors[0].message


def test_wannier90_report():
    good, sp3 = parse_wannier90_wout(AL / "betenet.wout"), parse_wannier90_wout(AL / "sp3.wout")
    assert good.spreads_A2.shape == (9,) and sp3.spreads_A2.shape == (4,)
    assert good.omega_total_A2 == pytest.approx(good.spreads_A2.sum(), rel=1e-6)
    assert good.omega_total_A2 == pytest.approx(good.omega_i_A2 + good.omega_d_A2 + good.omega_od_A2, rel=1e-6)
    assert good.disentanglement_converged in (True, False)


def test_wannier_hamiltonian_is_hermitian_with_its_wigner_seitz_shifts():
    ham = parse_wannier_hr(AL / "sp3_hr.dat", AL / "sp3_wsvec.dat")
    assert ham.n_wann == 4 and len(ham.lattice_vectors) == len(ham.degeneracy)
    zero = np.flatnonzero(~ham.lattice_vectors.any(axis=1))[0]
    assert np.allclose(ham.hamiltonian_eV[zero], ham.hamiltonian_eV[zero].conj().T, atol=1e-6)
    assert len(ham.ws_shifts) == len(ham.lattice_vectors) * 16
    assert np.sum(1.0 / ham.degeneracy) == pytest.approx(6**3)  # the Wigner–Seitz supercell of the 6³ grid


def test_registry_finds_the_epw_parsers_by_file_name():
    epw = get_program("epw")
    assert epw.load_parser() is parse_epw_output
    assert epw.parser_for_file("betenet.a2f.04.300.000") is parse_epw_a2f
    assert epw.parser_for_file("betenet.phdos.10.300.000") is parse_epw_phdos
    assert epw.parser_for_file("linewidth.phself.300.000K") is parse_epw_linewidths
    with pytest.raises(LookupError):
        epw.parser_for_file("betenet.a2f_tr.01.300.000")


@pytest.mark.parametrize(
    ("parser", "name", "message"),
    [
        (parse_epw_a2f, "truncated.a2f", "no 'Integrated el-ph coupling' footer"),
        (parse_epw_a2f, "cut_footer.a2f", r"'Phonon smearing \(meV\)' has no value line"),
        (parse_epw_a2f, "linewidth.phself.300.000K", "footer"),
        (parse_epw_linewidths, "wrong_columns.linewidth.phself", "has 3 columns, expected 4"),
        (parse_epw_linewidths, "betenet.a2f.01.300.000", "not an EPW linewidth.phself file"),
        (parse_epw_output, "bands_check.out", "output of QE program PWSCF, expected EPW"),
        (parse_wannier90_wout, "epw.out", "no 'Final State' section"),
        (parse_wannier_hr, "betenet.wout", "not a Wannier90 _hr.dat file"),
    ],
)
def test_broken_and_foreign_files_raise_parse_error(parser, name, message):
    with pytest.raises(ParseError, match=message) as error:
        parser(AL / name)
    assert error.value.path == AL / name


def test_truncated_epw_output_is_not_ok():
    out = parse_epw_output(AL / "truncated.epw.out")
    assert not out.finished and not out.ok and len(out.lambda_per_smearing) == 0 and out.wall_time_s is None
