"""The committed data of the main job: the JARVIS moment labels are the shared rows, unchanged."""

import gzip
from pathlib import Path

from betenet.dataset.jarvis import read_jarvis

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "jarvis" / "jarvis_supercon.jsonl.gz"


def test_the_jarvis_fixture_holds_the_shared_rows_unchanged(shared_dir):
    shared = shared_dir / "data" / "jarvis_supercon" / "jarvis_supercon.jsonl"
    assert gzip.decompress(FIXTURE.read_bytes()) == shared.read_bytes()
    records, structures = read_jarvis(FIXTURE)
    assert len(records) == len(structures) == 924
    assert sum(r.a2f is None and r.lambda_ is not None for r in records) == 924  # moments only
