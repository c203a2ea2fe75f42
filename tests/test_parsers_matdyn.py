"""matdyn.x files of the real fcc-Al chain: phonon DOS, frequencies along Γ–X–L–Γ, the lambda file."""

from __future__ import annotations

import shutil
from itertools import permutations, product

import numpy as np
import pytest

from betenet.parsers import ParseError, parse_matdyn_dos, parse_matdyn_freq, parse_matdyn_lambda, parse_ph_output
from betenet.physics import CM1_TO_MEV, mcmillan_tc
from betenet.qe.matdyn import write_matdyn_input
from betenet.qe.runner import run_program
from conftest import FIXTURES, require_qe

AL = FIXTURES / "qe-6.7" / "al"


def test_phonon_dos_integrates_to_three_modes_per_atom():
    dos = parse_matdyn_dos(AL / "phonon.dos")
    raw = np.loadtxt(AL / "phonon.dos")
    assert dos.n_atoms == raw.shape[1] - 2 == 1
    assert np.allclose(dos.omega_meV, raw[:, 0] * CM1_TO_MEV)
    # states/cm⁻¹ → states/meV keeps the integral: 3 modes per atom.
    assert np.trapezoid(dos.total, dos.omega_meV) == pytest.approx(3.0, rel=0.01)
    assert np.trapezoid(dos.total, dos.omega_cm1) * CM1_TO_MEV == pytest.approx(3.0, rel=0.01)
    # matdyn prints the PDOS column with 5 digits, the total with 11.
    assert np.allclose(dos.projected.sum(axis=0), dos.total, rtol=1e-4, atol=1e-4 * dos.total.max())
    assert np.all(dos.total >= 0)
    assert 35 < dos.omega_meV.max() < 45


def test_dos_labels_by_site_and_species():
    assert parse_matdyn_dos(AL / "phonon.dos").site_labels == ("site0",)
    species = parse_matdyn_dos(AL / "phonon.dos", site_labels=["Al"])
    assert species.site_labels == ("Al0",) and species.species == ("Al",)
    labelled = parse_matdyn_dos(AL / "phonon.dos", site_labels=["Al0"])
    assert labelled.site_labels == ("Al0",) and labelled.species == ("Al",)
    with pytest.raises(ParseError, match=r"1 per-atom PDOS columns but 2 site labels"):
        parse_matdyn_dos(AL / "phonon.dos", site_labels=["Al", "Al"])


def test_frequencies_along_the_path_match_ph_at_grid_points():
    freq = parse_matdyn_freq(AL / "matdyn.freq")
    n_q = freq.q_points_cart_2pi_alat.shape[0]
    assert freq.frequencies_cm1.shape == (n_q, 3)
    assert np.allclose(freq.frequencies_meV, freq.frequencies_cm1 * CM1_TO_MEV)
    # Γ: acoustic modes vanish (asr applied by matdyn).
    at_gamma = np.all(np.abs(freq.q_points_cart_2pi_alat) < 1e-6, axis=1)
    assert at_gamma.sum() == 2 and np.all(np.abs(freq.frequencies_cm1[at_gamma]) < 1)
    # On a 2×2×2 grid X and L are computed by ph.x: the interpolation must reproduce them there.
    ph = parse_ph_output(AL / "elph.out")
    for q in ph.q_points[1:]:
        star = _star_members(q.q_cart_2pi_alat)
        hits = [i for i, p in enumerate(freq.q_points_cart_2pi_alat) if any(np.allclose(p, s, atol=1e-4) for s in star)]
        assert hits, f"path misses the star of q = {q.q_cart_2pi_alat}"
        for i in hits:
            assert np.allclose(np.sort(freq.frequencies_cm1[i]), np.sort(q.frequencies_cm1), atol=1.0)


def _star_members(q):
    """All images of q under the cubic point group (sign changes and permutations)."""
    return [np.array(p) * s for p in permutations(q) for s in product((1, -1), repeat=3)]


def test_lambda_file_rows():
    rows = parse_matdyn_lambda(AL / "lambda")
    assert [row.sigma_ry for row in rows] == pytest.approx(0.005 * np.arange(1, 11))
    for row in rows[2:]:  # σ ≥ 0.015 Ry: the converged plateau of Al
        assert 0.3 < row.lambda_ < 0.5
        assert 200 < row.omega_log_K < 400
        assert row.mcmillan_tc_K() == pytest.approx(float(mcmillan_tc(row.lambda_, row.omega_log_K, 0.10)))
    # N(E_F) in the lambda file is the DOS ph.x printed for the same smearing.
    ph = parse_ph_output(AL / "elph.out")
    dos = [block.dos_ef_states_per_spin_ry for block in ph.q_points[0].elph]
    assert [row.dos_ef_states_per_spin_ry for row in rows] == pytest.approx(dos, abs=1e-4)


def test_other_matdyn_files_are_refused():
    with pytest.raises(ParseError, match="not a matdyn.x phonon DOS file"):
        parse_matdyn_dos(AL / "lambda")
    with pytest.raises(ParseError, match="not a matdyn.x frequency file"):
        parse_matdyn_freq(AL / "phonon.dos")
    with pytest.raises(ParseError, match="not matdyn's lambda file"):
        parse_matdyn_lambda(AL / "matdyn.freq")


@pytest.mark.qe
def test_two_atom_supercell_dos_has_one_column_per_site(tmp_path):
    """Real matdyn.x run: the Al force constants in a 2×1×1 supercell give two PDOS columns."""
    require_qe("matdyn.x")
    shutil.copy(AL / "al.fc", tmp_path)
    text = write_matdyn_input({"flfrc": "al.fc", "l1": 2, "ndos": 100, "fldos": "two.dos"}, dos_grid=(8, 8, 8))
    run_program("matdyn", text, tmp_path, label="two")
    dos = parse_matdyn_dos(tmp_path / "two.dos", site_labels=["Al", "Al"])
    assert dos.site_labels == ("Al0", "Al1") and dos.projected.shape == (2, dos.omega_meV.size)
    assert np.trapezoid(dos.total, dos.omega_meV) == pytest.approx(6.0, rel=0.01)
    for column in dos.projected:  # two equivalent atoms: three modes each
        assert np.trapezoid(column, dos.omega_meV) == pytest.approx(3.0, rel=0.01)
    assert np.allclose(dos.projected.sum(axis=0), dos.total, rtol=1e-4, atol=1e-4 * dos.total.max())
