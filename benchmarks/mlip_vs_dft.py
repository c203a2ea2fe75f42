"""Universal-potential phonons against this project's own DFT: every stored document with a DFT coarse
site PhDOS (fixtures/campaign, and the preset-fast reruns of fixtures/stability-reruns), for each potential of
`betenet.phonons.potentials`.

Per material and potential: mean and top phonon frequency (MLIP / DFT), the earth-mover's distance
between the two 51-bin spectra (sites summed, each normalised to 1; meV), the largest per-site weight
difference (∫ site DOS / ∫ total), and the stability verdicts (DFT status; the potential's lowest
frequency on a 16³ mesh). Then: does one frequency scale factor remove the softening? It is fitted
leave-one-out (the median MLIP/DFT mean-frequency ratio of the *other* materials) and the EMD after
scaling is reported beside the raw one.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mlip_vs_dft.py [--potentials sevennet-0,...] [--markdown]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import wasserstein_distance

from betenet.dataset.build import site_phdos_rows
from betenet.phonons.mlip import MlipPhononCalculator, PhononSettings
from betenet.phonons.potentials import POTENTIALS
from betenet.physics import MODEL_GRID_MEV, to_model_grid
from betenet.store.transfer import read_documents

REPO = Path(__file__).resolve().parents[1]
SOURCES = {"campaign": REPO / "fixtures/campaign/documents.json.gz",
           "rerun": REPO / "fixtures/stability-reruns/documents.json.gz"}


def mean_and_top_meV(omega_meV, dos) -> tuple[float, float]:
    """First moment of the positive-frequency DOS, and the highest frequency with DOS above 1 % of its peak."""
    omega, dos = np.asarray(omega_meV), np.asarray(dos)
    positive = omega > 0
    mean = float(np.trapezoid(dos[positive] * omega[positive], omega[positive]) / np.trapezoid(dos[positive], omega[positive]))
    top = float(omega[np.nonzero(dos > 0.01 * dos.max())[0][-1]])
    return mean, top


def dft_lowest_meV(doc) -> float:
    """The lowest DFT frequency the verdict saw: coarse grid, or the el-ph grid's where that is lower."""
    if doc.stability is None:
        return float("nan")
    values = [v for v in (doc.stability.lowest_frequency_meV, doc.stability.elph_lowest_frequency_meV) if v is not None]
    return min(values)


def site_weights(dos) -> np.ndarray:
    projected = np.asarray(dos.projected_states_per_meV)
    weights = np.trapezoid(projected, dos.omega_meV, axis=1)
    return weights / weights.sum()


def emd_meV(rows_a, rows_b) -> float:
    a, b = np.asarray(rows_a).sum(axis=0), np.asarray(rows_b).sum(axis=0)
    return float(wasserstein_distance(MODEL_GRID_MEV, MODEL_GRID_MEV, a, b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--potentials", default=",".join(POTENTIALS))
    parser.add_argument("--cache", default="betenet-data/mlip-phonons-benchmark")
    args = parser.parse_args()
    torch.set_num_threads(1)
    docs = [(source, d) for source, path in SOURCES.items() for d in read_documents(path)
            if d.phonon_dos_coarse is not None]
    print(f"{len(docs)} documents with a DFT coarse site PhDOS")
    for name in args.potentials.split(","):
        calculator = MlipPhononCalculator(PhononSettings(potential=name), cache_dir=Path(args.cache) / name)
        rows, failed, start = [], [], time.perf_counter()
        for source, doc in docs:
            dft = doc.phonon_dos_coarse
            try:
                mlip = calculator.phonons(doc.structure)
            except ValueError as err:
                failed.append(f"{doc.formula_pretty} ({source}): {err}")
                continue
            dft_rows = site_phdos_rows(dft, doc.structure, doc.calc_id, "coarse")
            mlip_rows = site_phdos_rows(mlip.dos, doc.structure, doc.calc_id, "MLIP")
            (dft_mean, dft_top), (mlip_mean, mlip_top) = (mean_and_top_meV(d.omega_meV, d.total_states_per_meV)
                                                          for d in (dft, mlip.dos))
            rows.append({"material": doc.formula_pretty, "source": source, "status": doc.status,
                         "dft_lowest": dft_lowest_meV(doc),
                         "dft_mean": dft_mean, "mlip_mean": mlip_mean, "dft_top": dft_top, "mlip_top": mlip_top,
                         "emd": emd_meV(dft_rows, mlip_rows), "mlip": mlip, "dft_rows": dft_rows,
                         "weight": float(np.abs(site_weights(dft) - site_weights(mlip.dos)).max()),
                         "n_sites": len(dft.site_labels)})
        wall = time.perf_counter() - start
        ratios = np.array([r["mlip_mean"] / r["dft_mean"] for r in rows])
        for i, r in enumerate(rows):  # leave-one-out scale: the median ratio of the other materials
            scale = float(np.median(np.delete(ratios, i)))
            dos = r["mlip"].dos
            scaled = to_model_grid(np.asarray(dos.omega_meV) / scale, np.asarray(dos.projected_states_per_meV) * scale)
            r["emd_scaled"] = emd_meV(r["dft_rows"], scaled)
        print(f"\n### {name} ({calculator.potential_version}); {wall:.0f} s for {len(rows)} documents "
              "(cached ones cost nothing)\n")
        print("| material | source | DFT status | DFT lowest, coarse or el-ph grid (meV) | MLIP lowest (meV) at q | mean ω DFT / MLIP (meV) | "
              "ratio | top ω DFT / MLIP (meV) | EMD (meV) | EMD scaled (meV) |")
        print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in rows:
            low = r["mlip"].lowest
            q = ",".join(f"{x:.2f}" for x in low.q_crystal)
            print(f"| {r['material']} | {r['source']} | {r['status']} | {r['dft_lowest']:.2f} | {low.frequency_meV:.2f} ({q}) | "
                  f"{r['dft_mean']:.1f} / {r['mlip_mean']:.1f} | {r['mlip_mean'] / r['dft_mean']:.2f} | "
                  f"{r['dft_top']:.1f} / {r['mlip_top']:.1f} | {r['emd']:.2f} | {r['emd_scaled']:.2f} |")
        log_r = np.corrcoef(np.log([r["dft_mean"] for r in rows]), np.log([r["mlip_mean"] for r in rows]))[0, 1]
        q1, q2, q3 = np.percentile(ratios, [25, 50, 75])
        emd, emd_scaled = np.array([r["emd"] for r in rows]), np.array([r["emd_scaled"] for r in rows])
        top_ratio = np.median([r["mlip_top"] / r["dft_top"] for r in rows])
        imaginary = [r["material"] for r in rows if r["mlip"].lowest.frequency_meV < -0.5]
        print(f"\nmean-frequency ratio MLIP/DFT: median {q2:.2f} (IQR {q1:.2f}–{q3:.2f}); top-frequency ratio median "
              f"{top_ratio:.2f}; corr(log mean) {log_r:.3f}; EMD median {np.median(emd):.2f} meV (mean {emd.mean():.2f}) → "
              f"after the leave-one-out scale {np.median(emd_scaled):.2f} meV (mean {emd_scaled.mean():.2f}); "
              f"largest site-weight difference {max(r['weight'] for r in rows):.3f} (all {set(r['n_sites'] for r in rows)} "
              f"site(s)); MLIP lowest < −0.5 meV: {', '.join(imaginary) or 'none'}")
        for line in failed:
            print(f"no MLIP phonons: {line}")


if __name__ == "__main__":
    main()
