"""lambda.x stdout and lambda.dat of the real fcc-Al chain."""

from __future__ import annotations

import numpy as np
import pytest

from betenet.parsers import ParseError, parse_lambda_output
from betenet.physics import mcmillan_tc
from conftest import FIXTURES

AL = FIXTURES / "qe-6.7" / "al"


def test_stdout_rows_and_recovered_mu_star():
    out = parse_lambda_output(AL / "lambda.out")
    assert len(out.rows) == 10
    assert np.allclose(out.sigmas_ry, 0.005 * np.arange(1, 11))
    assert out.mu_star == pytest.approx(0.10, abs=1e-3)  # lambda.in's last line
    for row in out.rows:
        assert row.lambda_from_alpha2f == pytest.approx(row.lambda_, rel=2e-3)
        # lambda.x's Tc is the Allen–Dynes-modified McMillan formula, printed with 3 decimals.
        assert row.tc_K == pytest.approx(float(mcmillan_tc(row.lambda_, row.omega_log_K, 0.10)), abs=2e-3)
    plateau = out.rows[2:]
    assert all(0.3 < row.lambda_ < 0.5 and 250 < row.omega_log_K < 400 for row in plateau)


def test_weak_coupling_row_has_zero_tc():
    """At σ = 0.005 Ry λ < μ*(1+0.62λ): lambda.x overflows its T_c field; the parser says 0 K."""
    first = parse_lambda_output(AL / "lambda.out").rows[0]
    assert first.lambda_ < 0.1 * (1 + 0.62 * first.lambda_)
    assert first.tc_K == 0.0 == mcmillan_tc(first.lambda_, first.omega_log_K, 0.10)


def test_infinity_where_lambda_meets_mu_star_is_no_tc():
    """fcc Ca's real lambda.x output: λ ≈ 0.10 ≈ μ*(1+0.62λ) prints Infinity or ***** for Tc; both read as 0 K,
    λ and ω_log as printed (the file once failed the whole document)."""
    out = parse_lambda_output(FIXTURES / "qe-6.7" / "lambda-mcmillan-infinity" / "lambda.out")
    assert len(out.rows) == 20  # (no Tc above 0.05 K to recover μ* from)
    by_sigma = {round(row.sigma_ry, 3): row for row in out.rows}
    for sigma in (0.008, 0.028):  # the two Infinity rows
        row = by_sigma[sigma]
        assert row.tc_K == 0.0 and row.omega_log_K > 150
        assert abs(row.lambda_ - 0.10 * (1 + 0.62 * row.lambda_)) < 0.01  # where the exponent changes sign
    assert by_sigma[0.008].lambda_ == pytest.approx(0.105207)
    assert by_sigma[0.002].tc_K == pytest.approx(0.021)  # λ 0.26 > μ*: a finite Tc
    assert by_sigma[0.002].tc_K == pytest.approx(mcmillan_tc(0.263289, 191.018, 0.10), abs=2e-3)


def test_lambda_dat_gives_the_same_rows_without_tc():
    out, dat = parse_lambda_output(AL / "lambda.out"), parse_lambda_output(AL / "lambda.dat")
    assert dat.mu_star is None and all(row.tc_K is None for row in dat.rows)
    for a, b in zip(out.rows, dat.rows):
        assert (a.sigma_ry, a.lambda_, a.lambda_from_alpha2f, a.omega_log_K) == pytest.approx(
            (b.sigma_ry, b.lambda_, b.lambda_from_alpha2f, b.omega_log_K)
        )


def test_other_files_are_refused():
    with pytest.raises(ParseError, match="neither lambda.x stdout"):
        parse_lambda_output(AL / "lambda")


def test_a_smearing_without_coupling_has_no_omega_log(fixtures_dir):
    """λ = 0 at the smallest smearing of a too-coarse k-grid: lambda.x prints NaN for ⟨log ω⟩ and Tc;
    that row is kept with ω_log and Tc undefined, the others are read as usual."""
    out = parse_lambda_output(fixtures_dir / "qe-6.7" / "lambda-zero-coupling" / "lambda.out")
    first, *rest = out.rows
    assert (first.sigma_ry, first.lambda_, first.omega_log_K, first.tc_K) == (0.005, 0.0, None, None)
    assert len(rest) == 9 and all(r.omega_log_K is not None and 240 < r.omega_log_K < 250 for r in rest)
    assert [r.lambda_ for r in rest][:2] == [0.00125, 0.0217]
