"""The trained ensemble shipped with betenet: what `predict` and `screen` use when no --ensemble is given.

It lives in `model/default_ensemble/` (ensemble.json, metrics.json, members/, MODEL_CARD.md) with `hashes.json`,
the SHA-256 of every other file, checked whenever it is loaded. One command rebuilds it from committed data
(`betenet.screening.default_ensemble`, which trains it by the held-out protocol):

    make default-ensemble      # = .venv/bin/python -m betenet.screening.default_ensemble
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from betenet.model.ensemble import Ensemble
from betenet.model.errors import ModelError

DEFAULT_DIR = Path(__file__).with_name("default_ensemble")
HASHES = "hashes.json"
CARD = "MODEL_CARD.md"


class DefaultEnsembleError(ModelError):
    """The shipped ensemble is missing or its files do not match their recorded hashes."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_hashes(directory: Path) -> dict[str, str]:
    """SHA-256 of every file under `directory` but hashes.json, by relative path."""
    return {str(p.relative_to(directory)): sha256_of(p) for p in sorted(directory.rglob("*"))
            if p.is_file() and p.name != HASHES}


def verify(directory: Path = DEFAULT_DIR) -> None:
    """Raise DefaultEnsembleError unless every file matches hashes.json (none missing, none added)."""
    recorded_path = directory / HASHES
    if not recorded_path.is_file():
        raise DefaultEnsembleError(f"{directory}: no {HASHES}: the shipped ensemble is missing; rebuild it with "
                                   "`make default-ensemble` or pass --ensemble DIR")
    recorded = json.loads(recorded_path.read_text())
    found = file_hashes(directory)
    changed = sorted(name for name in recorded.keys() & found.keys() if recorded[name] != found[name])
    missing, extra = sorted(recorded.keys() - found.keys()), sorted(found.keys() - recorded.keys())
    if changed or missing or extra:
        raise DefaultEnsembleError(f"{directory}: files differ from {HASHES} (changed {changed}, missing {missing}, "
                                   f"unexpected {extra}): reinstall betenet or rebuild with `make default-ensemble`")


def load_default() -> Ensemble:
    """The shipped ensemble, its hashes checked."""
    verify(DEFAULT_DIR)
    return Ensemble.load(DEFAULT_DIR)


def describe(ensemble: Ensemble) -> str:
    """One line for the commands that use it."""
    data = ensemble.config["dataset"]
    return (f"no --ensemble given: using the shipped default ensemble ({len(ensemble.members)} members, trained on "
            f"{data['n_samples']} materials of {data['content_hash'][:19]}…; {DEFAULT_DIR / CARD})")
