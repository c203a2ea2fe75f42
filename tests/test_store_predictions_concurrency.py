"""Predictions on the embedded store under concurrent writers: every row lands once, no writer fails.

montydb rewrites its folder's storage configuration on every connect and has no unique index, so a
writer must hold the folder lock (as document upserts do) — concurrent `predict`/`screen` runs on one
embedded store crashed or lost rows without it.
"""

from __future__ import annotations

import uuid

from betenet.settings import BetenetSettings
from betenet.store.predictions import PredictionDoc, get_predictions_store, save_predictions
from tests.test_store_concurrency import run_writers

N_WRITERS = 8
ROWS_EACH = 20


def _row(writer: int, number: int) -> PredictionDoc:
    return PredictionDoc(
        prediction_id=f"ens:w{writer}-s{number}", structure_id=f"w{writer}-s{number}", formula="Al", n_atoms=1,
        source="test", ensemble_id="ens", dataset_hash=None, variant="CSO", n_members=2, mu_star=0.1,
        omega_meV=[1.0, 2.0], a2f_mean=[0.1, 0.2], a2f_std=[0.01, 0.02], lambda_=0.4, omega_log_K=300.0,
        tc_K=1.2, structure_fingerprint=f"fp-{writer}-{number}")


def _writer(settings: BetenetSettings, writer: int, barrier, failures) -> None:
    try:
        barrier.wait(timeout=120)
        for number in range(ROWS_EACH):  # one row per call: many connects, as many predict runs would do
            save_predictions([_row(writer, number)], get_predictions_store(settings))
    except BaseException as err:  # reported to the test, which fails on any
        failures.put(f"writer {writer}: {type(err).__name__}: {err}")


def test_concurrent_prediction_writers_on_the_embedded_store(tmp_path):
    settings = BetenetSettings(home=tmp_path, database=f"t{uuid.uuid4().hex[:8]}")
    run_writers(_writer, [(settings, n) for n in range(N_WRITERS)])
    with get_predictions_store(settings) as store:
        ids = [row["prediction_id"] for row in store.query({}, properties=["prediction_id"])]
    assert len(ids) == N_WRITERS * ROWS_EACH and len(set(ids)) == len(ids)
