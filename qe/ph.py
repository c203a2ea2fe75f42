"""ph.x input writer: phonons on a q-grid (ldisp) or at one q, optionally with electron-phonon.

ph.x reads the crystal from pw.x's save folder, so only `prefix`/`outdir` must match the pw.x run
(the defaults here match `PW_DEFAULTS`). Everything in &inputph passes through: `tr2_ph`,
`electron_phonon`, `el_ph_sigma`, `el_ph_nsigma`, `fildvscf`, `fildyn`, `recover`, `start_q`,
`last_q`, `trans`, `alpha_mix` (as `{1: 0.3}`), `nmix_ph`, `max_seconds`, ...

Electron-phonon with `electron_phonon='interpolated'` needs a preceding pw.x scf with `la2F=.true.`
on a dense k-grid (same prefix/outdir), and the k-grid of the normal scf a multiple of the q-grid.
matdyn.x (QE 6.7) interpolates exactly the first 10 smearings, so keep `el_ph_nsigma ≥ 10` when the
chain goes on to matdyn with `la2F`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from betenet.qe.namelist import fixed, format_namelist
from betenet.qe.params import deep_merge

PH_DEFAULTS: dict[str, Any] = {
    "prefix": "betenet",
    "outdir": "./out",
    "fildyn": "dyn",
    "tr2_ph": 1e-14,
}
PH_PRESETS: dict[str, dict[str, Any]] = {
    "phonons": {},
    # The seed's el-ph settings (DESIGN.md): 30 smearings from 0.001 Ry in steps of 0.001 Ry.
    "elph": {
        "electron_phonon": "interpolated",
        "el_ph_sigma": 0.001,
        "el_ph_nsigma": 30,
        "fildvscf": "dvscf",
        "trans": True,
    },
}


def ph_parameters(preset: str, *overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """PH_DEFAULTS ← PH_PRESETS[preset] ← overrides, as a new dict."""
    if preset not in PH_PRESETS:
        raise ValueError(f"Invalid preset={preset!r}, use one of {tuple(PH_PRESETS)}")
    return deep_merge(PH_DEFAULTS, PH_PRESETS[preset], *overrides)


def write_ph_input(
    parameters: Mapping[str, Any],
    *,
    qgrid: Sequence[int] | None = None,
    qpoint: Sequence[float] | None = None,
    title: str = "phonons by betenet",
) -> str:
    """The text of a ph.x input.

    parameters: &inputph variables (flat), e.g. from `ph_parameters("elph", {...})`.
    qgrid: (nq1, nq2, nq3) → `ldisp=.true.` on that Γ-centred grid.
    qpoint: one q in Cartesian 2π/alat units → `ldisp=.false.` with the xq line. Give exactly one.
    """
    if (qgrid is None) == (qpoint is None):
        raise ValueError("give exactly one of qgrid=(nq1, nq2, nq3) (ldisp) or qpoint=(qx, qy, qz)")
    clash = {"ldisp", "nq1", "nq2", "nq3", "qplot"} & set(parameters)
    if clash:
        raise ValueError(f"{sorted(clash)} are set by write_ph_input from qgrid/qpoint; remove them")
    nsigma = parameters.get("el_ph_nsigma")
    if nsigma is not None and not 1 <= int(nsigma) <= 50:
        raise ValueError(f"el_ph_nsigma={nsigma} outside 1..50 (lambda.x reads at most 50 smearings)")
    if "\n" in title:
        raise ValueError("the ph.x title is one line")

    variables = dict(parameters)
    if qgrid is not None:
        grid = [int(n) for n in qgrid]
        if len(grid) != 3 or any(n < 1 for n in grid):
            raise ValueError(f"qgrid is three positive integers, got {qgrid!r}")
        variables.update(ldisp=True, nq1=grid[0], nq2=grid[1], nq3=grid[2])
        tail = ""
    else:
        q = [float(x) for x in qpoint]
        if len(q) != 3:
            raise ValueError(f"qpoint is three numbers, got {qpoint!r}")
        variables["ldisp"] = False
        tail = f"  {fixed(q[0])} {fixed(q[1])} {fixed(q[2])}\n"
    return f"{title}\n" + format_namelist("inputph", variables) + tail
