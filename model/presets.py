"""Named training set-ups: a network size and a training schedule that belong together.

    seed      the BETE-NET paper's: embedding 64, gates mul 32, radial MLP 100 (2.46 M parameters for CSO on
              JARVIS's elements); one full-batch AdamW step per epoch, lr 0.005, tempered patience
              15/500/5000 over up to 10 000 epochs
    compact   the default of `train-ensemble` since the held-out ablation (benchmarks/RESULTS.md, "Held-out
              accuracy"): embedding 32, mul 8, radial MLP 32 (≈ 0.16 M parameters), mini-batches of 32,
              a 40-epoch cap (the kept model comes from epoch ≈ 10–25) and the Tc term of the loss weighted
              3× — the best Tc MAE and ρ(Tc) of the ablation, at a tenth of the seed's training time; on a few
              hundred materials the seed's network stops improving after ≈ 55 full-batch steps and then
              only memorises

Both are `betenet-gate-v1` networks (same kernels and checkpoint format); a preset only fills in
`NetworkConfig` and `TrainingConfig` fields, and explicit values override it.
"""

from __future__ import annotations

from betenet.model.loss import LossConfig
from betenet.model.network import NetworkConfig
from betenet.model.training import TrainingConfig

PRESETS: dict[str, tuple[dict, dict]] = {  # name → (NetworkConfig fields, TrainingConfig fields)
    "seed": ({}, {}),
    "compact": ({"mul": 8, "em_dim": 32, "radial_neurons": 32},
                {"batch_size": 32, "max_epochs": 40, "patience_descent": 15, "patience_hump": 100,
                 "patience_second": 200, "loss": LossConfig(tc_weight=3.0)}),
}
DEFAULT_PRESET = "compact"


def _preset(name: str) -> tuple[dict, dict]:
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}, use one of {tuple(PRESETS)}")
    return PRESETS[name]


def preset_network(name: str, **fields) -> NetworkConfig:
    """The preset's NetworkConfig with `fields` on top (e.g. variant="CSO", mul=16)."""
    return NetworkConfig(**{**_preset(name)[0], **fields})


def preset_training(name: str, **fields) -> TrainingConfig:
    """The preset's TrainingConfig with `fields` on top (None values leave the preset's)."""
    return TrainingConfig(**{**_preset(name)[1], **{k: v for k, v in fields.items() if v is not None}})
