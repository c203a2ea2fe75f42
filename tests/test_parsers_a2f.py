"""a2F.dosN of the real fcc-Al chain: Ry → meV, and λ, ω_log recomputed by the physics core."""

from __future__ import annotations

import numpy as np
import pytest

from betenet.parsers import parse_a2f_dos, parse_matdyn_lambda
from betenet.physics import RY_TO_MEV, lambda_from_a2f, mev_to_kelvin, omega_log_from_a2f
from conftest import FIXTURES

AL = FIXTURES / "qe-6.7" / "al"
SMEARINGS = range(1, 11)


@pytest.fixture(scope="module")
def spectra():
    return [parse_a2f_dos(AL / f"a2F.dos{i}", el_ph_sigma_ry=0.005) for i in SMEARINGS]


def test_columns_and_units(spectra):
    for i, spectrum in zip(SMEARINGS, spectra):
        raw = np.loadtxt(AL / f"a2F.dos{i}", comments=("#", "lambda"))
        assert spectrum.sigma_index == i and spectrum.sigma_ry == pytest.approx(0.005 * i)
        assert spectrum.n_modes == raw.shape[1] - 2 == 3
        assert np.allclose(spectrum.omega_meV, raw[:, 0] * RY_TO_MEV, rtol=5e-5)
        assert np.allclose(np.diff(spectrum.omega_meV), spectrum.delta_omega_meV)
        assert np.allclose(spectrum.a2f, raw[:, 1])
        assert np.allclose(spectrum.a2f_per_mode.sum(axis=0), spectrum.a2f, atol=1e-5)
        assert 35 < spectrum.omega_meV.max() < 45  # α²F lives under Al's phonon band


def test_without_el_ph_sigma_the_smearing_is_unknown():
    spectrum = parse_a2f_dos(AL / "a2F.dos4")
    assert spectrum.sigma_index == 4 and spectrum.sigma_ry is None


def test_lambda_from_parsed_a2f_matches_qe_footer(spectra):
    for spectrum in spectra:
        assert lambda_from_a2f(spectrum.omega_meV, spectrum.a2f) == pytest.approx(spectrum.lambda_qe, rel=1e-4)


def test_lambda_and_omega_log_agree_with_matdyn_lambda_file(spectra):
    """The issue's check: λ from our physics core on a2F.dosN vs matdyn's `lambda` file, 3 %."""
    rows = parse_matdyn_lambda(AL / "lambda")
    for spectrum, row in zip(spectra, rows):
        assert row.sigma_ry == pytest.approx(spectrum.sigma_ry)
        lam = lambda_from_a2f(spectrum.omega_meV, spectrum.a2f)
        assert lam == pytest.approx(row.lambda_, rel=0.03)
        omega_log_K = mev_to_kelvin(omega_log_from_a2f(spectrum.omega_meV, spectrum.a2f))
        assert omega_log_K == pytest.approx(row.omega_log_K, rel=0.03)
