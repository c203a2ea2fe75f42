"""Why a structure file could not be read, in words a user can act on.

pymatgen and ASE raise whatever their parsers hit: ASE's CIF reader stops a file that is no CIF at all
with a bare `AssertionError` (no text), an unknown element symbol is a `KeyError: 'Xx'`, an empty file an
`UnknownFileTypeError`. Both readers of structure files (`betenet run`'s and the screening inputs') turn
the exception into one reason with this function.
"""

from __future__ import annotations

from pathlib import Path

# what the file's name says it should be (for the reason when the parser gave none)
_KINDS = {".cif": "CIF", ".vasp": "POSCAR", ".poscar": "POSCAR", ".xyz": "XYZ", ".json": "JSON"}


def _kind(path: Path) -> str:
    if path.name.split(".")[0] in ("POSCAR", "CONTCAR"):
        return "POSCAR"
    return _KINDS.get(path.suffix.lower(), "structure")


def unreadable_reason(path: Path | str, err: BaseException) -> str:
    """One line: what is wrong with `path`, given the exception its reader raised."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        return "the file is empty"
    text = str(err).strip().splitlines()[0].strip() if str(err).strip() else ""
    if isinstance(err, KeyError) and text.strip("'\"").isalpha():
        return f"unknown element symbol {text} (not in the periodic table)"
    if isinstance(err, (IndexError, ValueError)) and _kind(path) == "POSCAR":
        # pymatgen's POSCAR reader indexes lines as it goes: a short or missing line surfaces as this
        return (f"not a readable POSCAR file ({text}, {type(err).__name__}): check its scale, three lattice "
                "lines, element names and counts, and one coordinate line per atom")
    if not text or text in ("None", "''"):
        return f"not a readable {_kind(path)} file (its reader stopped with a bare {type(err).__name__})"
    return f"{text} ({type(err).__name__})"
