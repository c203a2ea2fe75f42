"""Move electron-phonon documents between stores as plain JSON (gzip when the name ends in .gz).

A file of documents is how a finished DFT campaign travels: committed as a fixture, mailed to a
colleague, or loaded into another database. Import goes through `save_document`, so it is an
idempotent upsert by calc_id, and every document is validated before the first one is written.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from maggma.core import Store

from betenet.store.documents import ElectronPhononDoc, as_utc
from betenet.store.stores import DOC_KEY, get_store, save_document, with_connection


def _open(path: Path, mode: str, compressed: bool):
    return gzip.open(path, mode + "t", encoding="utf-8") if compressed else open(path, mode, encoding="utf-8")


def _stored_documents(store: Store | None, criteria: dict | None) -> list[ElectronPhononDoc]:
    raw = with_connection(store or get_store(), lambda connected: list(connected.query(criteria or {})))
    for item in raw:
        item.pop("_id", None)
    return [ElectronPhononDoc.model_validate(item) for item in raw]


def _write_documents(path: Path, docs: list[ElectronPhononDoc]) -> int:
    """Sorted by calc_id, through a temporary file: a reader never sees half a file."""
    rows = [doc.model_dump(mode="json") for doc in sorted(docs, key=lambda d: d.calc_id)]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with _open(tmp, "w", compressed=path.suffix == ".gz") as handle:
        json.dump(rows, handle, separators=(",", ":"))
    tmp.replace(path)
    return len(rows)


def export_documents(path: Path | str, criteria: dict | None = None, store: Store | None = None) -> int:
    """Write the documents matching `criteria` (all by default), sorted by calc_id; returns the count."""
    return _write_documents(Path(path), _stored_documents(store, criteria))


def merge_documents(path: Path | str, store: Store | None = None) -> int:
    """Add the store's documents to the file (created if missing); per calc_id the newer `last_updated` wins, so
    several stores (one per campaign worker) can export into one file in turn. Returns the file's count."""
    path = Path(path)
    merged = {doc.calc_id: doc for doc in (read_documents(path) if path.exists() else [])}
    for doc in _stored_documents(store, None):
        kept = merged.get(doc.calc_id)
        if kept is None or as_utc(doc.last_updated) >= as_utc(kept.last_updated):
            merged[doc.calc_id] = doc
    return _write_documents(path, list(merged.values()))


def read_documents(path: Path | str) -> list[ElectronPhononDoc]:
    """Validated documents from a file written by `export_documents`; ValueError naming the bad entry."""
    path = Path(path)
    try:
        with _open(path, "r", compressed=path.suffix == ".gz") as handle:
            raw = json.load(handle)
    except (OSError, json.JSONDecodeError, EOFError) as err:
        raise ValueError(f"{path}: not a readable JSON file of documents ({err})") from err
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a JSON list of electron-phonon documents, got {type(raw).__name__}")
    docs = []
    for number, item in enumerate(raw):
        try:
            docs.append(ElectronPhononDoc.model_validate(item))
        except ValueError as err:
            raise ValueError(f"{path}: document {number} is not a valid ElectronPhononDoc: {err}") from err
    return docs


def import_documents(path: Path | str, store: Store | None = None) -> list[ElectronPhononDoc]:
    """Upsert every document of `path` into the store (all validated first: nothing half-imported)."""
    docs = read_documents(path)
    return with_connection(store or get_store(), lambda connected: [save_document(doc, connected) for doc in docs])
