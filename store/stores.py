"""Where documents live: one configuration → the document Store and the jobflow JobStore.

No configuration: an embedded on-disk MontyStore (sqlite) under `settings.home/store`, no server.
`settings.store_uri` set: a MongoStore on that server. Both are maggma Stores, so the same code (and
the same tests) run on either. Writes are upserts keyed by `calc_id`, so re-running a material
updates its document instead of adding a second one.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from jobflow import JobStore
from maggma.core import Store, StoreError
from maggma.stores import MongoStore, MontyStore

from betenet.settings import BetenetSettings, get_settings
from betenet.store.documents import ElectronPhononDoc, as_utc

DOCS_COLLECTION = "electron_phonon"
JOBS_COLLECTION = "jobs"
OUTPUTS_COLLECTION = "job_outputs"
DOC_KEY = "calc_id"


def embedded_store_path(settings: BetenetSettings) -> Path:
    return (Path(settings.home) / "store").resolve()


def _database_name(settings: BetenetSettings) -> str:
    """The URI's path names the database when it has one (mongodb://host/db), else settings.database."""
    path = urlparse(settings.store_uri or "").path.strip("/")
    return path or settings.database


def _make_store(collection: str, settings: BetenetSettings, key: str) -> Store:
    if settings.store_uri:
        return MongoStore.from_uri(
            settings.store_uri, collection_name=collection, database=_database_name(settings), key=key
        )
    path = embedded_store_path(settings)
    path.mkdir(parents=True, exist_ok=True)
    return MontyStore(
        collection, database_path=str(path), database_name=settings.database, storage="sqlite", key=key
    )


def get_store(settings: BetenetSettings | None = None, collection: str = DOCS_COLLECTION) -> Store:
    """The document Store (not yet connected: `with store:` or `store.connect()`)."""
    return _make_store(collection, settings or get_settings(), key=DOC_KEY)


def get_job_store(settings: BetenetSettings | None = None) -> JobStore:
    """jobflow's JobStore on the same database as the documents (job outputs, flow bookkeeping)."""
    settings = settings or get_settings()
    return JobStore(
        _make_store(JOBS_COLLECTION, settings, key="uuid"),
        additional_stores={"data": _make_store(OUTPUTS_COLLECTION, settings, key="blob_uuid")},
    )


def save_document(doc: ElectronPhononDoc, store: Store | None = None) -> ElectronPhononDoc:
    """Upsert `doc` by calc_id, keeping the first `created_at` of an existing document.

    Returns the document as stored. The store is connected (and closed) here when it is not already.
    """
    store = store or get_store()
    opened = _ensure_connected(store)
    try:
        previous = store.query_one({DOC_KEY: doc.calc_id}, properties=["created_at"])
        if previous and previous.get("created_at"):
            doc = doc.model_copy(update={"created_at": as_utc(previous["created_at"])})
        store.update(doc.to_store(), key=DOC_KEY)
        if not isinstance(store, MontyStore):  # montydb has no indexes; on a server, upserts want one
            store.ensure_index(DOC_KEY)
        return doc
    finally:
        if opened:
            store.close()


def load_document(calc_id: str, store: Store | None = None) -> ElectronPhononDoc | None:
    store = store or get_store()
    opened = _ensure_connected(store)
    try:
        raw = store.query_one({DOC_KEY: calc_id})
    finally:
        if opened:
            store.close()
    if raw is None:
        return None
    raw.pop("_id", None)
    return ElectronPhononDoc.model_validate(raw)


def _ensure_connected(store: Store) -> bool:
    """Connect when needed; True when this call opened the connection (and so must close it)."""
    try:
        store._collection  # noqa: B018 - maggma raises StoreError when not connected
        return False
    except StoreError:
        store.connect()
        return True
