"""Phonons without DFT: phonopy force constants from a universal interatomic potential (an ASE
calculator), and the one path by which any force constants — those of a potential or q2r.x's — become
the total and per-site phonon DOS that the model reads.

- `potentials`: the registry of potentials whose weights ship inside their Python package
  (SevenNet-0, SevenNet-l3i5, CHGNet 0.3.0); a missing package is one line naming what to install.
- `dos`: Phonopy object (any force constants) → `PhononDosData` on matdyn's frequency axis, and the
  lowest frequency on a dense mesh with where it is.
- `mlip`: structure → finite displacements → force constants → `MlipPhonons` (DOS, lowest mode, the
  potential's name and version), cached per structure, with progress on batches.

This layer sits above `betenet.store` (its DOS is the store's `PhononDosData`) and below
`betenet.workflows` / `betenet.dataset`, which use it for the MLIP pre-gate and the MPD features.
"""
