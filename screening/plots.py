"""Figures (matplotlib, Agg backend: no display needed): parity plots and α²F with its spread."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def parity_plot(true, pred, std, label: str, metrics, path: Path) -> None:
    """Predicted vs DFT, error bars = ensemble spread, with MAE/RMSE/R² in the title."""
    true, pred = np.asarray(true, dtype=float), np.asarray(pred, dtype=float)
    fig, ax = plt.subplots(figsize=(4.2, 4.0), dpi=120)
    yerr = None if std is None or any(s is None for s in std) else np.asarray(std, dtype=float)
    ax.errorbar(true, pred, yerr=yerr, fmt="o", ms=4, alpha=0.8, elinewidth=0.8)
    low, high = min(true.min(), pred.min()), max(true.max(), pred.max())
    pad = 0.05 * (high - low or 1.0)
    ax.plot([low - pad, high + pad], [low - pad, high + pad], "k--", lw=0.8)
    ax.set_xlabel(f"DFT {label}")
    ax.set_ylabel(f"predicted {label}")
    r2 = "n/a" if metrics.r2 is None else f"{metrics.r2:.2f}"
    ax.set_title(f"MAE {metrics.mae:.3g}  RMSE {metrics.rmse:.3g}  R² {r2}  (n={metrics.n})", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def a2f_plot(omega_meV, mean, std, title: str, path: Path, dft=None) -> None:
    """Mean predicted α²F with a ±1σ band of the members; the DFT α²F (omega, values) overlaid if given."""
    omega_meV, mean, std = (np.asarray(a, dtype=float) for a in (omega_meV, mean, std))
    fig, ax = plt.subplots(figsize=(5.0, 3.4), dpi=120)
    ax.fill_between(omega_meV, np.clip(mean - std, 0, None), mean + std, alpha=0.3, label="ensemble ±1σ")
    ax.plot(omega_meV, mean, lw=1.5, label="ensemble mean")
    if dft is not None:
        ax.plot(*dft, "k--", lw=1.0, label="DFT (model grid)")
    ax.set_xlabel("ω (meV)")
    ax.set_ylabel("α²F(ω)")
    ax.set_xlim(0, omega_meV.max())
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def dft_spectra_plot(spectra, path: Path) -> None:
    """DFT α²F of several materials in one panel; `spectra` = [(formula, omega_meV, a2f, λ), ...]."""
    fig, ax = plt.subplots(figsize=(6.0, 3.8), dpi=120)
    for formula, omega_meV, a2f, lam in spectra:
        ax.plot(omega_meV, a2f, lw=1.2, label=f"{formula} (λ = {lam:.2f})")
    ax.set_xlabel("ω (meV)")
    ax.set_ylabel("α²F(ω)")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_title("Eliashberg spectral functions from DFPT (chosen smearing)", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
