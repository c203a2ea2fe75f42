"""Mutated copies of the real QE outputs in fixtures/ through every parser (the CI test and the benchmark).

A case is (target, mutation, seed): the target's real file is mutated (cut at a byte or a line end, lines
dropped or duplicated, characters garbled, digits replaced, emptied, replaced by random bytes) and
written under its own name into a scratch folder, then parsed. Two rules are checked:
- the only exception is `ParseError`, and its message names the file;
- a structural mutation (cut, lines dropped or duplicated) that the parser accepts as a complete result
  has the original's table shape (rows, columns, q-points, smearings): a half-written file never becomes
  a shorter spectrum. A result that says it is unfinished (pw.x/ph.x without JOB DONE, epw.x before
  'Total program execution') is not complete and may be shorter.
Expected row counts come from the run's own input, as the workflow passes them (`ndos`, smearings,
EPW's `nqstep` and fine q-points × modes).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from betenet.parsers import (
    ParseError,
    parse_a2f_dos,
    parse_lambda_output,
    parse_matdyn_dos,
    parse_matdyn_freq,
    parse_matdyn_lambda,
    parse_ph_output,
    parse_pw_output,
)
from betenet.parsers.epw import parse_epw_a2f, parse_epw_linewidths, parse_epw_output, parse_epw_phdos

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AL = FIXTURES / "qe-6.7" / "al"
EPW_AL = FIXTURES / "qe-6.7" / "epw" / "al"
# fixtures/qe-6.7/al: matdyn_dos.in has ndos = 100; elph.in has el_ph_nsigma = 10
AL_NDOS, AL_NSIGMA = 100, 10
# fixtures/qe-6.7/epw/al: nqstep left at EPW's default 500, 16 fine q-points (fine_qpoints.txt),
EPW_NQSTEP, EPW_FINE_QPOINTS = 500, 16
EPW_NSMEAR = 10  # epw.in: nsmear = 10


def _ph_shape(out) -> Any:
    return (len(out.grid_q_points_cart_2pi_alat), tuple(
        (q.index, q.star_size, len(q.frequencies_cm1), tuple(len(e.lambda_per_mode) for e in q.elph))
        for q in out.q_points
    ))


@dataclass(frozen=True)
class Target:
    name: str
    path: Path
    parse: Callable[[Path], Any]
    shape: Callable[[Any], Any]  # what a cut or lost line must not change unnoticed
    complete: Callable[[Any], bool] = lambda result: True  # False: the result says it is unfinished


TARGETS = (
    Target("pw scf", AL / "scf.out", parse_pw_output,
           lambda o: (o.total_energy_ry, o.fermi_energy_ev, o.n_scf_iterations), lambda o: o.ok),
    Target("pw spin", FIXTURES / "qe-6.7" / "fe-spin" / "pw.out", parse_pw_output,
           lambda o: (o.total_energy_ry, o.total_magnetization_muB), lambda o: o.ok),
    Target("ph el-ph", AL / "elph.out", parse_ph_output, _ph_shape, lambda o: o.job_done and not o.errors),
    Target("matdyn dos", AL / "phonon.dos", lambda p: parse_matdyn_dos(p, n_points=AL_NDOS),
           lambda d: (d.omega_meV.shape, d.projected.shape)),
    Target("matdyn freq", AL / "matdyn.freq", parse_matdyn_freq, lambda f: f.frequencies_cm1.shape),
    Target("matdyn lambda", AL / "lambda", lambda p: parse_matdyn_lambda(p, n_smearings=AL_NSIGMA), len),
    *(Target(f"a2F.dos{i}", AL / f"a2F.dos{i}", lambda p: parse_a2f_dos(p, n_points=AL_NDOS),
             lambda s: (s.a2f.shape, s.a2f_per_mode.shape)) for i in (1, 4, 10)),
    Target("lambda.x stdout", AL / "lambda.out", lambda p: parse_lambda_output(p, n_smearings=AL_NSIGMA),
           lambda o: len(o.rows)),
    Target("lambda.x lambda.dat", AL / "lambda.dat", lambda p: parse_lambda_output(p, n_smearings=AL_NSIGMA),
           lambda o: len(o.rows)),
    Target("epw a2f", EPW_AL / "betenet.a2f.01.300.000", lambda p: parse_epw_a2f(p, n_points=EPW_NQSTEP),
           lambda a: (a.a2f.shape, a.lambda_per_phonon_smearing.shape)),
    Target("epw phdos", EPW_AL / "betenet.phdos.04.300.000", lambda p: parse_epw_phdos(p, n_points=EPW_NQSTEP),
           lambda d: d.dos_states_per_meV.shape),
    Target("epw linewidths", EPW_AL / "linewidth.phself.300.000K",
           lambda p: parse_epw_linewidths(p, n_qpoints=EPW_FINE_QPOINTS), lambda w: w.omega_meV.shape),
    Target("epw stdout", EPW_AL / "epw.out", lambda p: parse_epw_output(p, n_smearings=EPW_NSMEAR),
           lambda o: (len(o.smearings), len(o.lambda_per_smearing), o.n_fine_qpoints), lambda o: o.ok),
)


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _cut_at_byte(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def _cut_at_line_end(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    return b"".join(lines[: rng.randrange(len(lines))])


def _drop_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    start = rng.randrange(len(lines))
    count = 1 if rng.random() < 0.6 else rng.randint(2, 8)
    return b"".join(lines[:start] + lines[start + count:])


def _duplicate_line(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    at = rng.randrange(len(lines))
    return b"".join(lines[: at + 1] + lines[at:])


def _garble(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        out[rng.randrange(len(out))] = rng.choice(b"abcXYZ#*=()-+.,;:!? \t\n0123456789")
    return bytes(out)


def _replace_digits(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    digits = [i for i, b in enumerate(out) if 48 <= b <= 57]
    for i in rng.sample(digits, min(len(digits), rng.randint(1, 20))):
        out[i] = rng.choice(b"0123456789")
    return bytes(out)


def _empty(data: bytes, rng: random.Random) -> bytes:
    return rng.choice([b"", b"\n", b"   \n\n", b"\t"])


def _random_bytes(data: bytes, rng: random.Random) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randint(1, 4096)))


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "cut at a byte": _cut_at_byte,
    "cut at a line end": _cut_at_line_end,
    "lines dropped": _drop_lines,
    "line duplicated": _duplicate_line,
    "characters garbled": _garble,
    "digits replaced": _replace_digits,
    "emptied": _empty,
    "random bytes": _random_bytes,
}
STRUCTURAL = {"cut at a byte", "cut at a line end", "lines dropped", "line duplicated"}


@dataclass
class FuzzReport:
    outcomes: Counter = field(default_factory=Counter)  # (target, mutation, outcome) → cases
    failures: list[str] = field(default_factory=list)  # one line per broken rule

    @property
    def cases(self) -> int:
        return sum(self.outcomes.values())

    def count(self, outcome: str, target: str | None = None, mutation: str | None = None) -> int:
        return sum(n for (t, m, o), n in self.outcomes.items()
                   if o == outcome and target in (None, t) and mutation in (None, m))


def run_case(target: Target, mutation: str, seed: int, scratch: Path, originals: dict[str, Any]) -> tuple[str, str | None]:
    """(outcome, failure line or None); outcome: rejected | accepted | accepted, says unfinished."""
    rng = random.Random(f"{target.name}|{mutation}|{seed}")
    data = MUTATIONS[mutation](target.path.read_bytes(), rng)
    folder = scratch / "case"  # one case at a time: each overwrites the last
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / target.path.name  # the name matters (a2F.dosN carries its smearing index)
    path.write_bytes(data)
    where = f"{target.name} / {mutation} / seed {seed}"
    try:
        result = target.parse(path)
    except ParseError as err:
        return "rejected", None if str(path) in str(err) else f"{where}: ParseError without the file: {err}"
    except Exception as err:  # noqa: BLE001 - the rule under test: nothing but ParseError escapes
        return "other exception", f"{where}: {type(err).__name__}: {err}"
    if not target.complete(result):
        return "accepted, says unfinished", None
    if mutation in STRUCTURAL and target.shape(result) != originals[target.name]:
        return "accepted short", (f"{where}: accepted as complete with shape {target.shape(result)}, "
                                  f"the real file's is {originals[target.name]}")
    return "accepted", None


def run_fuzz(n_cases: int, seed: int, scratch: Path) -> FuzzReport:
    """`n_cases` cases spread evenly over targets × mutations, seeds from `seed` on (reproducible)."""
    originals = {t.name: t.shape(t.parse(t.path)) for t in TARGETS}
    combos = [(t, m) for t in TARGETS for m in MUTATIONS]
    report = FuzzReport()
    for i in range(n_cases):
        target, mutation = combos[i % len(combos)]
        outcome, failure = run_case(target, mutation, seed + i, scratch, originals)
        report.outcomes[(target.name, mutation, outcome)] += 1
        if failure:
            report.failures.append(failure)
    return report
