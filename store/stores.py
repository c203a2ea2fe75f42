"""Where documents live: one configuration → the document Store and the jobflow JobStore.

No configuration: an embedded on-disk MontyStore (sqlite) under `settings.home/store`, no server.
`settings.store_uri` set: a MongoStore on that server. Both are maggma Stores, so the same code (and
the same tests) run on either. Writes are upserts keyed by `calc_id`, so re-running a material
updates its document instead of adding a second one.

Invariants every writer relies on (MongoDB promises neither without being told):
- one document per calc_id: a server store creates a unique index on it when it connects; the embedded
  store, which has no indexes, serialises its writers with a file lock instead;
- an older version never replaces a newer one: a document is written only over one whose `last_updated`
  is not later (on a server in the same replace, so a concurrent newer write cannot slip in between);
- a store that cannot be reached or opened fails fast (a server gets `SERVER_TIMEOUT_MS` and a ping at
  connect, see `betenet.store.connection`) with `StoreUnavailableError`, one line naming the store and what
  to check; so does a server lost in the middle of a read or write (a document is replaced whole, never
  half-written).
"""

from __future__ import annotations

import contextlib
import fcntl
import re
from datetime import datetime
from pathlib import Path
from typing import Callable, TypeVar
from urllib.parse import urlparse

from jobflow import JobStore
from maggma.core import Store, StoreError
from maggma.stores import MongoStore, MontyStore
from pymatgen.core import Structure
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure, PyMongoError

from betenet.settings import BetenetSettings, get_settings
from betenet.store.connection import (
    CLIENT_TIMEOUTS,
    StoreUnavailableError,
    check_uri,
    create_embedded_folder,
    database_name,
    embedded_store_path,
    ping_server,
    redacted_uri,
    server_error,
)
from betenet.store.documents import ElectronPhononDoc, as_utc, structure_fingerprint

DOCS_COLLECTION = "electron_phonon"
JOBS_COLLECTION = "jobs"
OUTPUTS_COLLECTION = "job_outputs"
DOC_KEY = "calc_id"
# A duplicate-key error on an upsert means another writer inserted the same calc_id first (or holds a newer
# version): read again and decide again. Each retry follows a write that succeeded elsewhere, so few suffice.
DUPLICATE_KEY_RETRIES = 5
T = TypeVar("T")


class CheckedMongoStore(MongoStore):
    """A MongoStore that pings the server when it connects, so a wrong URI fails there and then."""

    def connect(self, force_reset: bool = False):
        if self._coll is not None and not force_reset:
            return
        try:
            super().connect(force_reset)
            ping_server(self._coll.database.client, self.uri, self.database)
            self._on_connect()
        except (PyMongoError, StoreUnavailableError) as err:
            if self._coll is not None:
                self.close()
            if isinstance(err, StoreUnavailableError):
                raise
            raise server_error(self.uri, self.database, err, "connecting") from err

    def _on_connect(self) -> None:
        """What a subclass must hold true on every connection."""


class DocumentMongoStore(CheckedMongoStore):
    """The documents' MongoStore: its key (calc_id) is unique, by an index created when it connects."""

    def _on_connect(self) -> None:
        try:
            self._coll.create_index(self.key, unique=True)
        except OperationFailure as err:
            if err.code != 11000:  # 11000: duplicate key, the collection already breaks the invariant
                raise
            raise StoreUnavailableError(
                f"collection {self.collection_name} of {redacted_uri(self.uri or self.name)} holds several documents "
                f"with the same {self.key}, so the unique index cannot be created: keep the newest of each "
                f"({str(err).splitlines()[0]})") from err


def describe_store(settings: BetenetSettings, collection: str = DOCS_COLLECTION) -> str:
    """Where data came from, for manifests (no credentials: the URI's user:password is dropped)."""
    if settings.store_uri:
        url = urlparse(settings.store_uri)
        return f"mongodb://{url.hostname}:{url.port or 27017} database {settings.database} collection {collection}"
    return f"embedded store {embedded_store_path(settings)} database {settings.database} collection {collection}"


def make_store(collection: str, settings: BetenetSettings, key: str, unique_key: bool = False) -> Store:
    """A maggma Store on the configured server or the embedded store; `unique_key`: one document per key."""
    if settings.store_uri:
        check_uri(settings.store_uri)
        kind = DocumentMongoStore if unique_key else CheckedMongoStore
        return kind.from_uri(settings.store_uri, collection_name=collection, database=database_name(settings),
                             key=key, mongoclient_kwargs=dict(CLIENT_TIMEOUTS))
    path = create_embedded_folder(settings)
    return EmbeddedStore(
        collection, database_path=str(path), database_name=settings.database, storage="sqlite", key=key
    )


def get_store(settings: BetenetSettings | None = None, collection: str = DOCS_COLLECTION) -> Store:
    """The document Store (not yet connected: `with store:` or `store.connect()`)."""
    return make_store(collection, settings or get_settings(), key=DOC_KEY, unique_key=collection == DOCS_COLLECTION)


def get_job_store(settings: BetenetSettings | None = None) -> JobStore:
    """jobflow's JobStore on the same database as the documents (job outputs, flow bookkeeping)."""
    settings = settings or get_settings()
    return JobStore(
        make_store(JOBS_COLLECTION, settings, key="uuid"),
        additional_stores={"data": make_store(OUTPUTS_COLLECTION, settings, key="blob_uuid")},
    )


def _is_connected(store: Store) -> bool:
    try:
        store._collection  # maggma's Mongo-like stores raise StoreError here until connected
    except StoreError:
        return False
    return True


def with_connection(store: Store, use: Callable[[Store], T]) -> T:
    """`use(store)`; a Store not yet connected is connected for the call and closed after (once for all the
    nested calls `use` makes with it); a Store the caller connected stays open. A server lost on the way is
    a StoreUnavailableError.
    """
    try:
        if _is_connected(store):
            return use(store)
        store.connect()
        try:
            return use(store)
        finally:
            store.close()
    except ConnectionFailure as err:
        raise server_error(store.name, getattr(store, "database", "?"), err, "reading or writing") from err


def _stored_ms(value: datetime) -> datetime:
    """A timestamp as BSON keeps it (milliseconds), so a stored one and a fresh one compare fairly."""
    value = as_utc(value)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


@contextlib.contextmanager
def embedded_lock(database_path: str):
    """One process at a time on an embedded store's folder where montydb needs it (see EmbeddedStore)."""
    with open(Path(database_path) / "betenet.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class EmbeddedStore(MontyStore):
    """MontyStore safe with several processes: montydb rewrites the folder's storage configuration on every
    connect (a reader may see it half-written: 'Empty module name') and has no unique index, so connects
    and document upserts hold the folder's lock."""

    def connect(self, force_reset: bool = False):
        with embedded_lock(self.database_path):
            super().connect(force_reset)


def _upsert_unless_newer(connected: Store, doc: ElectronPhononDoc, guarded_by_index: bool) -> ElectronPhononDoc:
    """Write `doc` unless the stored version is newer (then return that one); keep the first created_at.

    On a server the replace itself carries the condition (`last_updated` ≤ ours), so a newer version
    written after our read is never overwritten: the upsert then hits the unique index instead
    (DuplicateKeyError, for the caller to retry). Without an index the caller holds a lock.
    """
    previous = connected.query_one({DOC_KEY: doc.calc_id}, properties=["created_at", "last_updated"])
    if previous and previous.get("last_updated") and _stored_ms(previous["last_updated"]) > _stored_ms(doc.last_updated):
        return load_document(doc.calc_id, connected)
    stored = doc
    if previous and previous.get("created_at"):
        stored = doc.model_copy(update={"created_at": as_utc(previous["created_at"])})
    criteria = {DOC_KEY: doc.calc_id}
    if guarded_by_index:
        criteria["last_updated"] = {"$lte": _stored_ms(doc.last_updated)}
    connected._collection.replace_one(criteria, stored.to_store(), upsert=True)
    return stored


def save_document(doc: ElectronPhononDoc, store: Store | None = None) -> ElectronPhononDoc:
    """Upsert `doc` by calc_id unless the store holds a newer version of it, keeping the first `created_at`.

    Returns the document as stored (the newer stored one when `doc` is older). Safe with concurrent
    writers of the same calc_id (see the module's invariants). The store is connected (and closed) here
    when it is not already.
    """

    def upsert(connected: Store) -> ElectronPhononDoc:
        if isinstance(connected, MontyStore):
            with embedded_lock(connected.database_path):
                return _upsert_unless_newer(connected, doc, guarded_by_index=False)
        for _ in range(DUPLICATE_KEY_RETRIES):
            try:
                return _upsert_unless_newer(connected, doc, guarded_by_index=True)
            except DuplicateKeyError:
                continue  # another writer got there first: read what it wrote and decide again
            except ConnectionFailure as err:
                raise server_error(connected.name, connected.database, err, f"writing document {doc.calc_id} "
                                   "(a document is replaced whole: the stored one is its previous version or "
                                   "this one; rerun when the server is back)") from err
        raise StoreUnavailableError(
            f"document {doc.calc_id} could not be written to {connected.name}: {DUPLICATE_KEY_RETRIES} tries in a row "
            "lost a race with other writers of the same calc_id; rerun when they are done")

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
