"""The `save/` folder EPW reads its phonons from: our equivalent of EPW's `pp.py`, as plain file copies.

For every irreducible q-point i of the ph.x run(s) (one run, or several q-split runs):
    <fildyn><i>                                   → save/<prefix>.dyn_q<i>
    <outdir>/_ph0/<prefix>.dvscf1          (i = 1) → save/<prefix>.dvscf_q<i>
    <outdir>/_ph0/<prefix>.q_<i>/<prefix>.dvscf1   → save/<prefix>.dvscf_q<i>   (i > 1)
    <outdir>/_ph0/<prefix>.phsave/*                → save/<prefix>.phsave/     (merged over the runs)
ph.x writes the dvscf files only with `fildvscf` set. Norm-conserving, no spin-orbit (the cases
pp.py copies the same way; PAW's dvscf_paw files are not handled).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from atomate2.utils.path import strip_hostname

from betenet.parsers.ph import parse_ph_output


def _dvscf_source(ph_dir: Path, outdir: str, prefix: str, iq: int) -> Path:
    ph0 = ph_dir / outdir / "_ph0"
    return ph0 / f"{prefix}.dvscf1" if iq == 1 else ph0 / f"{prefix}.q_{iq}" / f"{prefix}.dvscf1"


def _find(candidates: list[Path], what: str, hint: str) -> Path:
    for path in candidates:
        if path.is_file() and path.stat().st_size > 0:
            return path
    raise FileNotFoundError(f"{what} not found (looked for {[str(p) for p in candidates]}): {hint}")


def collect_save(ph_dirs: list[str | Path], dest: str | Path, *, prefix: str, fildyn: str = "dyn",
                 outdir: str = "out", ph_label: str = "ph") -> int:
    """Build `<dest>/save` from the ph.x run folder(s); returns the number of irreducible q-points."""
    sources = [Path(strip_hostname(str(d))) for d in ph_dirs]
    n_q = len(parse_ph_output(sources[0] / f"{ph_label}.out").grid_q_points_cart_2pi_alat)
    save = Path(dest) / "save"
    save.mkdir(parents=True, exist_ok=True)
    for iq in range(1, n_q + 1):
        dyn = _find([d / f"{fildyn}{iq}" for d in sources], f"dynamical matrix {fildyn}{iq}",
                    "a q-split ph.x run is missing")
        dvscf = _find([_dvscf_source(d, outdir, prefix, iq) for d in sources], f"dvscf of q-point {iq}",
                      "ph.x must run with fildvscf set (and the same prefix/outdir) for EPW")
        shutil.copyfile(dyn, save / f"{prefix}.dyn_q{iq}")
        shutil.copyfile(dvscf, save / f"{prefix}.dvscf_q{iq}")
    phsaves = [d / outdir / "_ph0" / f"{prefix}.phsave" for d in sources]
    if not any(p.is_dir() for p in phsaves):
        raise FileNotFoundError(f"no {prefix}.phsave folder in {[str(p) for p in phsaves]}")
    for phsave in phsaves:
        if phsave.is_dir():
            shutil.copytree(phsave, save / f"{prefix}.phsave", dirs_exist_ok=True)
    return n_q
