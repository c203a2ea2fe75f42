"""lambda.x results (its stdout, or the `lambda.dat` it writes) → per-smearing λ, ω_log, Tc."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from betenet.parsers._common import FLOAT, to_float
from betenet.parsers._table import expect_count, read_table_lines
from betenet.parsers.errors import ParseError

_NUM = rf"(?:{FLOAT}|NaN|-?Infinity)"
# `lambda = 0.292194 (   0.292194 )  <log w>=  392.164 K  N(Ef)=  1.339200 at degauss= 0.005`
_STDOUT_ROW = re.compile(
    rf"^\s*lambda\s*=\s*({_NUM})\s*\(\s*({_NUM})\s*\)\s*(?:<log w>)?\s*=\s*({_NUM})\s*K\s+"
    rf"N\(Ef\)\s*=\s*({_NUM})\s+at degauss\s*=\s*({_NUM})\s*$",
    re.MULTILINE | re.IGNORECASE,
)
_TC_TITLE = re.compile(r"^\s*lambda\s+omega_log\s+T_c\s*$", re.MULTILINE)
_TC_ROW = re.compile(rf"^\s*({_NUM})\s+({_NUM})\s+({_NUM}|\*+)\s*$")
_DAT_TITLE = re.compile(r"^\s*#\s*degauss\s+lambda\s+int alpha2F\s+<log w>\s+N\(Ef\)", re.IGNORECASE)


@dataclass(frozen=True)
class LambdaXRow:
    """lambda.x's result at one smearing (`degauss`)."""

    sigma_ry: float
    lambda_: float  # Σ_q w_q Σ_ν λ_qν (the value lambda.x uses for Tc)
    lambda_from_alpha2f: float  # the same λ from its integrated α²F (the number in brackets)
    omega_log_K: float | None  # None where λ = 0: lambda.x's <log w> is then 0/0 and prints NaN
    dos_ef_states_per_spin_ry: float
    # McMillan Tc as lambda.x prints it; None when read from lambda.dat (no Tc there). 0.0 where
    # λ ≤ μ*(1+0.62λ): the formula then has no superconducting solution and lambda.x prints a
    # meaningless value above ω_log/1.2 or, when it overflows the field, asterisks
    # (betenet.physics.mcmillan_tc returns 0.0 there too).
    tc_K: float | None


@dataclass(frozen=True)
class LambdaXOutput:
    rows: tuple[LambdaXRow, ...]
    # μ* is an input of lambda.x, not printed: recovered by inverting the McMillan formula on the
    # printed (λ, ω_log, Tc); None when no row has Tc > 0.05 K (too few printed digits).
    mu_star: float | None

    @property
    def sigmas_ry(self) -> np.ndarray:
        return np.array([row.sigma_ry for row in self.rows])

    @property
    def lambdas(self) -> np.ndarray:
        return np.array([row.lambda_ for row in self.rows])


def _finite(values: list[str], path: Path, where: str) -> list[float]:
    numbers = [to_float(v) for v in values]
    if not all(math.isfinite(x) for x in numbers):
        raise ParseError(
            path,
            f"{where} has a non-finite value ({' '.join(values)}): lambda.x met imaginary or zero "
            "frequencies in its elph.inp_lambda files",
        )
    return numbers


def _recover_mu_star(rows: list[LambdaXRow]) -> float | None:
    """Solve Tc = ω_log/1.2·exp[−1.04(1+λ)/(λ−μ*(1+0.62λ))] for μ*, median over usable rows."""
    estimates = [
        (row.lambda_ + 1.04 * (1 + row.lambda_) / math.log(1.2 * row.tc_K / row.omega_log_K))
        / (1 + 0.62 * row.lambda_)
        for row in rows
        if row.tc_K is not None and row.tc_K > 0.05 and row.omega_log_K and row.omega_log_K > 1.2 * row.tc_K
    ]
    return round(float(np.median(estimates)), 3) if estimates else None


def _from_stdout(text: str, path: Path) -> LambdaXOutput:
    head = _STDOUT_ROW.findall(text)
    title = _TC_TITLE.search(text)
    if title is None:
        raise ParseError(path, "no 'lambda  omega_log  T_c' table: truncated lambda.x output")
    tc_rows = []
    for line in text[title.end() :].splitlines():
        if not line.strip():
            continue
        row = _TC_ROW.match(line)
        if not row:
            break
        tc_rows.append(row.groups())
    if len(tc_rows) != len(head):
        raise ParseError(
            path, f"{len(head)} 'lambda = ... at degauss=' lines but {len(tc_rows)} rows in the T_c table"
        )
    rows = []
    for values, tc in zip(head, tc_rows):
        lam, lam_a2f, dos, sigma = _finite([values[i] for i in (0, 1, 3, 4)], path, f"degauss={values[4]}")
        if lam == 0.0 and not math.isfinite(to_float(values[2])):
            # no coupling at this smearing (a k-grid too coarse for it): ω_log and Tc are undefined
            rows.append(LambdaXRow(sigma, lam, lam_a2f, None, dos, None))
            continue
        (wlog,) = _finite([values[2]], path, f"degauss={values[4]}")
        printed = tc[2]
        if printed.startswith("*") or printed == "Infinity":
            # overflow, or λ − μ*(1+0.62λ) at zero from below (λ ≈ μ*): McMillan's formula has no solution
            tc_K = 0.0
        else:
            (tc_K,) = _finite([printed], path, f"T_c row for degauss={values[4]}")
            # Tc ≥ ω_log/1.2 needs a positive exponent, i.e. λ − μ*(1+0.62λ) < 0: no solution.
            tc_K = 0.0 if tc_K >= wlog / 1.2 else tc_K
        rows.append(LambdaXRow(sigma, lam, lam_a2f, wlog, dos, tc_K))
    return LambdaXOutput(rows=tuple(rows), mu_star=_recover_mu_star(rows))


def _from_dat(lines: list[str], path: Path) -> LambdaXOutput:
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != 5:
            raise ParseError(path, f"line {number} has {len(tokens)} columns, expected 5")
        try:
            sigma, lam, lam_a2f, wlog, dos = _finite(tokens, path, f"line {number}")
        except ValueError as err:
            raise ParseError(path, f"line {number} is not numeric: {line.strip()[:60]!r}") from err
        rows.append(LambdaXRow(sigma, lam, lam_a2f, wlog, dos, tc_K=None))
    if not rows:
        raise ParseError(path, "no data rows after the lambda.dat header")
    return LambdaXOutput(rows=tuple(rows), mu_star=None)


def parse_lambda_output(path: str | Path, n_smearings: int | None = None) -> LambdaXOutput:
    """Read lambda.x stdout (λ, ω_log, N(E_F) per degauss and the λ/ω_log/T_c table) or its lambda.dat.

    Both layouts are recognised by their header lines; anything else raises ParseError.
    `n_smearings`: the el-ph smearings in the elph.inp_lambda files (ph.x's el_ph_nsigma); lambda.x
    prints one row each, so another count raises.
    """
    path = Path(path)
    lines = read_table_lines(path, "lambda.x output")
    text = "\n".join(lines)
    first = next(line for line in lines if line.strip())
    if _DAT_TITLE.match(first):
        result = _from_dat([line for line in lines if line.strip()], path)
    elif _STDOUT_ROW.search(text):
        result = _from_stdout(text, path)
    else:
        result = None
    if result is not None:
        expect_count(len(result.rows), n_smearings, path, "smearing rows", "the run's number of el-ph smearings")
        if np.any(np.diff(result.sigmas_ry) <= 0):
            raise ParseError(path, "degauss values are not increasing (a row repeated or out of place)")
        return result
    raise ParseError(
        path, "neither lambda.x stdout ('lambda = ... at degauss=') nor its lambda.dat ('# degauss lambda ...')"
    )
