"""Held-out splits that do not leak chemistry: every chemical system lies on one side only.

A random split of a materials set puts polymorphs and neighbouring stoichiometries of one chemical
system (Nb–Se, Mg–B, …) on both sides, so a model that memorises compositions looks better than it is.
Here the unit that is held out is the chemical system (pymatgen's ``Composition.chemical_system``,
e.g. ``"B-Mg"``): `grouped_holdout` keeps a fraction of the systems out, `grouped_kfold` deals the
systems into k folds. Both are seeded and depend only on the groups, not on the labels.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def chemical_system(formula: str) -> str:
    """'MgB2' → 'B-Mg' (elements sorted alphabetically, as pymatgen writes them)."""
    from pymatgen.core import Composition

    return Composition(formula).chemical_system


def elements_of(formula: str) -> set[str]:
    """'MgB2' → {'Mg', 'B'}."""
    from pymatgen.core import Composition

    return {str(e) for e in Composition(formula).elements}


def _shuffled_groups(groups: Sequence[str], seed: int) -> list[str]:
    unique = sorted(set(groups))
    if len(unique) < 2:
        raise ValueError(f"a grouped split needs at least 2 chemical systems, got {len(unique)}")
    order = np.random.default_rng(seed).permutation(len(unique))
    return [unique[i] for i in order]


def grouped_holdout(groups: Sequence[str], fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) row indices: whole systems are held out, in a seeded order, until the held-out
    rows reach `fraction` of all rows."""
    if not 0 < fraction < 1:
        raise ValueError(f"Invalid fraction={fraction!r}, must lie strictly between 0 and 1")
    groups = np.asarray(groups)
    held: list[str] = []
    n_held = 0
    for group in _shuffled_groups(groups, seed):
        if n_held >= fraction * len(groups):
            break
        held.append(group)
        n_held += int((groups == group).sum())
    mask = np.isin(groups, held)
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def grouped_kfold(groups: Sequence[str], k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """k (train, test) pairs of row indices; each system lies in exactly one test fold. Systems are
    dealt largest first to the fold with the fewest rows so far, so the folds come out near equal."""
    groups = np.asarray(groups)
    unique = _shuffled_groups(groups, seed)
    if not 2 <= k <= len(unique):
        raise ValueError(f"Invalid k={k!r}: need 2 ≤ k ≤ {len(unique)} (the number of chemical systems)")
    sizes = {g: int((groups == g).sum()) for g in unique}
    fold_rows = [0] * k
    fold_of: dict[str, int] = {}
    for group in sorted(unique, key=lambda g: -sizes[g]):  # stable: ties keep the seeded order
        fold = int(np.argmin(fold_rows))
        fold_of[group] = fold
        fold_rows[fold] += sizes[group]
    fold = np.array([fold_of[g] for g in groups])
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]
