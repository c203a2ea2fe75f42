"""Every deliberately broken file in fixtures/broken/ gets a ParseError naming the file and the defect."""

from __future__ import annotations

import pytest

from betenet.parsers import (
    ParseError,
    parse_a2f_dos,
    parse_lambda_output,
    parse_matdyn_dos,
    parse_matdyn_freq,
    parse_ph_output,
    parse_pw_output,
)
from conftest import FIXTURES

BROKEN = FIXTURES / "broken"

CASES = [
    # (file, parser, words the message must contain)
    ("empty.out", parse_pw_output, "file is empty"),
    ("empty.out", parse_ph_output, "file is empty"),
    ("pw_truncated.out", parse_pw_output, "truncated pw.x output: no 'JOB DONE.'"),
    ("ph_truncated.out", parse_ph_output, "truncated ph.x output"),
    ("ph_no_frequencies.out", parse_ph_output, "frequencies missing"),
    ("text_row.a2F.dos3", parse_a2f_dos, "is not numeric"),
    ("wrong_columns.a2F.dos3", parse_a2f_dos, "columns, expected 5"),
    ("truncated.a2F.dos3", parse_a2f_dos, "truncated a2F.dos file"),
    ("foreign_electronic.dos", parse_matdyn_dos, "not a matdyn.x phonon DOS file"),
    ("truncated.matdyn.freq", parse_matdyn_freq, "truncated or wrong header"),
    ("lambda_x_no_tc_table.out", parse_lambda_output, "truncated lambda.x output"),
    ("foreign_electronic.dos", parse_pw_output, "not a pw.x output"),
    ("missing.out", parse_pw_output, "no such file"),
]


@pytest.mark.parametrize(("name", "parser", "words"), CASES, ids=[f"{c[0]}-{c[1].__name__}" for c in CASES])
def test_broken_file_raises_a_clear_parse_error(name, parser, words):
    path = BROKEN / name
    with pytest.raises(ParseError) as caught:
        parser(path)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.path == path
    assert str(path) in str(error)
    assert words in error.reason


def test_line_numbers_point_at_the_bad_row():
    with pytest.raises(ParseError) as caught:
        parse_a2f_dos(BROKEN / "text_row.a2F.dos3")
    line = int(caught.value.reason.split()[1])
    bad = (BROKEN / "text_row.a2F.dos3").read_text().splitlines()[line - 1]
    assert "frequencies in Rydberg, see above" in bad
