#!/usr/bin/env python
"""Eliashberg Tc: timing on one core, and Allen–Dynes vs Eliashberg for the campaign's documents.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/eliashberg.py [--repeats 7]

Times `betenet.eliashberg.eliashberg_tc` (μ* = 0.10, default cutoff 10 × ω_max) on
  - 51-bin spectra: the campaign's stored α²F of Ta, Mo and Al through `physics.to_model_grid`
    (first_bin=1, as the model's moments);
  - raw QE spectra: matdyn's a2F.dos4 of QE's ph_metal Al (100 points) and the 200-point stored α²F of
    Al, Ta, W;
then prints λ, ω_log, Allen–Dynes Tc (the document's) and Eliashberg Tc for every `ok` document of
fixtures/campaign/documents.json.gz, and what the choice of μ*'s reference frequency (ω_max, ω_log
or ω₂ in μ*(ω_c) = μ*/(1 + μ* ln(ω_ref/ω_c))) does to the agreement with Allen–Dynes.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before NumPy loads its BLAS: the goal is one core

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from betenet import physics  # noqa: E402
from scipy.optimize import brentq  # noqa: E402

from betenet.eliashberg import (  # noqa: E402
    CUTOFF_FACTOR,
    check_spectrum,
    eliashberg_tc,
    gap_eigenvalue,
    mu_star_at_cutoff,
)
from betenet.parsers.a2f import parse_a2f_dos  # noqa: E402
from betenet.store.transfer import read_documents  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def timed(repeats: int, *args, **kwargs):
    """(result, min s, median s) of `eliashberg_tc(*args, **kwargs)` over `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = eliashberg_tc(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return result, min(times), float(np.median(times))


def tc_text(result) -> str:
    return f"{result.tc_K:.3f}" if result.tc_K is not None else f"< {result.below_K:g}"


def tc_with_reference(spectrum, omega_ref_meV: float, mu_star: float) -> float:
    """Eliashberg Tc (K) with μ* referred to `omega_ref_meV` instead of ω_max (default cutoff)."""
    omega_c = CUTOFF_FACTOR * spectrum.omega_max_meV
    mu_c = mu_star_at_cutoff(mu_star, omega_ref_meV, omega_c)

    def rho_minus_one(t_K):
        return gap_eigenvalue(spectrum.omega_meV, spectrum.a2f, t_K, mu_c, omega_c) - 1.0

    return brentq(rho_minus_one, 0.1, physics.mev_to_kelvin(spectrum.omega_max_meV) / 3, rtol=1e-5)


def model_spectra():
    """Debye (α²F ∝ ω² below 30 meV) and two-peak (12 and 28 meV) spectra, λ = 0.5 … 4; and an unusual,
    hydride-like bimodal one: half of λ from a soft 5 meV mode, half from a 150 meV mode."""
    omega = np.arange(0.1, 60.0, 0.1)
    shapes = {
        "Debye": np.where(omega < 30.0, omega**2, 0.0),
        "two-peak": np.exp(-0.5 * ((omega - 12) / 2.5) ** 2) + 0.8 * np.exp(-0.5 * ((omega - 28) / 3.0) ** 2),
    }
    def unit_lambda(omega_meV, shape):
        return shape / physics.lambda_from_a2f(omega_meV, shape)

    for name, shape in shapes.items():
        for lam in (0.5, 1.0, 1.5, 2.5, 4.0):
            yield f"{name} λ = {lam}", omega, lam * unit_lambda(omega, shape)
    omega = np.arange(0.2, 200.0, 0.2)
    peaks = [(5.0, 1.0), (150.0, 8.0)]  # (centre, width) meV
    bimodal = sum(unit_lambda(omega, np.exp(-0.5 * ((omega - peak) / width) ** 2)) for peak, width in peaks)
    for lam in (1.0, 2.0, 3.0):
        yield f"bimodal 5 + 150 meV, λ = {lam}", omega, lam / 2 * bimodal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    docs = [d for d in read_documents(FIXTURES / "campaign" / "documents.json.gz") if d.status == "ok"]
    by_name = {d.formula_pretty: d for d in docs}
    print(f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, {args.repeats} repeats\n")

    print("| spectrum | points | Tc (K) | N Matsubara at Tc | min ms | median ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    cases = []
    for name in ("Ta", "Mo", "Al"):
        doc = by_name[name]
        cases.append((f"{name}, 51-bin model grid", physics.MODEL_GRID_MEV,
                      physics.to_model_grid(doc.a2f.omega_meV, doc.a2f.a2f), {"first_bin": 1}))
    raw = parse_a2f_dos(FIXTURES / "qe-6.7" / "al" / "a2F.dos4")
    cases.append(("Al, QE ph_metal a2F.dos4 (raw)", raw.omega_meV, raw.a2f, {}))
    for name in ("Al", "Ta", "W"):
        doc = by_name[name]
        cases.append((f"{name}, stored α²F (raw, 0.020 Ry)", doc.a2f.omega_meV, doc.a2f.a2f, {}))
    for label, omega, a2f, kwargs in cases:
        result, best, median = timed(args.repeats, omega, a2f, **kwargs)
        print(f"| {label} | {np.size(omega)} | {tc_text(result)} | {result.n_matsubara} | "
              f"{best * 1e3:.1f} | {median * 1e3:.1f} |")

    print("\n| material | λ | ω_log (K) | ω₂/ω_log | neg. weight % of λ | Allen–Dynes Tc (K) "
          "| Eliashberg Tc (K) | Eliashberg / AD | μ*(ω_c) | ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for doc in sorted(docs, key=lambda d: -d.lambda_):
        result, best, _ = timed(1, doc.a2f.omega_meV, doc.a2f.a2f, mu_star=doc.a2f.mu_star)
        ratio = f"{result.tc_K / doc.tc_K:.3f}" if result.tc_K is not None and doc.tc_K > 0 else "–"
        print(f"| {doc.formula_pretty} | {doc.lambda_:.3f} | {doc.omega_log_K:.1f} | "
              f"{doc.omega_2_K / doc.omega_log_K:.3f} | {100 * result.negative_fraction:.2f} | "
              f"{doc.tc_K:.3g} | {tc_text(result)} | {ratio} | {result.mu_star_c:.4f} | {best * 1e3:.1f} |")

    print("\n| spectrum (μ* = 0.10) | Allen–Dynes Tc (K) | Eliashberg / AD, ω_ref = ω_max | ω_log | ω₂ |")
    print("| --- | ---: | ---: | ---: | ---: |")
    real = [(d.formula_pretty, d.a2f.omega_meV, d.a2f.a2f) for d in docs if d.lambda_ > 0.4]
    for label, omega, a2f in [*model_spectra(), *real]:
        spectrum = check_spectrum(omega, a2f)
        m = physics.moments_from_a2f(spectrum.omega_meV, spectrum.a2f)
        allen_dynes = physics.allen_dynes_tc(m.lambda_, m.omega_log_K, m.omega_2_K, 0.10)
        ratios = [tc_with_reference(spectrum, ref, 0.10) / allen_dynes
                  for ref in (spectrum.omega_max_meV, m.omega_log_meV, m.omega_2_meV)]
        print(f"| {label} | {allen_dynes:.3f} | " + " | ".join(f"{r:.3f}" for r in ratios) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
