"""Pseudopotential families: a folder of UPF files, optionally described by an `index.json`.

Where the folder comes from (first that is set): `settings.pseudo_dir`, the `ESPRESSO_PSEUDO`
environment variable (QE's own), Debian's `/usr/share/espresso/pseudo`.

How an element finds its file:
- with an index (`settings.pseudo_index`, else `<folder>/index.json` when present): the index's entry.
  Both the shared PseudoDojo layout `{"elements": {"Al": {"file": ..., "md5": ..., "ecutwfc_ry": ...,
  "ecutrho_ry": ...}}, "_family": ...}` and a flat `{"Al": {"file": ...}}` are read; keys starting
  with `_` are metadata.
- without an index: the one file named `<El>.*.UPF` / `<El>_*.UPF` / `<El>.UPF` (any case of `upf`),
  as in Debian's folder (`Al.pz-vbc.UPF`). Several candidates is an error listing them, never a guess.
Every entry carries the md5 of the file actually on disk; an index md5 that disagrees is an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from betenet.settings import BetenetSettings, get_settings

DEBIAN_PSEUDO_DIR = Path("/usr/share/espresso/pseudo")
INDEX_FILENAME = "index.json"


class PseudoError(LookupError):
    """A pseudopotential could not be provided; the message says which element, where and why."""


class MissingPseudoError(PseudoError):
    def __init__(self, element: str, directory: Path, detail: str = ""):
        self.element = element
        self.directory = Path(directory)
        hint = (
            "add a UPF file for it, point BETENET_PSEUDO_DIR (or ESPRESSO_PSEUDO) to a folder that has "
            "one, or list it in the family's index.json"
        )
        super().__init__(f"no pseudopotential for {element} in {self.directory}{detail}: {hint}")


class AmbiguousPseudoError(PseudoError):
    def __init__(self, element: str, directory: Path, candidates: Iterable[str]):
        self.element = element
        self.directory = Path(directory)
        self.candidates = sorted(candidates)
        super().__init__(
            f"several pseudopotentials for {element} in {self.directory}: {self.candidates}; "
            f"choose one with an index.json (element → file) or PseudoFamily(..., filenames={{'{element}': ...}})"
        )


@dataclass(frozen=True)
class PseudoEntry:
    element: str
    filename: str
    path: Path
    md5: str
    ecutwfc_ry: float | None = None  # recommended cutoffs from the family index, when it has them
    ecutrho_ry: float | None = None


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_pseudo_dir(settings: BetenetSettings | None = None) -> Path:
    settings = settings or get_settings()
    if settings.pseudo_dir is not None:
        return Path(settings.pseudo_dir).expanduser()
    if os.environ.get("ESPRESSO_PSEUDO"):
        return Path(os.environ["ESPRESSO_PSEUDO"]).expanduser()
    return DEBIAN_PSEUDO_DIR


class PseudoFamily:
    """Element → `PseudoEntry` for one folder of pseudopotentials.

    `index`: path of a JSON index; None uses `<directory>/index.json` when it exists, else filename
    matching. `filenames`: explicit element → file choices that win over both.
    """

    def __init__(
        self,
        directory: str | Path,
        index: str | Path | None = None,
        filenames: dict[str, str] | None = None,
    ):
        self.directory = Path(directory).expanduser()
        if not self.directory.is_dir():
            raise PseudoError(
                f"pseudopotential folder {self.directory} does not exist; set BETENET_PSEUDO_DIR or "
                "ESPRESSO_PSEUDO, or run scripts/setup (installs Debian's quantum-espresso-data)"
            )
        if index is None and (self.directory / INDEX_FILENAME).is_file():
            index = self.directory / INDEX_FILENAME
        self.index_path = Path(index).expanduser() if index is not None else None
        self._filenames = dict(filenames or {})
        self._cache: dict[str, PseudoEntry] = {}

    @classmethod
    def from_settings(cls, settings: BetenetSettings | None = None) -> "PseudoFamily":
        settings = settings or get_settings()
        return cls(default_pseudo_dir(settings), index=settings.pseudo_index)

    def __repr__(self) -> str:
        source = self.index_path.name if self.index_path else "filename matching"
        return f"PseudoFamily({str(self.directory)!r}, {source})"

    @cached_property
    def _index(self) -> dict[str, dict]:
        if self.index_path is None:
            return {}
        try:
            raw = json.loads(self.index_path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise PseudoError(f"cannot read pseudopotential index {self.index_path}: {err}") from err
        table = raw.get("elements", raw) if isinstance(raw, dict) else None
        if not isinstance(table, dict):
            raise PseudoError(
                f"{self.index_path}: expected a JSON object element → {{file, ...}} "
                "(optionally under an 'elements' key)"
            )
        return {el: entry for el, entry in table.items() if not el.startswith("_")}

    def lookup(self, element: str) -> PseudoEntry:
        if element not in self._cache:
            self._cache[element] = self._find(element)
        return self._cache[element]

    def for_elements(self, elements: Iterable[str]) -> dict[str, PseudoEntry]:
        return {element: self.lookup(element) for element in dict.fromkeys(elements)}

    def recommended_cutoffs_ry(self, elements: Iterable[str]) -> tuple[float, float]:
        """(ecutwfc, ecutrho): the largest hints over `elements`; an error if any element lacks one."""
        entries = self.for_elements(elements).values()
        missing = [e.element for e in entries if e.ecutwfc_ry is None or e.ecutrho_ry is None]
        if missing:
            raise PseudoError(
                f"no recommended cutoffs for {missing} in {self.index_path or self.directory}; "
                "set ecutwfc/ecutrho explicitly"
            )
        return max(e.ecutwfc_ry for e in entries), max(e.ecutrho_ry for e in entries)

    def _find(self, element: str) -> PseudoEntry:
        entry = self._index.get(element, {})
        filename = self._filenames.get(element) or entry.get("file")
        if filename is None:
            if self.index_path is not None:
                raise MissingPseudoError(element, self.directory, f" (not listed in {self.index_path})")
            filename = self._match_filename(element)
        path = self.directory / filename
        if not path.is_file():
            raise MissingPseudoError(element, self.directory, f" (file {filename} is missing)")
        md5 = md5sum(path)
        expected = entry.get("md5") if element not in self._filenames else None
        if expected and expected.lower() != md5:
            raise PseudoError(
                f"{path}: md5 {md5} differs from {expected} in {self.index_path}; the file was changed "
                "or the index is stale"
            )
        return PseudoEntry(
            element=element,
            filename=filename,
            path=path,
            md5=md5,
            ecutwfc_ry=_optional_float(entry.get("ecutwfc_ry")),
            ecutrho_ry=_optional_float(entry.get("ecutrho_ry")),
        )

    def _match_filename(self, element: str) -> str:
        # <El> followed by '.', '_' or '-' (or nothing) before the extension: 'Al' never matches 'Ala…'
        pattern = re.compile(rf"^{re.escape(element)}([._-].*)?\.upf$", re.IGNORECASE)
        candidates = [p.name for p in self.directory.iterdir() if p.is_file() and pattern.match(p.name)]
        # The element symbol is case-sensitive (Co vs CO-…); only the extension is not.
        candidates = [name for name in candidates if name.startswith(element)]
        if not candidates:
            raise MissingPseudoError(element, self.directory, " (no file named <El>*.UPF)")
        if len(candidates) > 1:
            raise AmbiguousPseudoError(element, self.directory, candidates)
        return candidates[0]


def _optional_float(value) -> float | None:
    return None if value is None else float(value)
