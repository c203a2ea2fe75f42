"""960 seeded mutations of the real QE outputs (tests/parser_fuzz.py): nothing but a ParseError naming
the file, and no cut or row-dropped table accepted as complete. The ≥ 10,000-case run is
benchmarks/parser_fuzz.py."""

from __future__ import annotations

import pytest

from betenet.parsers import ParseError, parse_matdyn_dos, parse_matdyn_lambda
from tests.parser_fuzz import AL, AL_NDOS, AL_NSIGMA, MUTATIONS, STRUCTURAL, TARGETS, run_fuzz

PER_PAIR = 8
N_CASES = PER_PAIR * len(TARGETS) * len(MUTATIONS)  # 960: 8 cases for every (target, mutation) pair


def test_mutated_real_outputs_give_parse_errors_and_no_short_tables(tmp_path):
    report = run_fuzz(N_CASES, seed=20261201, scratch=tmp_path)
    assert report.cases == N_CASES
    assert report.failures == [], "\n".join(report.failures[:20])
    # every target met every mutation, and the cuts were really caught (not skipped or accepted whole)
    for target in TARGETS:
        for mutation in MUTATIONS:
            assert sum(n for (t, m, _), n in report.outcomes.items() if (t, m) == (target.name, mutation)) == PER_PAIR
    for target in TARGETS:
        caught = sum(report.count(outcome, target.name, m) for m in STRUCTURAL
                     for outcome in ("rejected", "accepted, says unfinished"))
        assert caught > 0, target.name


def _rows_cut(source, tmp_path, keep: int):
    lines = source.read_text().splitlines(keepends=True)
    path = tmp_path / source.name
    path.write_text("".join(lines[:keep]))
    return path


@pytest.mark.parametrize("keep", [30, 60, 90, 100])  # header + 29…99 of the 100 rows
def test_a_phonon_dos_cut_at_a_row_is_refused(tmp_path, keep):
    path = _rows_cut(AL / "phonon.dos", tmp_path, keep)
    with pytest.raises(ParseError, match=rf"{keep - 1} DOS rows, expected {AL_NDOS}"):
        parse_matdyn_dos(path, n_points=AL_NDOS)
    with pytest.raises(ParseError, match="does not reach the top frequency"):
        parse_matdyn_dos(path)  # without the input's ndos the DOS left at the last row gives it away


def test_a_matdyn_lambda_file_cut_at_a_row_is_refused(tmp_path):
    path = _rows_cut(AL / "lambda", tmp_path, 7)  # blank, title, blank, 4 of the 10 rows
    with pytest.raises(ParseError, match=rf"4 'Broadening' rows, expected {AL_NSIGMA}"):
        parse_matdyn_lambda(path, n_smearings=AL_NSIGMA)


def test_a_row_cut_inside_its_last_number_is_refused(tmp_path):
    path = tmp_path / "lambda"
    path.write_text((AL / "lambda").read_text().rstrip("\n")[:-3])  # '298.5939' → '298.5'
    with pytest.raises(ParseError, match="has no line end"):
        parse_matdyn_lambda(path)
