"""Fortran namelist text for QE inputs: the one place that knows how a Python value is spelled.

Values: bool → .true./.false., str → quoted, int, float (exponent with `d`, full precision).
Arrays: a dict {index: value} or a list/tuple (1-based) becomes `name(i) = value`, e.g.
`{"amass": {1: 26.98}}` → `amass(1) = 26.98`; keys already written as `celldm(1)` pass through.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\(\s*\d+(\s*,\s*\d+)*\s*\))?$")


def fortran_value(value: Any) -> str:
    if isinstance(value, bool):
        return ".true." if value else ".false."
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write non-finite number {value!r} to a QE input")
        text = repr(float(value))  # float(): NumPy 2 scalars repr as 'np.float64(...)'
        return text.replace("e", "d")
    if isinstance(value, str):
        if "'" in value and '"' in value:
            raise ValueError(f"string {value!r} has both quote kinds")
        return f'"{value}"' if "'" in value else f"'{value}'"
    if hasattr(value, "item"):  # NumPy scalar
        return fortran_value(value.item())
    if hasattr(value, "__fspath__"):
        return fortran_value(str(value))
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to a QE namelist")


def fixed(value: float, digits: int = 10) -> str:
    """Fixed-point number for QE cards, never '-0.000…' (rounding noise of a zero coordinate)."""
    return f"{round(float(value), digits) + 0.0:.{digits}f}"


def _entries(key: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        return [(f"{key}({index})", item) for index, item in value.items()]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [(f"{key}({i})", item) for i, item in enumerate(value, start=1)]
    return [(key, value)]


def format_namelist(name: str, variables: Mapping[str, Any]) -> str:
    """`&name ... /` with one `key = value` per line, in the mapping's order."""
    lines = [f"&{name}"]
    for key, value in variables.items():
        if value is None:  # a deep_merge removal that reached a writer directly
            continue
        for entry_key, entry_value in _entries(key, value):
            if not _NAME.match(entry_key):
                raise ValueError(f"invalid namelist variable name {entry_key!r} in &{name}")
            lines.append(f"  {entry_key} = {fortran_value(entry_value)}")
    lines.append("/")
    return "\n".join(lines) + "\n"
