"""Where documents live: one configuration → the document Store and the jobflow JobStore.

No configuration: an embedded on-disk MontyStore (sqlite) under `settings.home/store`, no server.
`settings.store_uri` set: a MongoStore on that server. Both are maggma Stores, so the same code (and
the same tests) run on either. Writes are upserts keyed by `calc_id`, so re-running a material
updates its document instead of adding a second one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, TypeVar
from urllib.parse import urlparse

from jobflow import JobStore
from maggma.core import Store, StoreError
from maggma.stores import MongoStore, MontyStore
from pymatgen.core import Structure

from betenet.settings import BetenetSettings, get_settings
from betenet.store.documents import ElectronPhononDoc, as_utc, structure_fingerprint

DOCS_COLLECTION = "electron_phonon"
JOBS_COLLECTION = "jobs"
OUTPUTS_COLLECTION = "job_outputs"
DOC_KEY = "calc_id"
T = TypeVar("T")


def embedded_store_path(settings: BetenetSettings) -> Path:
    return (Path(settings.home) / "store").resolve()


def _database_name(settings: BetenetSettings) -> str:
    """The URI's path names the database when it has one (mongodb://host/db), else settings.database."""
    path = urlparse(settings.store_uri or "").path.strip("/")
    return path or settings.database


def describe_store(settings: BetenetSettings, collection: str = DOCS_COLLECTION) -> str:
    """Where data came from, for manifests (no credentials: the URI's user:password is dropped)."""
    if settings.store_uri:
        url = urlparse(settings.store_uri)
        return f"mongodb://{url.hostname}:{url.port or 27017} database {settings.database} collection {collection}"
    return f"embedded store {embedded_store_path(settings)} database {settings.database} collection {collection}"


def make_store(collection: str, settings: BetenetSettings, key: str) -> Store:
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
    return make_store(collection, settings or get_settings(), key=DOC_KEY)


def get_job_store(settings: BetenetSettings | None = None) -> JobStore:
    """jobflow's JobStore on the same database as the documents (job outputs, flow bookkeeping)."""
    settings = settings or get_settings()
    return JobStore(
        make_store(JOBS_COLLECTION, settings, key="uuid"),
        additional_stores={"data": make_store(OUTPUTS_COLLECTION, settings, key="blob_uuid")},
    )


def with_connection(store: Store, use: Callable[[Store], T]) -> T:
    """`use(store)`; a Store not yet connected is connected for the call and closed after.

    maggma raises StoreError from an unconnected Store before it reads or writes anything, so the
    call simply runs again once connected; a Store the caller connected stays open.
    """
    try:
        return use(store)
    except StoreError:
        store.connect()
        try:
            return use(store)
        finally:
            store.close()


def save_document(doc: ElectronPhononDoc, store: Store | None = None) -> ElectronPhononDoc:
    """Upsert `doc` by calc_id, keeping the first `created_at` of an existing document.

    Returns the document as stored. The store is connected (and closed) here when it is not already.
    """

    def upsert(connected: Store) -> ElectronPhononDoc:
        stored = doc
        previous = connected.query_one({DOC_KEY: doc.calc_id}, properties=["created_at"])
        if previous and previous.get("created_at"):
            stored = doc.model_copy(update={"created_at": as_utc(previous["created_at"])})
        connected.update(stored.to_store(), key=DOC_KEY)
        if not isinstance(connected, MontyStore):  # montydb has no indexes; on a server, upserts want one
            connected.ensure_index(DOC_KEY)
        return stored

    return with_connection(store or get_store(), upsert)


def load_document(calc_id: str, store: Store | None = None) -> ElectronPhononDoc | None:
    raw = with_connection(store or get_store(), lambda connected: connected.query_one({DOC_KEY: calc_id}))
    if raw is None:
        return None
    raw.pop("_id", None)
    return ElectronPhononDoc.model_validate(raw)


def documents_of_structure(structure: Structure, store: Store | None = None) -> list[ElectronPhononDoc]:
    """Every stored document computed for this crystal (any method or settings), whatever its cell choice.

    `structure` must be the cell the workflow ran on (`betenet.qe.structure.qe_symmetric_cell`), the one its
    calc_id was taken on; how calc_id encodes the crystal is this package's business alone.
    """
    criteria = {DOC_KEY: {"$regex": f"^{re.escape(structure_fingerprint(structure))}-"}}
    raw = with_connection(store or get_store(), lambda connected: list(connected.query(criteria)))
    return [ElectronPhononDoc.model_validate({k: v for k, v in item.items() if k != "_id"}) for item in raw]
