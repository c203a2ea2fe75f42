"""QE 7.x stdout layout: fixtures/qe-7/al holds our QE 6.7 outputs rewritten in that layout
(see its README); the parsers must read the same numbers from both."""

from __future__ import annotations

import numpy as np
import pytest

from betenet.parsers import parse_ph_output, parse_pw_output
from betenet.parsers._common import clock_to_seconds
from conftest import FIXTURES

QE67 = FIXTURES / "qe-6.7" / "al"
QE7 = FIXTURES / "qe-7" / "al"


@pytest.mark.parametrize("name", ["scf.out", "scf_fit.out"])
def test_pw_reads_the_same_in_both_layouts(name):
    old, new = parse_pw_output(QE67 / name), parse_pw_output(QE7 / name)
    assert new.qe_version == "7.2" and old.qe_version.startswith("6.7")
    assert new.ok
    for field in ("calculation", "total_energy_ry", "fermi_energy_ev", "n_scf_iterations", "wall_time_s",
                  "n_atoms", "n_kpoints", "cell_volume_bohr3"):
        assert getattr(new, field) == getattr(old, field), field


def test_ph_reads_the_same_in_both_layouts():
    old, new = parse_ph_output(QE67 / "elph.out"), parse_ph_output(QE7 / "elph.out")
    assert new.qe_version == "7.2" and new.ok and new.complete
    assert new.q_grid == old.q_grid and len(new.q_points) == len(old.q_points)
    for a, b in zip(old.q_points, new.q_points):
        assert a.index == b.index and a.star_size == b.star_size
        assert np.array_equal(a.frequencies_cm1, b.frequencies_cm1)
        assert np.array_equal(a.lambda_per_mode, b.lambda_per_mode)
        assert [irrep.converged for irrep in b.irreps] == [irrep.converged for irrep in a.irreps]


@pytest.mark.parametrize(
    ("clock", "seconds"),
    [("0.08s", 0.08), ("2m40.10s", 160.10), ("3m11.61s", 191.61), ("1h23m", 4980.0), ("1d 2h 3m", 93780.0)],
)
def test_qe_clock_formats(clock, seconds):
    # Long runs print minutes/hours (e.g. QE 7.5's `PHONON : 2m40.10s CPU 3m11.61s WALL`).
    assert clock_to_seconds(clock) == pytest.approx(seconds)
