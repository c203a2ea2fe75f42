"""Upgrades of stored electron-phonon documents, one step per schema version.

A stored document (a plain dict from a store or a JSON file) of an older `document_version` is
upgraded step by step before validation, so every committed or stored document keeps loading
(DESIGN: fixtures are users' databases in small). A new schema version adds one step here.

    1 → 2  EPW diagnostics move from `parameters.extra["epw"]` to the typed field `epw`;
           `lambda_qsum` (lambda.x's direct q-point sum) is new and stays empty for old documents;
           the stability verdict gains a cause and the imaginary modes' locations, and the document a
           `quality` block (flags, the spin-polarised check's total and absolute moment, the smearing
           sensitivity of λ and, for a `--converge` run, every dense k-grid's λ(σ)), and the verdict the remedy
           ladder's attempts: old documents get none (cause unknown, no flags, no moment); status 'unsupported'
           (magnetic) and 'unresolved' (imaginary modes the ladder could not remove) are new.
           Each α²F gains `eliashberg` (isotropic Eliashberg Tc, μ*, μ*(ω_c), ω_c, clipped negative weight) and
           the document `tc_eliashberg_K`: None for old documents (build-dataset solves its own 51-bin α²F).
    (within 2) status 'skipped' and the optional `mlip_pregate` block (the interatomic-potential pre-gate,
           no DFT run) were added later in version 2 without a step: older documents have neither and read
           as they are; a reader older than them rejects a 'skipped' document by its unknown status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Raw = dict[str, Any]


def _epw_diagnostics_to_their_field(raw: Raw) -> Raw:
    parameters = dict(raw.get("parameters") or {})
    extra = dict(parameters.get("extra") or {})
    epw = extra.pop("epw", None)
    return {**raw, "parameters": {**parameters, "extra": extra}, "epw": epw}


# version N → the step that turns a version-N document into version N + 1
STEPS: dict[int, Callable[[Raw], Raw]] = {1: _epw_diagnostics_to_their_field}


def upgrade(raw: Raw, to_version: int) -> Raw:
    """A copy of `raw` at `to_version` (a dict without `document_version` is taken as current, as a
    document built in code is). Raises ValueError for a document newer than this code."""
    version = raw.get("document_version", to_version)
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"document_version={version!r} of document {raw.get('calc_id')!r}: expected an integer ≥ 1")
    if version > to_version:
        raise ValueError(
            f"document {raw.get('calc_id')!r} has document_version={version}, newer than this betenet's "
            f"{to_version}: upgrade betenet to read it"
        )
    for step in range(version, to_version):
        raw = {**STEPS[step](raw), "document_version": step + 1}
    return raw
