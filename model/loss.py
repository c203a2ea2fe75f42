"""Mixed supervision: α²F spectra where known, moment labels (λ, ω_log, Tc) where only those are known.

The network predicts α²F on the 51-bin grid for every sample. The loss is

    L = w_spec·MSE(α²F) + w_λ·H(ln(λ̂+ε) − ln(λ+ε)) + w_ωlog·H(ln ω̂_log − ln ω_log)
        + w_Tc·H(ln(1 + T̂c/s) − ln(1 + Tc/s))

each term a (bootstrap-multiplicity weighted) mean over the samples that carry that label, H the Huber
function (quadratic within `huber_delta`, linear beyond: outlier labels such as JARVIS's λ > 4 rows pull
but do not dominate). λ̂, ω̂_log, ω̂₂ come from the predicted α²F through `betenet.physics` (torch, so
differentiable) with the seed's convention of summing bins 1..50; T̂c is Allen–Dynes with μ*. The spectrum
term alone, on samples that all have spectra, is exactly the seed's MSE loss.

Why logarithms: ω_log depends on the shape of α²F only, so its gradient scales as 1/λ̂; with a small
predicted spectrum (a fresh network predicts α²F ~ 1e-3) a linear λ error would get a thousand times
less gradient than ω_log and Adam would hardly grow the amplitude (observed: λ̂ stuck at 0.001 on JARVIS).
In log space both gradients scale alike, and errors are relative, which suits λ (0.1 … 18) and Tc
(0 … 35 K). Labels λ ≤ 0 count as λ = 0 (ε keeps the logarithm finite); ω_log labels ≤ 0 are not used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from betenet import physics

FIRST_BIN = 1  # the seed skips the 0.25 meV bin in the moments


@dataclass(frozen=True)
class LossConfig:
    """Weights and scales of the mixed loss (defaults documented in the module docstring)."""

    spectrum_weight: float = 1.0
    lambda_weight: float = 1.0
    omega_log_weight: float = 1.0
    tc_weight: float = 1.0
    lambda_offset: float = 0.01  # ε: λ is compared as ln(λ + ε)
    tc_scale_K: float = 1.0  # s: Tc is compared as ln(1 + Tc/s)
    huber_delta: float = 1.0  # in units of the logarithms above
    # Seed behaviour: a sample with a spectrum is fitted on its spectrum only; True adds its moment labels
    moments_with_spectrum: bool = False
    mu_star: float = physics.DEFAULT_MU_STAR
    # Added to every predicted bin for ω_log and ω₂ only, so they stay finite (and their gradients
    # bounded) when a predicted spectrum is ~0; changes λ-sized moments by < 1e-5.
    a2f_floor: float = 1e-6

    def __post_init__(self):
        for name, value in asdict(self).items():
            if isinstance(value, float) and (value < 0 or not np.isfinite(value)):
                raise ValueError(f"Invalid {name}={value!r}: must be a finite number ≥ 0")
        if self.lambda_offset <= 0 or self.tc_scale_K <= 0 or self.huber_delta <= 0:
            raise ValueError("lambda_offset, tc_scale_K and huber_delta must be > 0")


@dataclass
class Targets:
    """Labels of G samples as tensors; a `has_*` mask says which samples carry each label."""

    a2f: torch.Tensor  # (G, 51)
    has_a2f: torch.Tensor  # (G,) bool
    lambda_: torch.Tensor  # (G,)
    has_lambda: torch.Tensor
    omega_log_K: torch.Tensor
    has_omega_log: torch.Tensor
    tc_K: torch.Tensor
    has_tc: torch.Tensor

    @classmethod
    def from_records(cls, records, dtype=torch.float32) -> "Targets":
        """From `DatasetRecord`s. ω_log labels ≤ 0 K are undefined (λ ≤ 0) and are not used."""
        g = len(records)

        def column(get):
            values = [get(r) for r in records]
            mask = torch.tensor([v is not None for v in values], dtype=torch.bool)
            return torch.tensor([0.0 if v is None else v for v in values], dtype=dtype), mask

        a2f = torch.zeros(g, physics.MODEL_GRID_MEV.size, dtype=dtype)
        has_a2f = torch.zeros(g, dtype=torch.bool)
        for i, r in enumerate(records):
            if r.a2f is not None:
                a2f[i] = torch.tensor(r.a2f, dtype=dtype)
                has_a2f[i] = True
        lam, has_lam = column(lambda r: r.lambda_)
        wlog, has_wlog = column(lambda r: r.omega_log_K)
        tc, has_tc = column(lambda r: r.tc_K)
        return cls(a2f, has_a2f, lam, has_lam, wlog, has_wlog & (wlog > 0), tc, has_tc)

    def __len__(self) -> int:
        return self.a2f.shape[0]

    def subset(self, index) -> "Targets":
        index = torch.as_tensor(index, dtype=torch.long)
        return Targets(**{k: v[index] for k, v in self.__dict__.items()})

    def to(self, dtype: torch.dtype) -> "Targets":
        return Targets(**{k: (v if v.dtype == torch.bool else v.to(dtype)) for k, v in self.__dict__.items()})


@dataclass(frozen=True)
class PredictedMoments:
    lambda_: torch.Tensor
    omega_log_K: torch.Tensor
    omega_2_K: torch.Tensor
    tc_K: torch.Tensor


def moments_of(a2f: torch.Tensor, config: LossConfig = LossConfig()) -> PredictedMoments:
    """λ, ω_log, ω₂ and Allen–Dynes Tc of model-grid spectra (..., 51), differentiable."""
    grid = physics.MODEL_GRID_MEV
    lam = physics.lambda_from_a2f(grid, a2f, first_bin=FIRST_BIN)
    floored = a2f + config.a2f_floor
    omega_log_K = physics.mev_to_kelvin(physics.omega_log_from_a2f(grid, floored, first_bin=FIRST_BIN))
    omega_2_K = physics.mev_to_kelvin(physics.omega_2_from_a2f(grid, floored, first_bin=FIRST_BIN))
    tc = physics.allen_dynes_tc(lam, omega_log_K, omega_2_K, config.mu_star)
    return PredictedMoments(lam, omega_log_K, omega_2_K, tc)


def mixed_loss(pred_a2f: torch.Tensor, targets: Targets, sample_weight: torch.Tensor | None = None,
               config: LossConfig = LossConfig()) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss (scalar tensor) and its terms (floats, unweighted by the term weights).

    `sample_weight` (G,): bootstrap multiplicities (a sample drawn twice counts twice); None = ones.
    """
    g = pred_a2f.shape[0]
    if len(targets) != g:
        raise ValueError(f"{g} predictions but {len(targets)} targets")
    w = pred_a2f.new_ones(g) if sample_weight is None else sample_weight.to(pred_a2f.dtype)
    total = pred_a2f.new_zeros(())
    terms: dict[str, float] = {}

    def add(name: str, weight: float, per_sample: torch.Tensor, mask: torch.Tensor):
        nonlocal total
        wm = w * mask
        norm = wm.sum()
        if weight == 0 or norm <= 0:
            return
        value = (per_sample * wm).sum() / norm
        terms[name] = float(value.detach())
        total = total + weight * value

    add("spectrum", config.spectrum_weight, ((pred_a2f - targets.a2f) ** 2).mean(-1), targets.has_a2f)
    moment_rows = torch.ones_like(targets.has_a2f) if config.moments_with_spectrum else ~targets.has_a2f
    need = moment_rows & (targets.has_lambda | targets.has_omega_log | targets.has_tc)
    if bool(need.any()):
        m = moments_of(pred_a2f, config)
        huber = lambda err: torch.nn.functional.huber_loss(  # noqa: E731
            err, torch.zeros_like(err), reduction="none", delta=config.huber_delta)
        # masked rows go through torch.where so a non-finite value there never reaches the gradient
        safe = lambda x, mask: torch.where(mask, x, torch.zeros_like(x))  # noqa: E731
        rows = moment_rows & targets.has_lambda
        eps = config.lambda_offset
        err = torch.log(m.lambda_ + eps) - torch.log(targets.lambda_.clamp(min=0) + eps)
        add("lambda", config.lambda_weight, huber(safe(err, rows)), rows)
        rows = moment_rows & targets.has_omega_log
        err = torch.log(m.omega_log_K) - torch.log(safe(targets.omega_log_K, rows) + ~rows)
        add("omega_log", config.omega_log_weight, huber(safe(err, rows)), rows)
        rows = moment_rows & targets.has_tc
        err = torch.log1p(m.tc_K / config.tc_scale_K) - torch.log1p(targets.tc_K.clamp(min=0) / config.tc_scale_K)
        add("tc", config.tc_weight, huber(safe(err, rows)), rows)
    return total, terms
