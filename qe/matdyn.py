"""matdyn.x input writer: phonon DOS (+ α²F with `la2F`) on a q-grid, or frequencies on a q-list.

DOS mode (`dos_grid=(nk1, nk2, nk3)`): tetrahedron DOS into `fldos` with per-atom projections after
the total; with `la2F=.true.` also `a2F.dos1..10` and the `lambda` file (QE 6.7 interpolates the
first 10 el-ph smearings only, and at most 50 modes, i.e. nat ≤ 16). The energy axis is set by
`ndos` (number of points from the lowest to the highest frequency) or `deltaE` (cm⁻¹).
List mode (`qpoints=`): frequencies at the given q-points (crystal coordinates) into `flfrq`; with
`points_per_segment` the points are path corners and matdyn fills each segment (band form).
The force constants (`flfrc`) come from q2r.x; masses default to those stored there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from betenet.qe.namelist import fixed, format_namelist
from betenet.qe.params import deep_merge

ASR = ("no", "simple", "crystal", "one-dim", "zero-dim")
DEFAULT_NDOS = 200  # points of the DOS and α²F axes the workflow asks matdyn.x for (and phonopy DOS gets)
MATDYN_DEFAULTS: dict[str, Any] = {"flfrc": "force_constants.fc", "asr": "crystal"}
# Separate default file names per mode, so a DOS run never overwrites a band run's files.
_MODE_DEFAULTS = {
    "dos": {"fldos": "phonon.dos", "flfrq": "phonon_dos.freq", "flvec": "phonon_dos.modes"},
    "list": {"flfrq": "matdyn.freq", "flvec": "matdyn.modes"},
}
_WRITER_OWNED = {"dos", "nk1", "nk2", "nk3", "q_in_band_form", "q_in_cryst_coord"}


def write_matdyn_input(
    parameters: Mapping[str, Any] | None = None,
    *,
    dos_grid: Sequence[int] | None = None,
    qpoints: Sequence[Sequence[float]] | np.ndarray | None = None,
    points_per_segment: Sequence[int] | None = None,
) -> str:
    """The text of a matdyn.x input; give exactly one of `dos_grid` or `qpoints`.

    parameters: &input variables (flfrc, asr, la2F, ndos or deltaE, fldos, flfrq, amass, ...).
    qpoints: (N, 3) crystal coordinates. points_per_segment: N integers, the number of points from
        each corner to the next (the last is ignored by matdyn, write 1) → `q_in_band_form`.
    """
    if (dos_grid is None) == (qpoints is None):
        raise ValueError("give exactly one of dos_grid=(nk1, nk2, nk3) or qpoints=[[q1, q2, q3], ...]")
    parameters = dict(parameters or {})
    clash = _WRITER_OWNED & set(parameters)
    if clash:
        raise ValueError(f"{sorted(clash)} are set by write_matdyn_input from dos_grid/qpoints; remove them")
    mode = "dos" if dos_grid is not None else "list"
    variables = deep_merge(MATDYN_DEFAULTS, _MODE_DEFAULTS[mode], parameters)
    if variables["asr"] not in ASR:
        raise ValueError(f"Invalid asr={variables['asr']!r}, use one of {ASR}")

    if mode == "dos":
        grid = [int(n) for n in dos_grid]
        if len(grid) != 3 or any(n < 1 for n in grid):
            raise ValueError(f"dos_grid is three positive integers, got {dos_grid!r}")
        if "ndos" in variables and "deltaE" in variables:
            raise ValueError("give ndos or deltaE, not both (matdyn ignores deltaE when ndos > 1)")
        variables.update(dos=True, nk1=grid[0], nk2=grid[1], nk3=grid[2])
        return format_namelist("input", variables)

    q = np.asarray(qpoints, dtype=float)
    if q.ndim != 2 or q.shape[1] != 3 or len(q) == 0:
        raise ValueError(f"qpoints has shape (N, 3) in crystal coordinates, got {q.shape}")
    variables.update(dos=False, q_in_cryst_coord=True)
    if points_per_segment is None:
        rows = [f"  {fixed(a)} {fixed(b)} {fixed(c)}\n" for a, b, c in q]
    else:
        counts = [int(n) for n in points_per_segment]
        if len(counts) != len(q) or any(n < 0 for n in counts):
            raise ValueError(f"points_per_segment needs {len(q)} non-negative integers, got {points_per_segment!r}")
        variables["q_in_band_form"] = True
        rows = [f"  {fixed(a)} {fixed(b)} {fixed(c)} {n}\n" for (a, b, c), n in zip(q, counts)]
    return format_namelist("input", variables) + f"  {len(q)}\n" + "".join(rows)
