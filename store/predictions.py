"""Model predictions in the store: typed documents in their own `predictions` collection.

One `PredictionDoc` per (ensemble, structure), keyed `prediction_id = <ensemble_id>:<structure id>`, so
re-screening with the same ensemble updates rows instead of adding copies, while another ensemble (or
the same ensemble retrained on a new dataset) writes its own. Each row carries the ensemble id, the
hash of the dataset it was trained on, the variant and μ*, the structure's fingerprint (the same crystal
as a DFT document of that structure) and, when the input was a store document, that document's calc_id.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from maggma.core import Store
from maggma.stores import MontyStore
from montydb import MontyClient, set_storage
from pydantic import BaseModel, Field, field_validator

from betenet.settings import BetenetSettings, get_settings
from betenet.store.documents import as_utc
from betenet.store.stores import embedded_lock, make_store, with_connection

PREDICTIONS_COLLECTION = "predictions"
PREDICTION_KEY = "prediction_id"
PREDICTION_VERSION = 2  # 2: the Eliashberg Tc fields (version-1 rows lack them and read as None)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class PredictionDoc(BaseModel):
    """An ensemble's prediction for one structure: α²F mean ± spread on the model grid and the moments."""

    prediction_id: str = Field(description="<ensemble_id>:<structure_id>, the upsert key.")
    structure_id: str = Field(description="Id of the input (file stem, dataset record id or calc_id).")
    formula: str
    n_atoms: int
    source: str = Field(description="Where the structure came from (file, dataset record, store document).")
    ensemble_id: str
    dataset_hash: str | None = Field(description="Content hash of the dataset the ensemble was trained on.")
    variant: str = Field(description="Model variant: CSO / CPD / FPD.")
    n_members: int
    mu_star: float = Field(description="Coulomb pseudopotential of the predicted Tc.")
    omega_meV: list[float] = Field(description="The model's 51-bin frequency grid, meV.")
    a2f_mean: list[float] = Field(description="Mean α²F of the members.")
    a2f_std: list[float] = Field(description="Spread (standard deviation) of the members' α²F.")
    lambda_: float | None = Field(description="λ of the mean α²F.")
    lambda_std: float | None = None
    omega_log_K: float | None = Field(description="ω_log of the mean α²F, K (None where λ = 0).")
    omega_log_K_std: float | None = None
    omega_2_K: float | None = None
    omega_2_K_std: float | None = None
    tc_K: float | None = Field(description="Allen–Dynes Tc of the mean α²F at mu_star, K.")
    tc_K_std: float | None = None
    tc_eliashberg_K: float | None = Field(
        default=None, description="Isotropic Eliashberg Tc of the mean α²F at mu_star, K (None: below "
        "tc_eliashberg_below_K, or refused with tc_eliashberg_reason).")
    tc_eliashberg_K_std: float | None = Field(
        default=None, description="Spread of the members' Eliashberg Tc, K (None where it was not computed: "
        "screen computes it for the best-ranked rows only).")
    tc_eliashberg_below_K: float | None = None
    tc_eliashberg_reason: str | None = None
    dft: dict[str, float | None] | None = Field(default=None, description="DFT labels when the input had them.")
    structure_fingerprint: str = Field(description="Crystal identity shared with the DFT documents.")
    calc_id: str | None = Field(default=None, description="The DFT document the input came from or matched.")
    prediction_version: int = PREDICTION_VERSION
    last_updated: datetime = Field(default_factory=_utcnow)

    @field_validator("last_updated")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    def to_store(self) -> dict:
        doc = self.model_dump(mode="json")
        doc["last_updated"] = self.last_updated
        return doc


def get_predictions_store(settings: BetenetSettings | None = None) -> Store:
    """Same database and configuration as the documents; rows are upserted by `prediction_id`."""
    return make_store(PREDICTIONS_COLLECTION, settings or get_settings(), key=PREDICTION_KEY)


def save_predictions(docs: Iterable[PredictionDoc], store: Store) -> int:
    """Upsert by prediction_id; returns how many were written."""
    rows = [d.to_store() for d in docs]
    if not rows:
        return 0
    if isinstance(store, MontyStore):
        _replace_embedded(store, rows)
    else:
        def upsert(connected: Store) -> None:
            connected.ensure_index(PREDICTION_KEY)
            connected.update(rows, key=PREDICTION_KEY)

        with_connection(store, upsert)
    return len(rows)


def _replace_embedded(store: MontyStore, rows: list[dict]) -> None:
    """montydb has no indexes: maggma's per-row upsert scans the collection once per row (806 rows took
    ~2 min). One delete of the rows being replaced and one bulk insert through montydb's own client do it."""
    with embedded_lock(store.database_path):  # montydb rewrites its configuration on connect: one writer at a time
        set_storage(store.database_path, storage=store.storage, **store.storage_kwargs)  # as MontyStore.connect does
        with MontyClient(store.database_path, **store.client_kwargs) as client:
            collection = client[store.database_name][store.collection_name]
            ids = [row[PREDICTION_KEY] for row in rows]
            if collection.count_documents({PREDICTION_KEY: {"$in": ids}}):
                collection.delete_many({PREDICTION_KEY: {"$in": ids}})
            collection.insert_many(rows)
