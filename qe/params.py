"""Pure parameter merges: defaults ← preset ← user overrides.

One function, `deep_merge`, used by every input writer's parameter layering. It never mutates its
inputs (quacc's merge once did, and a preset edited by one job leaked into the next).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def deep_merge(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge mappings left to right into a new dict; later layers win.

    Nested mappings are merged key by key; any other value (lists and arrays included) replaces the
    earlier one as a whole. A value of `None` removes the key, so a user can drop a default
    (e.g. `{"system": {"la2F": None}}`). `None` layers are skipped. Inputs are never modified and the
    result shares no mutable object with them.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer is None:
            continue
        if not isinstance(layer, Mapping):
            raise TypeError(f"deep_merge takes mappings, got {type(layer).__name__}: {layer!r}")
        merged = _merge_two(merged, layer)
    return merged


def _merge_two(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    result = {key: copy.deepcopy(value) for key, value in base.items()}
    for key, value in update.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = _merge_two(result[key], value)
        elif isinstance(value, Mapping):
            result[key] = _merge_two({}, value)  # drops None entries inside, copies the rest
        else:
            result[key] = copy.deepcopy(value)
    return result
