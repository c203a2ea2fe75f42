"""One dataset from several: the DFT campaign's α²F records beside moment-only labels (JARVIS), for mixed supervision.

Records keep their own `source` (the loss knows a moment-only record by its missing α²F); the manifest names every
input dataset with its content hash and count, so a trained ensemble traces back to each part. Ids must be
unique across the inputs (JARVIS ids are `JVASP-…`, the store's are calc ids), else the combination is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from betenet.dataset.format import Dataset, DatasetFormatError, DatasetRecord, write_dataset


def combine_datasets(out: Path | str, datasets: Sequence[Dataset], *,
                     split_of: Callable[[int, DatasetRecord], str | None] | None = None,
                     overwrite: bool = False) -> Dataset:
    """Write the records of `datasets` (in order) as one dataset at `out`; `split_of(index, record)` relabels the
    splits (e.g. a grouped held-out split over the combined rows), else each record keeps its own."""
    records, structures, parts = [], {}, []
    for dataset in datasets:
        clash = sorted(structures.keys() & {r.id for r in dataset.records})
        if clash:
            raise DatasetFormatError(f"record ids {clash[:5]} are in {dataset.directory} and an earlier dataset: "
                                     "combined datasets need distinct ids")
        for record in dataset.records:
            records.append(record)
            structures[record.id] = dataset.read_structure(record)
        parts.append({"directory": str(dataset.directory), "source": dataset.manifest.source,
                      "content_hash": dataset.content_hash, "records": len(dataset.records),
                      "with_a2f": sum(r.a2f is not None for r in dataset.records)})
    if split_of is not None:
        records = [replace(record, split=split_of(i, record)) for i, record in enumerate(records)]
    source = " + ".join(part["source"] for part in parts)
    return write_dataset(out, records, structures, source=source, query={"combined": parts}, overwrite=overwrite)
