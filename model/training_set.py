"""Dataset → what the network trains on: graphs (with the variant's site PhDOS) and their labels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from ase.data import chemical_symbols

from betenet.dataset.format import Dataset, DatasetRecord
from betenet.model.errors import EmptyDatasetError
from betenet.model.graphs import CrystalGraph, dataset_graphs
from betenet.model.loss import Targets
from betenet.model.variants import get_variant


@dataclass(frozen=True)
class TrainingSet:
    """Graphs (with site PhDOS where the variant needs them) and their labels, in one order."""

    graphs: list[CrystalGraph]
    targets: Targets
    content_hash: str | None = None
    source: str | None = None
    mlip: dict | None = None  # potential + phonon settings of MPD features (the dataset manifest's), else None

    def __post_init__(self):
        if len(self.graphs) == 0:
            raise EmptyDatasetError("the training set is empty: no samples with a structure and a label")
        if len(self.graphs) != len(self.targets):
            raise ValueError(f"{len(self.graphs)} graphs but {len(self.targets)} targets")

    @property
    def ids(self) -> list[str]:
        return [g.id for g in self.graphs]

    @property
    def elements(self) -> list[str]:
        return sorted(set().union(*(g.elements for g in self.graphs)), key=chemical_symbols.index)


def is_labelled(record: DatasetRecord) -> bool:
    """Training uses a record with any label: α²F, λ, ω_log or Tc."""
    return any(v is not None for v in (record.a2f, record.lambda_, record.omega_log_K, record.tc_K))


def check_variant_fits(dataset: Dataset, variant: str, splits: Sequence[str | None] | None) -> None:
    """Every labelled record that will be trained on has the site PhDOS the variant needs: one error
    counting all that lack it, before any graph is built."""
    kind = get_variant(variant)
    if not kind.needs_site_phdos:
        return
    records = [r for r in dataset.records if (splits is None or r.split in splits) and is_labelled(r)]
    lacking = [r.id for r in records if kind.site_phdos_of(r) is None]
    if lacking:
        raise kind.missing_site_phdos(
            lacking[0], f"{len(lacking)} of {len(records)} records of {dataset.directory} in splits "
            f"{list(splits) if splits else 'all'} lack it (e.g. {lacking[:3]}); train CSO, or rebuild the dataset "
            f"with --require {','.join(kind.required_features)}")


def variant_graphs(dataset: Dataset, variant: str, r_max: float, cache_dir: Path | None = None,
                   records: Sequence[DatasetRecord] | None = None) -> list[CrystalGraph]:
    """Graphs of `records` (default: all) of `dataset`, carrying the variant's site PhDOS."""
    kind = get_variant(variant)
    graph_of = dict(zip((r.id for r in dataset.records), dataset_graphs(dataset, r_max, cache_dir)))
    graphs = []
    for record in dataset.records if records is None else records:
        graph = graph_of[record.id]
        if kind.needs_site_phdos:
            graph = graph.with_site_phdos(kind.require_site_phdos(kind.site_phdos_of(record), record.id))
        graphs.append(graph)
    return graphs


def training_set_from_dataset(dataset: Dataset, variant: str, *, splits: Sequence[str | None] | None = ("train",),
                              r_max: float = 4.0, cache_dir: Path | None = None) -> TrainingSet:
    """Records of `dataset` in `splits` (None: all) that carry a label; CPD/FPD need the site PhDOS.

    Records without any label (no α²F, λ, ω_log or Tc) are skipped; a record without the PhDOS its
    variant needs is an error naming the record.
    """
    records = [r for r in dataset.records if splits is None or r.split in splits]
    labelled = [r for r in records if is_labelled(r)]
    if not labelled:
        raise EmptyDatasetError(f"dataset {dataset.directory} has no labelled records in splits {splits} "
                                f"({len(records)} records without α²F, λ, ω_log or Tc)")
    graphs = variant_graphs(dataset, variant, r_max, cache_dir, labelled)
    mlip = (dataset.manifest.query or {}).get("mlip") if get_variant(variant).from_potential else None
    return TrainingSet(graphs, Targets.from_records(labelled, torch.float64), dataset.content_hash,
                       dataset.manifest.source, mlip)
