"""Store → dataset directory: the ML half's view of the electron-phonon documents.

`build_dataset(store, out, query)` runs a `StoreQuery`, turns every matching `ElectronPhononDoc` into
a `DatasetRecord` and writes the directory with `betenet.dataset.format.write_dataset`:

- ``a2f``: the chosen α²F through the seed's processing (`physics.to_model_grid`) onto the 51 bins;
- ``cpd`` / ``fpd``: coarse / fine site-projected phonon DOS (states/meV, one row per atom in the
  structure's order, ≈3 states per atom before smoothing) through the same processing;
- ``mpd`` (when asked for: ``require`` holds it, or an `MlipPhononCalculator` is given): the per-site
  phonon DOS of a universal interatomic potential for the document's structure, through the same
  processing as ``cpd`` (`betenet.phonons.dos.phonon_dos` → `site_phdos_rows`); the potential's name and
  version are the record's ``mpd_potential`` and, with the phonon settings, the manifest query's ``mlip``;
- ``lambda``, ``omega_log_K``, ``omega_2_K``: moments of that 51-bin α²F summed over bins 1..50 as
  the seed does, and ``tc_K`` Allen–Dynes from them at the document's μ* — the numbers a model that
  predicts the 51-bin α²F is compared with; ``tc_eliashberg_K`` likewise from the isotropic Eliashberg
  equations for that 51-bin α²F (bins 1..50) at the same μ*, solved here for every document — the
  documents stored before version 2 had no Eliashberg Tc, and the label must come from the spectrum the
  model predicts anyway — with the reason in ``tc_eliashberg_reason`` where it is null. The document's own
  values from the full-resolution spectrum are kept in ``dft`` (extra field) for reference;
- ``split``: seeded and grouped by structure (the same crystal computed twice never straddles
  train/test), or read from the seed paper's index files matched by structure fingerprint.

Extra record fields: ``calc_id``, ``method``, ``status``, ``created_at``, ``mu_star``,
``smearing_Ry``, ``tc_eliashberg_reason``, ``dft``. The manifest's ``query`` holds the filters, the Mongo criteria, the split
rule and the store it came from, so `train-ensemble` can re-run exactly the same query; its ``protocol`` holds
every preset, QE version and pseudopotential file that went in and the label sources (`dataset/protocol.py`:
documents of different protocols are refused unless `allow_mixed`).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from maggma.core import Store
from pymatgen.core import Structure

from betenet.dataset.format import Dataset, DatasetRecord, write_dataset
from betenet.dataset.protocol import check_single_protocol, protocol_summary
from betenet.dataset.query import NoMatchingDocumentsError, StoreQuery
from betenet.phonons.mlip import MlipPhononCalculator, MlipPhonons
from betenet.physics import MODEL_GRID_MEV, allen_dynes_tc, model_grid_moments, to_model_grid
from betenet.store.documents import EliashbergData, ElectronPhononDoc, PhononDosData, structure_fingerprint
from betenet.store.stores import with_connection

FEATURES = ("a2f", "cpd", "fpd", "mpd")
# a2f_all (every smearing) is the bulk of a document and not needed for a dataset.
_SKIPPED_PROPERTIES = ("a2f_all",)


class DatasetBuildError(ValueError):
    """A matching document cannot become a dataset record (names the document and the problem)."""


@dataclass(frozen=True)
class SplitSpec:
    """How records are assigned to train / val / test.

    Default: a seeded random split of the distinct structures (exact counts, rounded). With
    `assignments` (structure fingerprint → split, e.g. from `seed_paper_assignments`), those are used
    and structures not listed get `unlisted` (None = no split).
    """

    test_fraction: float = 0.2
    val_fraction: float = 0.0
    seed: int = 0
    assignments: dict[str, str] | None = None
    unlisted: str | None = None
    label: str | None = None

    def __post_init__(self):
        if not (0 <= self.test_fraction <= 1 and 0 <= self.val_fraction <= 1
                and self.test_fraction + self.val_fraction <= 1):
            raise ValueError(f"test_fraction={self.test_fraction} and val_fraction={self.val_fraction} must be "
                             "in [0, 1] and sum to at most 1")

    def assign(self, group_keys: Iterable[str]) -> dict[str, str | None]:
        keys = sorted(set(group_keys))
        if self.assignments is not None:
            return {k: self.assignments.get(k, self.unlisted) for k in keys}
        order = np.random.default_rng(self.seed).permutation(len(keys))
        n_test = round(self.test_fraction * len(keys))
        n_val = round(self.val_fraction * len(keys))
        split = {}
        for rank, index in enumerate(order):
            split[keys[index]] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
        return split

    def to_json(self) -> dict[str, Any]:
        if self.assignments is not None:
            return {"rule": "assignments", "label": self.label, "n_assigned": len(self.assignments),
                    "unlisted": self.unlisted}
        return {"rule": "seeded-by-structure", **{k: v for k, v in asdict(self).items()
                                                   if k in ("test_fraction", "val_fraction", "seed")}}


@dataclass(frozen=True)
class BuildResult:
    dataset: Dataset
    n_matched: int
    unmatched_split: tuple[str, ...]  # calc_ids whose structure the split assignments did not list
    left_out_by_flag: dict[str, tuple[str, ...]] = field(default_factory=dict)  # quality flag → calc_ids


def split_by_flags(docs: list[ElectronPhononDoc], allow_flags: Iterable[str] = ()
                   ) -> tuple[list[ElectronPhononDoc], dict[str, tuple[str, ...]]]:
    """(documents without a quality flag outside `allow_flags`, flag → calc_ids of those left out)."""
    allowed = set(allow_flags)
    kept, left_out = [], {}
    for doc in docs:
        blocking = sorted(set(doc.quality.flags) - allowed)
        if not blocking:
            kept.append(doc)
        for flag in blocking:
            left_out.setdefault(flag, []).append(doc.calc_id)
    return kept, {flag: tuple(ids) for flag, ids in sorted(left_out.items())}


def build_dataset(
    store: Store,
    directory: Path | str,
    query: StoreQuery = StoreQuery(),
    *,
    split: SplitSpec = SplitSpec(),
    require: Iterable[str] = ("a2f",),
    overwrite: bool = False,
    source: str | None = None,
    allow_flags: Iterable[str] = (),
    allow_mixed: bool = False,
    mlip: MlipPhononCalculator | None = None,
) -> BuildResult:
    """Query `store`, leave out documents with a quality flag not in `allow_flags`, refuse documents of
    different protocols unless `allow_mixed` (MixedProtocolError), convert each document, write the dataset
    directory (atomically). With `mlip` (or "mpd" in `require`, which takes the default potential) every
    record also gets the potential's site PhDOS (`mpd`)."""
    require = tuple(require)
    unknown = set(require) - set(FEATURES)
    if unknown:
        raise ValueError(f"Invalid require={sorted(unknown)}, use any of {FEATURES}")
    matched = query_documents(store, query)
    docs, left_out = split_by_flags(matched, allow_flags)
    if not docs:
        raise DatasetBuildError(
            f"all {len(matched)} matching documents carry quality flags ({', '.join(left_out)}); keep them with "
            "--allow-flag NAME (see betenet.workflows.quality.FLAGS for what each means)")
    if not allow_mixed:
        check_single_protocol(docs)
    if mlip is None and "mpd" in require:
        mlip = MlipPhononCalculator()
    potential_phonons = (mlip.phonons_of_all([d.structure for d in docs], [f"document {d.calc_id} ({d.formula_pretty})"
                                                                           for d in docs])
                         if mlip else [None] * len(docs))
    keys = {doc.calc_id: structure_key(doc) for doc in docs}
    assigned = split.assign(keys.values())
    records, structures = [], {}
    for doc, phonons in zip(docs, potential_phonons):
        record = record_from_document(doc, split=assigned[keys[doc.calc_id]], mlip_phonons=phonons)
        missing = [name for name in require if getattr(record, name) is None]
        if missing:
            raise DatasetBuildError(
                f"document {doc.calc_id} ({doc.formula_pretty}, status {doc.status}) has no {missing}, which "
                f"require={list(require)} asks for; narrow the query (e.g. status 'ok') or drop the requirement"
            )
        records.append(record)
        structures[record.id] = doc.structure
    unmatched = tuple(d.calc_id for d in docs if split.assignments is not None
                      and keys[d.calc_id] not in split.assignments)
    manifest_query = {"filters": query.to_json(), "criteria": _jsonable(query.criteria()),
                      "split": split.to_json(), "require": list(require), "store": source,
                      "allow_flags": sorted(set(allow_flags)),
                      "left_out_by_flag": {flag: len(ids) for flag, ids in left_out.items()},
                      "allow_mixed": allow_mixed, "protocol": protocol_summary(docs),
                      "mlip": mlip_description(potential_phonons[0]) if mlip else None}
    dataset = write_dataset(directory, records, structures, source=source or "betenet store",
                            query=manifest_query, overwrite=overwrite)
    return BuildResult(dataset=dataset, n_matched=len(matched), unmatched_split=unmatched, left_out_by_flag=left_out)


def query_documents(store: Store, query: StoreQuery) -> list[ElectronPhononDoc]:
    """Matching documents, sorted by calc_id (so a dataset does not depend on the store's order)."""
    criteria = query.criteria()
    properties = [n for n in ElectronPhononDoc.model_fields if n not in _SKIPPED_PROPERTIES]

    def matching(connected: Store) -> tuple[list[dict], int | None]:
        raw = list(connected.query(criteria=criteria, properties=properties))
        return raw, (connected.count() if not raw else None)

    raw, total = with_connection(store, matching)
    if not raw:
        raise NoMatchingDocumentsError(
            f"no document matches {criteria} in {store.name} ({total} documents in all); loosen the filters "
            "(e.g. --status any, --include-unstable) or check the store URI/database"
        )
    docs = []
    for obj in raw:
        obj.pop("_id", None)
        try:
            docs.append(ElectronPhononDoc.model_validate(obj))
        except ValueError as err:
            raise DatasetBuildError(f"document {obj.get('calc_id')!r} does not validate as an "
                                    f"ElectronPhononDoc: {err}") from err
    return sorted(docs, key=lambda d: d.calc_id)


def structure_key(doc: ElectronPhononDoc) -> str:
    """Fingerprint of the structure the user submitted (before any relaxation)."""
    return structure_fingerprint(doc.input_structure or doc.structure)


def mlip_description(phonons: MlipPhonons) -> dict[str, Any]:
    """The potential and phonon settings behind a dataset's `mpd` rows (manifest query's `mlip`)."""
    return {"potential": phonons.potential, "version": phonons.potential_version,
            "settings": asdict(phonons.settings)}


def record_from_document(doc: ElectronPhononDoc, split: str | None = None,
                         mlip_phonons: MlipPhonons | None = None) -> DatasetRecord:
    structure = doc.structure
    a2f = lambda_ = omega_log_K = omega_2_K = tc_K = eliashberg = None
    mu_star = doc.a2f.mu_star if doc.a2f is not None else doc.parameters.mu_star
    if doc.a2f is not None:
        a2f = to_model_grid(doc.a2f.omega_meV, doc.a2f.a2f)
        moments = model_grid_moments(a2f)
        lambda_, omega_log_K, omega_2_K = moments.lambda_, moments.omega_log_K, moments.omega_2_K
        if not all(math.isfinite(v) for v in (lambda_, omega_log_K, omega_2_K)) or lambda_ <= 0:
            raise DatasetBuildError(
                f"document {doc.calc_id} ({doc.formula_pretty}): its α²F on the model grid has λ={lambda_:.3g}, "
                f"ω_log={omega_log_K:.3g} K — nothing between 2 and 101 meV; the spectrum is empty or off-grid"
            )
        tc_K = allen_dynes_tc(lambda_, omega_log_K, omega_2_K, mu_star)
        eliashberg = EliashbergData.from_spectrum(MODEL_GRID_MEV, a2f, mu_star, first_bin=1)
    dft = {"lambda": doc.lambda_, "omega_log_K": doc.omega_log_K, "omega_2_K": doc.omega_2_K, "tc_K": doc.tc_K,
           "tc_eliashberg_K": doc.tc_eliashberg_K}
    return DatasetRecord(
        id=doc.calc_id,
        formula=doc.formula_pretty or structure.composition.reduced_formula,
        a2f=a2f,
        cpd=site_phdos_rows(doc.phonon_dos_coarse, structure, doc.calc_id, "coarse"),
        fpd=site_phdos_rows(doc.phonon_dos_fine, structure, doc.calc_id, "fine"),
        mpd=site_phdos_rows(mlip_phonons.dos, structure, doc.calc_id, "MLIP") if mlip_phonons else None,
        lambda_=lambda_,
        omega_log_K=omega_log_K,
        omega_2_K=omega_2_K,
        tc_K=tc_K,
        tc_eliashberg_K=eliashberg.tc_K if eliashberg is not None else None,
        split=split,
        source=f"betenet {doc.method} document {doc.calc_id}",
        extra={
            "calc_id": doc.calc_id,
            "method": doc.method,
            "status": doc.status,
            "created_at": doc.created_at.isoformat(timespec="seconds"),
            "mu_star": mu_star,
            "smearing_Ry": doc.a2f.smearing_Ry if doc.a2f is not None else None,
            "tc_eliashberg_reason": eliashberg.reason if eliashberg is not None else None,
            "dft": dft if doc.a2f is not None else None,
            **({"mpd_potential": f"{mlip_phonons.potential} ({mlip_phonons.potential_version})"}
               if mlip_phonons else {}),
        },
    )


def site_phdos_rows(dos: PhononDosData | None, structure: Structure, calc_id: str, which: str):
    """Per-site PhDOS on the model grid, rows in the structure's site order (checked by label)."""
    if dos is None:
        return None
    species = [site.specie.symbol for site in structure]
    labelled = [re.match(r"([A-Z][a-z]?)", label) for label in dos.site_labels]
    label_species = [m.group(1) if m else None for m in labelled]
    if label_species != species:
        raise DatasetBuildError(
            f"document {calc_id}: {which} phonon DOS sites {dos.site_labels} do not match the structure's "
            f"sites {species} (one projected row per site, in structure order, is needed)"
        )
    return to_model_grid(dos.omega_meV, np.asarray(dos.projected_states_per_meV, dtype=float))


def seed_paper_assignments(indices_dir: Path | str, structures_dir: Path | str) -> dict[str, str]:
    """Structure fingerprint → 'train'/'test' from the seed's `idx_{train,test}_full.txt` + `<i>.cif`.

    Indices are written as floats (``7.1e+01`` = structure 71); indices without a structure file are
    skipped (the seed dropped them too).
    """
    indices_dir, structures_dir = Path(indices_dir), Path(structures_dir)
    assignments: dict[str, str] = {}
    for split in ("train", "test"):
        path = indices_dir / f"idx_{split}_full.txt"
        if not path.is_file():
            raise FileNotFoundError(f"{path} missing: expected the seed's idx_train_full.txt / idx_test_full.txt")
        for line in path.read_text().split():
            cif = structures_dir / f"{int(float(line))}.cif"
            if cif.is_file():
                assignments[structure_fingerprint(Structure.from_file(cif))] = split
    return assignments


def _jsonable(value: Any) -> Any:
    """Criteria with datetimes as ISO text (the manifest is plain JSON)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return {"$date": value.isoformat()}
    return value
