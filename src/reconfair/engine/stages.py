"""The stages of a run that produce cached artifacts: diagnostic models and per-condition rows.

Each function is a pure function of the configuration (plus the cache): the
local executor calls them in order, the Ray executor calls them in workers.
``replicate`` selects the model replicate: its models are trained with the
seed :func:`~reconfair.seeding.replicate_seed` derives, while the data,
degradation draws and inference generators keep the study seed.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pandas as pd
import torch

from reconfair.config import StudyConfig
from reconfair.data.lazy import LazySampleSet
from reconfair.data.sample import SampleSet
from reconfair.diagnose import DiagnosticModel, load_model
from reconfair.engine.cache import Cache
from reconfair.engine.conditions import Condition
from reconfair.engine.inference import infer_condition
from reconfair.engine.keys import diagnostic_slice, inference_slice, inferred_splits
from reconfair.engine.mitigation import prepare_mitigated
from reconfair.engine.reconstruction import MITIGATION_STAGE, RECON_STAGE, prepare_reconstructor, reconstructor_key
from reconfair.engine.table import canonical, read_samples, write_samples
from reconfair.seeding import replicate_seed

__all__ = ["check_plugin_files", "condition_rows", "diagnostic_models"]


def condition_rows(
    samples: SampleSet | LazySampleSet,
    condition: Condition,
    models: dict[str, DiagnosticModel],
    *,
    model_keys: dict[str, str],
    dataset_config,
    config: StudyConfig,
    cache: Cache,
    device: torch.device,
    progress: bool,
    replicate: int = 0,
) -> pd.DataFrame:
    """The condition's per-sample rows under model replicate ``replicate``: from the cache, or reconstruct and diagnose.

    ``models`` and ``model_keys`` are those of the same replicate.  Cached
    rows are read without loading the reconstructor (its entry is only
    looked up, so the manifest still lists it as cached).  The ``replicate``
    column is assigned here, after reading, so entries written before the
    column existed serve replicate 0 unchanged.
    """
    splits = inferred_splits(config.evaluation, condition)
    recon_key = reconstructor_key(condition, dataset_config, config.seed, cache, replicate=replicate)
    claim = nullcontext(None)  # plug-ins: never cached, nothing to claim
    if recon_key is not None:
        config_slice = inference_slice(
            dataset_config, config.seed, condition=condition, reconstructor_key=recon_key, model_keys=model_keys,
            splits=splits, replicate=replicate,
        )
        key = cache.key("inference", config_slice)
        claim = cache.claim("inference", key)
    with claim as found:
        if found is not None:
            if condition.trains_reconstructor:
                cache.lookup(RECON_STAGE if condition.mitigation is None else MITIGATION_STAGE, recon_key)
            return _cached_rows(found / "rows.parquet", replicate)
        reconstructor = None
        if condition.mitigation is not None:
            reconstructor = prepare_mitigated(
                condition, samples=samples, dataset_config=dataset_config, seed=config.seed, cache=cache, device=device,
                progress=progress, classifier=models["classification"], replicate=replicate,
            ).reconstructor
        elif not condition.is_original:
            reconstructor = prepare_reconstructor(
                condition.entry,
                condition.operator,
                samples=samples,
                dataset_config=dataset_config,
                seed=config.seed,
                cache=cache,
                device=device,
                progress=progress,
                replicate=replicate,
            ).reconstructor
        evaluated = samples.subset(samples.table.index[samples.table["split"].isin(splits)].to_numpy())
        check_plugin_files(reconstructor, evaluated)
        rows = infer_condition(evaluated, condition, models, reconstructor=reconstructor, seed=config.seed, device=device)
        rows["replicate"] = int(replicate)
        if recon_key is None:  # plug-ins: their outputs may change outside reconfair, so never cached
            return canonical(rows)
        found = cache.store("inference", key, lambda tmp: write_samples(rows, tmp / "rows.parquet"), config_slice=config_slice)
        return _cached_rows(found / "rows.parquet", replicate)


def _cached_rows(path: Path, replicate: int) -> pd.DataFrame:
    """A cached condition's rows with ``replicate`` assigned (older entries lack the column), in canonical order."""
    return canonical(read_samples(path).assign(replicate=int(replicate)))


def check_plugin_files(reconstructor, evaluated: SampleSet) -> None:
    """Fail before any inference when a folder plug-in lacks files for some samples."""
    missing = getattr(reconstructor, "missing", None)
    if missing is None:
        return
    absent = missing(evaluated.table["sample_id"].tolist())
    if absent:
        shown = ", ".join(absent[:5]) + (" ..." if len(absent) > 5 else "")
        raise ValueError(
            f"reconstructor {reconstructor.name!r}: {len(absent)} of {len(evaluated)} samples have no file in "
            f"{reconstructor.folder} (e.g. {shown}); write one <sample_id>.npy/.png/.nii.gz per sample"
        )


def diagnostic_models(
    samples: SampleSet | LazySampleSet,
    dataset_config,
    *,
    seed: int,
    device: torch.device,
    cache: Cache,
    progress: bool,
    replicate: int = 0,
) -> tuple[dict[str, DiagnosticModel], dict[str, str]]:
    """One trained diagnostic model per task (from the cache when trained before), and cache keys.

    ``seed`` is the study seed; model replicate ``replicate`` is keyed by it
    and trained with :func:`~reconfair.seeding.replicate_seed` ``(seed, replicate)``.
    Only a model that must be trained renders its data set's train and val splits.
    """
    models, keys = {}, {}
    for task in dataset_config.tasks:
        config_slice = diagnostic_slice(dataset_config, task, seed, replicate=replicate)
        key = keys[task.kind] = cache.key("diagnostic", config_slice)
        with cache.claim("diagnostic", key) as found:
            if found is not None:
                models[task.kind] = load_model(found / "model")
                continue
            targets = samples.label_names if task.kind == "classification" else ("tumor",)
            seed_parts = (replicate_seed(seed, replicate), samples.name, task.kind)
            train, val = samples.split("train").materialize(), samples.split("val").materialize()
            model = DiagnosticModel(
                kind=task.kind,
                targets=targets,
                preset=task.model.preset,
                image_size=dataset_config.image_size,
                seed_parts=seed_parts,
            )
            model.fit(
                train,
                val,
                epochs=task.model.epochs,
                batch_size=task.model.batch_size,
                learning_rate=task.model.learning_rate,
                patience=task.model.patience,
                seed_parts=seed_parts,
                device=device,
                progress=progress,
            )
            cache.store("diagnostic", key, lambda tmp, m=model: m.save(tmp / "model"), config_slice=config_slice)
            models[task.kind] = model
    return models, keys
