"""The MLIP pre-gate measured: what it would skip among structures DFT calls stable (the campaign)
and among genuinely unstable ones, and the QE time it would save.

For every structure of fixtures/campaign/structures (the DFT status where the campaign computed
it, from its documents and reruns) and for hand-made unstable cells, the potential's lowest frequency
on the workflow's own cell (`qe_symmetric_cell`, as `mlip_pregate` sees it) and whether the pre-gate at
`--threshold` would skip it. QE time saved: for campaign materials the stored QE wall time of what would
not have run (the whole document); for the hand-made cells, which DFT never ran here, an estimate: the
median scf + coarse-phonon time of the campaign's one-atom cells, times 3 (the gate plus the remedy
ladder's 2 reruns that a `genuine` finding gets) — marked as an estimate.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mlip_pregate.py [--potential sevennet-0] [--threshold 15]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from ase.build import bulk
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from betenet.phonons.mlip import MlipPhononCalculator, PhononSettings
from betenet.qe.structure import qe_symmetric_cell
from betenet.store.documents import structure_fingerprint
from betenet.store.transfer import read_documents
from betenet.workflows.pregate import pregate_finding, skip_reason

REPO = Path(__file__).resolve().parents[1]
COARSE_STEPS = ("scf", "ph_coarse", "q2r_coarse", "matdyn_coarse")


def unstable_cells() -> dict[str, Structure]:
    """Cells DFT and experiment call dynamically unstable at 0 K."""
    fcc = bulk("Al", "fcc", a=4.04)
    expanded, stretched = fcc.copy(), fcc.copy()
    expanded.set_cell(fcc.cell[:] * 1.15, scale_atoms=True)  # +52 % volume
    stretched.set_cell(fcc.cell[:] @ np.diag([1.0, 1.0, 1.25]), scale_atoms=True)
    cells = {"sc Al (a 2.70 Å)": Structure(Lattice.cubic(2.70), ["Al"], [[0, 0, 0]]),
             "bcc Al (a 3.24 Å)": bulk("Al", "bcc", a=3.24), "bcc Zr (a 3.57 Å, 0 K)": bulk("Zr", "bcc", a=3.57),
             "fcc Al, a × 1.15": expanded, "fcc Al, one cell vector × 1.25": stretched}
    return {k: v if isinstance(v, Structure) else AseAtomsAdaptor.get_structure(v) for k, v in cells.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--potential", default="sevennet-0")
    parser.add_argument("--threshold", type=float, default=15.0)
    parser.add_argument("--cache", default="betenet-data/mlip-phonons-benchmark")
    args = parser.parse_args()
    torch.set_num_threads(1)
    docs = [d for path in ("campaign", "stability-reruns")
            for d in read_documents(REPO / "fixtures" / path / "documents.json.gz")]
    by_fingerprint: dict[str, list] = {}
    for doc in docs:  # reruns come last: they are the current verdict
        by_fingerprint.setdefault(structure_fingerprint(doc.input_structure or doc.structure), []).append(doc)
    one_atom = [sum(d.provenance.wall_times_s.get(k, 0.0) for k in COARSE_STEPS) for d in docs if len(d.structure) == 1]
    estimate_s = 3 * float(np.median(one_atom))
    calculator = MlipPhononCalculator(PhononSettings(potential=args.potential),
                                      cache_dir=Path(args.cache) / args.potential)
    rows = []
    cases = [(p.stem, Structure.from_file(p), "campaign")
             for p in sorted((REPO / "fixtures/campaign/structures").glob("*.cif"))]
    cases += [(name, s, "unstable") for name, s in unstable_cells().items()]
    start = time.perf_counter()
    for name, structure, kind in cases:
        found = by_fingerprint.get(structure_fingerprint(structure), [])
        doc = found[-1] if found else None
        try:
            finding = pregate_finding(qe_symmetric_cell(structure), args.potential, args.threshold, calculator)
        except ValueError as err:
            rows.append((name, kind, doc, None, str(err)))
            continue
        rows.append((name, kind, doc, finding, None))
    wall = time.perf_counter() - start
    print(f"{args.potential} ({calculator.potential_version}), threshold −{args.threshold:g} meV; {len(rows)} structures "
          f"in {wall:.0f} s (cached ones cost nothing)\n")
    print("| structure | set | DFT status (cause) | MLIP lowest (meV) at q | pre-gate | QE time it would save |")
    print("| --- | --- | --- | ---: | --- | ---: |")
    saved_s, wrongly = 0.0, []
    for name, kind, doc, finding, error in rows:
        status = f"{doc.status} ({doc.stability.cause})" if doc is not None and doc.stability and doc.stability.cause \
            else doc.status if doc is not None else ("not computed" if kind == "campaign" else "unstable (literature)")
        if finding is None:
            print(f"| {name} | {kind} | {status} | no phonons: {error[:60]}… | runs DFT (no finding) | – |")
            continue
        q = ",".join(f"{x:.2f}" for x in finding.q_crystal)
        skipped = skip_reason(finding) is not None
        save = ""
        if skipped and doc is not None:
            save_s = sum(doc.provenance.wall_times_s.values())
            saved_s += save_s
            save = f"{save_s:.0f} s (stored)"
            if doc.status == "ok" or (doc.stability and doc.stability.cause == "acoustic_gamma"):
                wrongly.append(name)
        elif skipped and kind == "unstable":
            saved_s += estimate_s
            save = f"≈ {estimate_s:.0f} s (estimate)"
        elif skipped:
            save = "(never computed)"
        print(f"| {name} | {kind} | {status} | {finding.lowest_frequency_meV:.2f} ({q}) | "
              f"{'**skipped**' if skipped else 'runs DFT'} | {save or '–'} |")
    n_skip = {k: sum(1 for _, kind, _, f, _ in rows if kind == k and f is not None and skip_reason(f)) for k in
              ("campaign", "unstable")}
    print(f"\nskipped: {n_skip['campaign']} of {sum(1 for r in rows if r[1] == 'campaign')} campaign structures, "
          f"{n_skip['unstable']} of {sum(1 for r in rows if r[1] == 'unstable')} unstable cells; DFT-stable ones "
          f"skipped: {', '.join(wrongly) or 'none'}; QE time saved ≈ {saved_s / 3600:.2f} h "
          f"(estimate per unstable cell {estimate_s:.0f} s = 3 × median one-atom scf + coarse phonons)")


if __name__ == "__main__":
    main()
