"""The seed's tempered early stopping: three regions around the double-descent hump.

Region 1 ("descent"): ordinary early stopping — keep the best model; after `patience_descent` epochs
  without a new minimum of the validation loss, move on.
Region 2 ("hump"): wait for the validation loss to climb, tracking its running maximum; after
  `patience_hump` epochs without a new maximum, the hump is considered passed.
Region 3 ("second descent"): ordinary early stopping again, starting from that maximum, keeping the best
  model; stop after `patience_second` epochs without improvement.

The model kept at the end is the better (lower validation loss) of the best of region 1 and the best of
region 3. The seed keeps region 3's: with its patience of 5000 epochs the second descent normally ends
lower. Under an epoch cap it may not have got there — on JARVIS with a 600-epoch cap the region-3 best
was above the region-1 best for 4 of 4 members — and keeping it would only make the member worse.
Ties count as improvements, as in the seed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

DESCENT, HUMP, SECOND_DESCENT = 1, 2, 3


@dataclass(frozen=True)
class Decision:
    keep: bool  # the current model is the best of its region so far: keep a copy
    region: int  # region in which `keep` applies
    stop: bool  # training is finished


@dataclass
class TemperedEarlyStopping:
    patience_descent: int = 15
    patience_hump: int = 500
    patience_second: int = 5000
    region: int = DESCENT
    counter: int = 0
    reference: float = math.inf  # best (regions 1, 3) or running maximum (region 2)
    best_descent: float = math.inf
    best_second: float = math.inf
    stopped: bool = False

    def __post_init__(self):
        for name in ("patience_descent", "patience_hump", "patience_second"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Invalid {name}={value!r}, must be a positive integer")

    def update(self, val_loss: float) -> Decision:
        """Record one epoch's validation loss; say whether to keep this model and whether to stop."""
        if self.stopped:
            raise RuntimeError("early stopping already said stop; start a new TemperedEarlyStopping")
        if not math.isfinite(val_loss):
            raise ValueError(f"validation loss is {val_loss!r}: training diverged")
        region = self.region
        keep = False
        if region == DESCENT:
            if val_loss <= self.reference:
                self.reference, self.best_descent, self.counter, keep = val_loss, val_loss, 0, True
            else:
                self.counter += 1
                if self.counter >= self.patience_descent:
                    self.region, self.counter = HUMP, 0
        elif region == HUMP:
            if val_loss >= self.reference:  # a new running maximum: still climbing
                self.reference, self.counter = val_loss, 0
            else:
                self.counter += 1
                if self.counter >= self.patience_hump:
                    self.region, self.counter = SECOND_DESCENT, 0
        else:
            if val_loss <= self.reference:
                self.reference, self.best_second, self.counter, keep = val_loss, val_loss, 0, True
            else:
                self.counter += 1
                if self.counter >= self.patience_second:
                    self.stopped = True
        return Decision(keep=keep, region=region, stop=self.stopped)

    def kept_region(self) -> int:
        """Region whose best model to keep: region 3 if it has one at least as good as region 1's."""
        return SECOND_DESCENT if self.best_second <= self.best_descent else DESCENT

    def state_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_state_dict(cls, state: dict) -> "TemperedEarlyStopping":
        return cls(**state)
