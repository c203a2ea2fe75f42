"""The dataset directory: the hand-over format between the DFT half and the model.

A dataset is a plain directory that any JSON reader understands (no betenet needed to read it)::

    <dir>/manifest.json       format_version, created, source, query, counts, content_hash, grid_meV
    <dir>/records.jsonl       one JSON object per material (fields of `DatasetRecord`)
    <dir>/structures/<id>.cif one structure per record; `structure_file` is relative to <dir>

Record fields: ``id`` (unique string), ``formula``, ``structure_file``, ``a2f`` (51 floats on the model
grid `MODEL_GRID_MEV` or null), ``cpd`` / ``fpd`` (coarse / fine site-projected phonon DOS: one list of
51 floats per atom, in the CIF's atom order, or null), ``mpd`` (the same from a universal interatomic
potential, whose name and version are the record's extra ``mpd_potential``; written only when present, so
the content hash of a dataset without it is what it was before the field existed), ``lambda``, ``omega_log_K``, ``omega_2_K``,
``tc_K`` (Allen–Dynes) and ``tc_eliashberg_K`` (isotropic Eliashberg; also null when Tc lies below the
lowest temperature solved or the solver refused the spectrum; datasets written before it existed lack the
key and read as null) — numbers or null —, ``split`` ("train", "val", "test" or null) and ``source``.
Keys beyond these are kept verbatim in `DatasetRecord.extra` (forward compatibility).

``content_hash`` is the SHA-256 of the canonical records (sorted keys, compact JSON, one line each)
followed by the bytes of every structure file in record order, so any edit shows up on reading.
Writes go to a temporary sibling directory that is renamed into place: a reader never sees half a
dataset and an existing dataset is never replaced unless asked for.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

from betenet.physics import MODEL_GRID_MEV, N_MODEL_BINS

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
RECORDS_FILE = "records.jsonl"
STRUCTURES_DIR = "structures"
SPLITS = ("train", "val", "test")
SITE_PHDOS_KEYS = ("cpd", "fpd", "mpd")  # per-atom 51-bin rows: DFT coarse, DFT fine, interatomic potential
SCALAR_FIELDS = ("lambda_", "omega_log_K", "omega_2_K", "tc_K", "tc_eliashberg_K")
_RECORD_KEYS = (
    "id",
    "formula",
    "structure_file",
    "a2f",
    "cpd",
    "fpd",
    "mpd",
    "lambda",
    "omega_log_K",
    "omega_2_K",
    "tc_K",
    "tc_eliashberg_K",
    "split",
    "source",
)


class DatasetFormatError(ValueError):
    """A dataset directory (or a record for one) is not what the format promises.

    Carries `.path` (the file at fault, or None) and says which field/line and what was expected.
    """

    def __init__(self, message: str, path: Path | str | None = None):
        self.path = Path(path) if path is not None else None
        super().__init__(f"{path}: {message}" if path is not None else message)


@dataclass(frozen=True)
class DatasetRecord:
    """One material of a dataset. Spectra on the 51-bin model grid; units in the names."""

    id: str
    formula: str
    structure_file: str | None = None
    a2f: tuple[float, ...] | None = None
    cpd: tuple[tuple[float, ...], ...] | None = None
    fpd: tuple[tuple[float, ...], ...] | None = None
    mpd: tuple[tuple[float, ...], ...] | None = None
    lambda_: float | None = None
    omega_log_K: float | None = None
    omega_2_K: float | None = None
    tc_K: float | None = None
    tc_eliashberg_K: float | None = None
    split: str | None = None
    source: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        # accept lists / NumPy arrays, store immutable tuples of floats
        object.__setattr__(self, "a2f", _as_spectrum(self.a2f))
        object.__setattr__(self, "cpd", _as_site_spectra(self.cpd))
        object.__setattr__(self, "fpd", _as_site_spectra(self.fpd))
        object.__setattr__(self, "mpd", _as_site_spectra(self.mpd))
        for name in SCALAR_FIELDS:
            value = getattr(self, name)
            if isinstance(value, (np.floating, np.integer)):
                object.__setattr__(self, name, float(value))
        _check_record(self, where=f"record {self.id!r}")

    def to_json(self) -> dict[str, Any]:
        obj = {
            "id": self.id,
            "formula": self.formula,
            "structure_file": self.structure_file,
            "a2f": list(self.a2f) if self.a2f is not None else None,
            "cpd": [list(row) for row in self.cpd] if self.cpd is not None else None,
            "fpd": [list(row) for row in self.fpd] if self.fpd is not None else None,
            "lambda": self.lambda_,
            "omega_log_K": self.omega_log_K,
            "omega_2_K": self.omega_2_K,
            "tc_K": self.tc_K,
            "tc_eliashberg_K": self.tc_eliashberg_K,
            "split": self.split,
            "source": self.source,
        }
        if self.mpd is not None:
            obj["mpd"] = [list(row) for row in self.mpd]
        obj.update(self.extra)
        return obj

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], where: str = "record") -> "DatasetRecord":
        if not isinstance(obj, Mapping):
            raise DatasetFormatError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        missing = [k for k in ("id", "formula") if k not in obj]
        if missing:
            raise DatasetFormatError(f"{where}: missing required field(s) {missing}")
        try:
            return cls(
                id=obj["id"],
                formula=obj["formula"],
                structure_file=obj.get("structure_file"),
                a2f=obj.get("a2f"),
                cpd=obj.get("cpd"),
                fpd=obj.get("fpd"),
                mpd=obj.get("mpd"),
                lambda_=obj.get("lambda"),
                omega_log_K=obj.get("omega_log_K"),
                omega_2_K=obj.get("omega_2_K"),
                tc_K=obj.get("tc_K"),
                tc_eliashberg_K=obj.get("tc_eliashberg_K"),
                split=obj.get("split"),
                source=obj.get("source"),
                extra={k: v for k, v in obj.items() if k not in _RECORD_KEYS},
            )
        except DatasetFormatError as err:
            raise DatasetFormatError(f"{where}: {err}") from err
        except (TypeError, ValueError) as err:
            raise DatasetFormatError(f"{where}: {err}") from err

    def with_structure_file(self, structure_file: str) -> "DatasetRecord":
        return DatasetRecord(**{**self.__dict__, "structure_file": structure_file})


def _as_spectrum(value):
    return None if value is None else tuple(float(v) for v in value)


def _as_site_spectra(value):
    return None if value is None else tuple(tuple(float(v) for v in row) for row in value)


def _check_record(record: DatasetRecord, where: str) -> None:
    if not isinstance(record.id, str) or not record.id.strip():
        raise DatasetFormatError(f"{where}: 'id' must be a non-empty string, got {record.id!r}")
    if not isinstance(record.formula, str) or not record.formula:
        raise DatasetFormatError(f"{where}: 'formula' must be a non-empty string, got {record.formula!r}")
    if record.a2f is not None:
        _check_bins(record.a2f, f"{where}: 'a2f'")
    for name in SITE_PHDOS_KEYS:
        rows = getattr(record, name)
        if rows is not None:
            if len(rows) == 0:
                raise DatasetFormatError(f"{where}: '{name}' must have one 51-bin row per atom, got none")
            for i, row in enumerate(rows):
                _check_bins(row, f"{where}: '{name}' row {i}")
    for name in SCALAR_FIELDS:
        value = getattr(record, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            raise DatasetFormatError(f"{where}: '{name.rstrip('_')}' must be a finite number or null, "
                                     f"got {value!r}")
    if record.split not in (None, *SPLITS):
        raise DatasetFormatError(f"{where}: 'split' must be one of {SPLITS} or null, got {record.split!r}")


def _check_bins(values, where: str) -> None:
    if len(values) != N_MODEL_BINS:
        raise DatasetFormatError(f"{where} has {len(values)} values; the model grid has {N_MODEL_BINS} bins "
                                 "(use betenet.physics.to_model_grid)")
    if not all(math.isfinite(v) for v in values):
        raise DatasetFormatError(f"{where} contains NaN or infinite values")


@dataclass(frozen=True)
class DatasetManifest:
    format_version: int
    created: str
    source: str
    query: Any
    counts: dict[str, Any]
    content_hash: str
    grid_meV: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "grid_meV": list(self.grid_meV)}


@dataclass(frozen=True)
class Dataset:
    """A dataset directory read into memory (structures are read on demand)."""

    directory: Path
    manifest: DatasetManifest
    records: tuple[DatasetRecord, ...]

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[DatasetRecord]:
        return iter(self.records)

    @property
    def content_hash(self) -> str:
        return self.manifest.content_hash

    def structure_path(self, record: DatasetRecord) -> Path:
        return self.directory / record.structure_file

    def read_structure(self, record: DatasetRecord):
        """The record's structure as ASE Atoms."""
        from ase.io import read

        path = self.structure_path(record)
        try:
            return read(path, format="cif")
        except Exception as err:  # ase raises a zoo of types for bad CIFs
            raise DatasetFormatError(f"cannot read structure of record {record.id!r}: {err}", path) from err

    def with_split(self, split: str | None) -> list[DatasetRecord]:
        return [r for r in self.records if r.split == split]


def _safe_file_stem(record_id: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", record_id)
    return stem if stem not in ("", ".", "..") else f"record_{stem}"


def _as_atoms(structure):
    """ASE Atoms from ASE Atoms or a pymatgen Structure."""
    if hasattr(structure, "get_positions"):
        return structure
    if hasattr(structure, "lattice") and hasattr(structure, "sites"):
        from pymatgen.io.ase import AseAtomsAdaptor

        return AseAtomsAdaptor.get_atoms(structure)
    raise TypeError(f"expected ASE Atoms or a pymatgen Structure, got {type(structure).__name__}")


def _record_line(record: DatasetRecord) -> str:
    return json.dumps(record.to_json(), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _content_hash(lines: Iterable[str], structure_bytes: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
        digest.update(b"\n")
    for blob in structure_bytes:
        digest.update(blob)
    return "sha256:" + digest.hexdigest()


def _counts(records: list[DatasetRecord]) -> dict[str, Any]:
    def n(pred):
        return sum(1 for r in records if pred(r))

    return {
        "records": len(records),
        "with_a2f": n(lambda r: r.a2f is not None),
        "with_cpd": n(lambda r: r.cpd is not None),
        "with_fpd": n(lambda r: r.fpd is not None),
        "with_mpd": n(lambda r: r.mpd is not None),
        "with_lambda": n(lambda r: r.lambda_ is not None),
        "with_omega_log": n(lambda r: r.omega_log_K is not None),
        "with_omega_2": n(lambda r: r.omega_2_K is not None),
        "with_tc": n(lambda r: r.tc_K is not None),
        "with_tc_eliashberg": n(lambda r: r.tc_eliashberg_K is not None),
        "splits": {(s or "null"): n(lambda r, s=s: r.split == s) for s in (*SPLITS, None)},
    }


def write_dataset(
    directory: Path | str,
    records: Iterable[DatasetRecord],
    structures: Mapping[str, Any],
    *,
    source: str,
    query: Any = None,
    overwrite: bool = False,
) -> Dataset:
    """Write a dataset directory atomically and return it as read back.

    `structures` maps record id → ASE Atoms or pymatgen Structure; each record's `structure_file` is
    set to ``structures/<id>.cif``. Site PhDOS rows must match the structure's atom count.
    An existing `directory` is replaced only with ``overwrite=True`` (and only once the new one is
    complete).
    """
    from ase.io import write

    directory = Path(directory)
    records = list(records)
    if directory.exists() and not overwrite:
        raise FileExistsError(f"dataset directory {directory} exists; pass overwrite=True to replace it")
    ids = [r.id for r in records]
    duplicates = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    if duplicates:
        raise DatasetFormatError(f"duplicate record ids {duplicates[:5]}")
    missing = [i for i in ids if i not in structures]
    if missing:
        raise DatasetFormatError(f"no structure given for record id(s) {missing[:5]}")
    stems = [_safe_file_stem(i) for i in ids]
    if len(set(stems)) != len(stems):
        raise DatasetFormatError("record ids collide after making them file names; use simpler ids")

    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        (staging / STRUCTURES_DIR).mkdir()
        final_records, blobs = [], []
        for record, stem in zip(records, stems):
            atoms = _as_atoms(structures[record.id])
            for name in SITE_PHDOS_KEYS:
                rows = getattr(record, name)
                if rows is not None and len(rows) != len(atoms):
                    raise DatasetFormatError(
                        f"record {record.id!r}: '{name}' has {len(rows)} rows but the structure has "
                        f"{len(atoms)} atoms (one 51-bin PhDOS row per atom, CIF atom order)"
                    )
            relative = f"{STRUCTURES_DIR}/{stem}.cif"
            write(staging / relative, atoms, format="cif")
            blobs.append((staging / relative).read_bytes())
            final_records.append(record.with_structure_file(relative))
        lines = [_record_line(r) for r in final_records]
        (staging / RECORDS_FILE).write_text("".join(line + "\n" for line in lines))
        manifest = DatasetManifest(
            format_version=FORMAT_VERSION,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            source=source,
            query=query,
            counts=_counts(final_records),
            content_hash=_content_hash(lines, blobs),
            grid_meV=tuple(float(x) for x in MODEL_GRID_MEV),
        )
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
        if directory.exists():
            retired = directory.with_name(f".{directory.name}.old-{os.getpid()}")
            directory.rename(retired)
            staging.rename(directory)
            shutil.rmtree(retired)
        else:
            staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return read_dataset(directory)


def read_dataset(directory: Path | str, *, verify_hash: bool = True) -> Dataset:
    """Read and check a dataset directory; `verify_hash` recomputes the content hash."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST_FILE
    records_path = directory / RECORDS_FILE
    if not manifest_path.is_file():
        raise DatasetFormatError("not a dataset directory: manifest.json is missing", directory)
    try:
        raw = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as err:
        raise DatasetFormatError(f"invalid JSON: {err}", manifest_path) from err
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise DatasetFormatError(f"format_version {version!r} is not supported (this reader knows "
                                 f"{FORMAT_VERSION})", manifest_path)
    grid = np.asarray(raw.get("grid_meV", []), dtype=float)
    if grid.shape != MODEL_GRID_MEV.shape or not np.allclose(grid, MODEL_GRID_MEV):
        raise DatasetFormatError("grid_meV differs from the model grid np.arange(0.25, 101, 2)", manifest_path)
    try:
        manifest = DatasetManifest(
            format_version=version,
            created=raw["created"],
            source=raw["source"],
            query=raw.get("query"),
            counts=raw["counts"],
            content_hash=raw["content_hash"],
            grid_meV=tuple(float(x) for x in grid),
        )
    except KeyError as err:
        raise DatasetFormatError(f"missing field {err}", manifest_path) from err
    if not records_path.is_file():
        raise DatasetFormatError("records.jsonl is missing", directory)
    records, lines = [], []
    for number, line in enumerate(records_path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise DatasetFormatError(f"line {number}: invalid JSON: {err}", records_path) from err
        record = DatasetRecord.from_json(obj, where=f"{records_path.name} line {number}")
        if not record.structure_file:
            raise DatasetFormatError(f"line {number}: record {record.id!r} has no structure_file", records_path)
        records.append(record)
        lines.append(_record_line(record))
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise DatasetFormatError("duplicate record ids", records_path)
    blobs = []
    for record in records:
        path = (directory / record.structure_file).resolve()
        if directory.resolve() not in path.parents:
            raise DatasetFormatError(f"record {record.id!r}: structure_file {record.structure_file!r} "
                                     "points outside the dataset directory", records_path)
        if not path.is_file():
            raise DatasetFormatError(f"record {record.id!r}: structure file is missing", path)
        if verify_hash:
            blobs.append(path.read_bytes())
    if verify_hash:
        actual = _content_hash(lines, blobs)
        if actual != manifest.content_hash:
            raise DatasetFormatError(
                f"content_hash mismatch (manifest {manifest.content_hash}, files {actual}): the "
                "directory was edited after writing; rewrite it with write_dataset", manifest_path
            )
    return Dataset(directory=directory, manifest=manifest, records=tuple(records))
