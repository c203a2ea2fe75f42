"""Predictions back to the store: the `predictions` collection beside the DFT documents.

One document per (ensemble, structure), keyed `prediction_id = <ensemble_id>:<structure id>`, so
re-screening with the same ensemble updates rows instead of adding copies, while another ensemble
(or the same ensemble retrained on a new dataset) writes its own. Each row carries the ensemble id,
the hash of the dataset it was trained on, the variant and μ*, the structure's fingerprint (the
first half of a DFT document's calc_id, so a campaign can tell which candidates already have DFT)
and, when the input was a store document, its calc_id.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from maggma.core import Store
from maggma.stores import MontyStore

from betenet.settings import BetenetSettings, get_settings

PREDICTIONS_COLLECTION = "predictions"
PREDICTION_KEY = "prediction_id"


def get_predictions_store(settings: BetenetSettings | None = None) -> Store:
    """Same database and configuration as the documents; rows are upserted by `prediction_id`."""
    from betenet.store.stores import get_store

    return get_store(settings or get_settings(), collection=PREDICTIONS_COLLECTION)


def prediction_documents(predictions, *, ensemble_id: str, dataset_hash: str | None, variant: str,
                         fingerprints: dict[str, str], calc_ids: dict[str, str] | None = None) -> list[dict]:
    now = datetime.now(timezone.utc)
    docs = []
    for prediction in predictions:
        doc = prediction.to_json()
        doc.update(
            prediction_id=f"{ensemble_id}:{prediction.id}", structure_id=doc.pop("id"), ensemble_id=ensemble_id,
            dataset_hash=dataset_hash, variant=variant, structure_fingerprint=fingerprints.get(prediction.id),
            calc_id=(calc_ids or {}).get(prediction.id), last_updated=now,
        )
        docs.append(doc)
    return docs


def save_predictions(docs: Iterable[dict], store: Store) -> int:
    """Upsert by prediction_id; returns how many were written."""
    docs = list(docs)
    if not docs:
        return 0
    store.connect()
    try:
        if isinstance(store, MontyStore):
            _replace_unindexed(store, docs)
        else:
            store.ensure_index(PREDICTION_KEY)
            store.update(docs, key=PREDICTION_KEY)
    finally:
        store.close()
    return len(docs)


def _replace_unindexed(store: MontyStore, docs: list[dict]) -> None:
    """montydb has no indexes: maggma's per-document upsert scans the collection once per row
    (806 rows took ~2 min). One query finds the rows to replace, one delete and one insert write."""
    ids = [d[PREDICTION_KEY] for d in docs]
    existing = [d[PREDICTION_KEY] for d in store.query({PREDICTION_KEY: {"$in": ids}}, properties=[PREDICTION_KEY])]
    if existing:  # (montydb cannot delete from a collection that was never written)
        store.remove_docs({PREDICTION_KEY: {"$in": existing}})
    store._collection.insert_many([dict(d) for d in docs])
