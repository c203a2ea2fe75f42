"""Typed errors of the model package: each says what is wrong, where, and what to do."""

from __future__ import annotations


class ModelError(RuntimeError):
    """Base class of betenet.model errors."""


class EmptyDatasetError(ModelError, ValueError):
    """No usable samples (nothing to train on, or nothing to predict)."""


class UnseenElementError(ModelError, ValueError):
    """A structure contains an element the ensemble never saw in training (its embedding is untrained)."""

    def __init__(self, element: str, structure_id: str, known: list[str]):
        self.element = element
        self.structure_id = structure_id
        super().__init__(
            f"structure {structure_id!r} contains {element}, an element this ensemble never saw in "
            f"training (trained on {len(known)} elements: {' '.join(known)}); its prediction would be "
            "meaningless — retrain with data containing it or drop the structure"
        )


class MissingFeatureError(ModelError, ValueError):
    """A record lacks the input the model variant needs (e.g. site PhDOS for CPD/FPD)."""


class CheckpointError(ModelError):
    """A checkpoint or ensemble directory cannot be read (missing, truncated, corrupt, incompatible)."""

    def __init__(self, path, message: str):
        self.path = path
        super().__init__(f"{path}: {message}")


class TrainingInterruptedError(ModelError):
    """A worker process died while training members (killed by a signal, out of memory): the finished
    members are kept and the next run on the same directory trains only the missing ones."""
