"""MPD (site PhDOS of a universal potential) against CSO on the small JARVIS cells: the ablation's MPD lever.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/model_mpd_subset.py --max-atoms 3 --members 3

MLIP phonons cost 10–60 s per JARVIS structure on this machine (finite displacements in ≥ 10 Å supercells;
benchmarks/RESULTS.md), ≈ 6 core-hours for all 924, so the lever is measured on the cells with at most
`--max-atoms` atoms: their MLIP phonons (`betenet.phonons`, SevenNet-0 by default, cached per structure) make a
dataset with `mpd` rows (`CACHE/jarvis_mpd_le<N>`), and the same grouped folds over all of that subset
(`betenet.screening.accuracy.grouped_folds`) train CSO and MPD ensembles of the default configuration, beside
the composition baselines on the same rows. Structures the potential gives no phonons for are left out and
counted. The table is mean ± standard error over the folds.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import torch
from model_accuracy import DEFAULT_CONFIG, configuration, header, print_fold_baselines, row
from model_common import CACHE, load_average
from model_jarvis import jarvis_dataset

from betenet.dataset.build import mlip_description, site_phdos_rows
from betenet.dataset.format import read_dataset, write_dataset
from betenet.phonons.mlip import MlipPhononCalculator, PhononSettings
from betenet.screening.accuracy import ensemble_scores, grouped_folds, split_summary


def mpd_dataset(max_atoms: int, potential: str, mlip_cache):
    """The JARVIS records with ≤ max_atoms atoms that the potential gives phonons for, with their `mpd` rows."""
    from pymatgen.io.ase import AseAtomsAdaptor

    directory = CACHE / f"jarvis_mpd_le{max_atoms}_{potential}"
    if (directory / "manifest.json").is_file():
        return read_dataset(directory), None
    source = jarvis_dataset()
    atoms_of = {r.id: source.read_structure(r) for r in source.records}  # each CIF read once
    small = [r for r in source.records if len(atoms_of[r.id]) <= max_atoms]
    calculator = MlipPhononCalculator(PhononSettings(potential=potential), cache_dir=mlip_cache)
    records, structures, failed, description = [], {}, [], None
    start = time.perf_counter()
    for i, record in enumerate(small):
        atoms = atoms_of[record.id]
        try:
            phonons = calculator.phonons(atoms)
        except ValueError as err:  # e.g. zero forces: no neighbour within the potential's cutoff
            failed.append(f"{record.id} {record.formula}: {err}")
            continue
        description = mlip_description(phonons)
        structure = AseAtomsAdaptor.get_structure(atoms)
        records.append(dataclasses.replace(record, mpd=site_phdos_rows(phonons.dos, structure, record.id, "MLIP")))
        structures[record.id] = atoms
        print(f"[{i + 1}/{len(small)}] {record.id} {record.formula}: {time.perf_counter() - start:.0f} s", flush=True)
    query = {**(source.manifest.query or {}), "subset": f"≤ {max_atoms} atoms", "mlip": description}
    dataset = write_dataset(directory, records, structures, source=source.manifest.source, query=query)
    return dataset, {"candidates": len(small), "failed": failed, "phonon_wall_s": time.perf_counter() - start}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-atoms", type=int, default=2)
    parser.add_argument("--potential", default="sevennet-0")
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mlip-cache", default=str(CACHE / "mlip-phonons"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset, made = mpd_dataset(args.max_atoms, args.potential, args.mlip_cache)
    if made:
        print(f"{len(dataset.records)} of {made['candidates']} cells with ≤ {args.max_atoms} atoms have MLIP phonons "
              f"({made['phonon_wall_s']:.0f} s); left out: {made['failed'] or 'none'}")
    records = list(dataset.records)
    folds = grouped_folds(records, args.folds, args.seed)  # over the whole subset: it is small
    print(f"load {load_average()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    for split in folds:
        print(split_summary(split, records))
    results = {}
    for variant in ("CSO", "MPD"):
        network, training = configuration(DEFAULT_CONFIG, 120)
        network = dataclasses.replace(network, variant=variant)
        for split in folds:
            start = time.perf_counter()
            directory = (CACHE / "mpd_subset" / f"le{args.max_atoms}_{args.potential}_k{args.folds}" / variant /
                         split.name.replace(" ", "_"))
            scores = ensemble_scores(dataset, records, split, directory, network, training, args.members,
                                     seed=args.seed, cache_dir=CACHE)
            scores["wall_s"] = time.perf_counter() - start
            results.setdefault(variant, []).append(scores)
            print(f"{variant} / {split.name}: Tc MAE {scores['mae_tc_K']:.2f} K, {scores['wall_s']:.0f} s", flush=True)
    extra = (("coverage_tc_K", "cov ±1σ Tc", 2), ("kept_epoch_mean", "kept", 0), ("wall_s", "wall s", 0))
    print(f"\n{len(records)} JARVIS cells with ≤ {args.max_atoms} atoms, {len(folds)} grouped folds, "
          f"{args.members} members, {DEFAULT_CONFIG}\n{header(extra)}")
    print_fold_baselines(records, folds)
    for variant, scores in results.items():
        print(row(f"BETE-NET {variant}", scores, extra))


if __name__ == "__main__":
    main()
