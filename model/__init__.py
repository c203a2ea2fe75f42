"""betenet.model — BETE-NET: crystal structure → α²F(ω) on the 51-bin grid, as a bootstrap ensemble.

Modules (import what you need; nothing heavy is imported here):
- `graphs`: `build_graph(atoms, id, r_max=4.0, site_phdos=None) -> CrystalGraph`, `dataset_graphs(dataset,
  r_max, cache_dir)`, `GraphBatch.from_graphs(graphs, variant, dtype=...)` (all geometry evaluated once),
  `mean_neighbour_count(graphs)`.
- `network`: `NetworkConfig` (defaults: the seed's hyper-parameters), `BeteNet(config)` — architecture
  ``betenet-gate-v1`` (frozen), the seed's state_dict layout; `forward` uses `kernels`,
  `forward_reference` runs e3nn's modules as the seed does.
- `loss`: `LossConfig`, `Targets.from_records(records)`, `mixed_loss(pred_a2f, targets, weight, config)`,
  `moments_of(a2f)` — spectra and/or λ, ω_log, Tc labels.
- `early_stopping`: `TemperedEarlyStopping` (the seed's three regions).
- `training`: `TrainingConfig` (full batch or mini-batches, constant or cosine lr), `bootstrap(n, seed, member)`,
  `train_member(...) -> MemberResult`.
- `presets`: named network size + schedule, `compact` (the default) and `seed` (the paper's):
  `preset_network(name, **fields)`, `preset_training(name, **fields)`.
- `calibration`: `fit_std_scales(truth, predicted, spread)` — the spread scale that makes ±1σ hold 68 %.
- `splits`: `grouped_holdout(groups, fraction)`, `grouped_kfold(groups, k)` by chemical system.
- `baselines`: `composition_features(formulas)`, median / kNN / ridge predictors.
- `variants`: the variant registry (`get_variant(name)`: node-attribute source, required dataset
  features, the missing-PhDOS error) — CSO, CPD, FPD.
- `training_set`: `TrainingSet`, `training_set_from_dataset(dataset, variant, splits=("train",))`,
  `check_variant_fits(dataset, variant, splits)`.
- `checkpoints`: the ensemble directory on disk (config, member checkpoints, atomic writes, hashes).
- `ensemble_training`: `train_ensemble(directory, data, variant=..., n_members=100, workers=1) -> Ensemble`
  (resumable; processes; progress bar).
- `training_request`: `TrainingRequest`, `train_from_dataset(dataset, out, request)`, `member_flow` (one
  jobflow Job per member), `dataset_from_store` (train straight from the store's documents).
- `ensemble`: `Ensemble.load(directory)`, `Ensemble.predict(structures | graphs | Dataset) -> Prediction`
  (spread calibrated when the ensemble has scales), `Ensemble.calibrate(structures, truth)`.
- `errors`: `EmptyDatasetError`, `UnseenElementError`, `MissingFeatureError`, `CheckpointError`.
"""
