"""q2r.x input writer: dynamical matrices on the q-grid → real-space force constants.

With `la2F=.true.` q2r.x also Fourier-transforms the el-ph linewidths that ph.x left in
`elph_dir/` (needed by matdyn.x's `la2F`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from betenet.qe.namelist import format_namelist
from betenet.qe.params import deep_merge

ZASR = ("no", "simple", "crystal", "one-dim", "zero-dim")
Q2R_DEFAULTS: dict[str, Any] = {"fildyn": "dyn", "flfrc": "force_constants.fc", "zasr": "crystal"}


def write_q2r_input(parameters: Mapping[str, Any] | None = None) -> str:
    """The text of a q2r.x input: Q2R_DEFAULTS ← parameters (fildyn, flfrc, zasr, la2F)."""
    variables = deep_merge(Q2R_DEFAULTS, parameters)
    if variables["zasr"] not in ZASR:
        raise ValueError(f"Invalid zasr={variables['zasr']!r}, use one of {ZASR}")
    return format_namelist("input", variables)
