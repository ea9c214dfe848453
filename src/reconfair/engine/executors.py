"""Executors: ``local`` runs every stage in this process, in order; ``ray`` runs the
independent stages in parallel on a Ray cluster first.

The Ray executor fills the shared content-addressed cache in three waves:
diagnostic models and reconstructor trainings of every model replicate
(independent of each other), then the mitigations' fine-tuning (which needs
both), then one inference task per condition and replicate.  The local pass that follows finds
every entry cached and only assembles, evaluates and reports, so the results
are those of the local executor: bit-identical when the stages run with the
same number of torch threads (each Ray task uses its CPU share; the local run
uses torch's default unless ``OMP_NUM_THREADS`` says otherwise).

The cache folder must be reachable from every worker (a shared file system on
a cluster).  Ray is optional (``pip install reconfair[ray]``) and imported only
here.  Tasks are retried when a worker dies; an error in a stage is raised in
the driver with its message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from reconfair.config import StudyConfig, parse_config
from reconfair.engine.cache import Cache
from reconfair.engine.conditions import dataset_conditions
from reconfair.engine.datasets import build_dataset
from reconfair.engine.mitigation import prepare_mitigated
from reconfair.engine.reconstruction import prepare_reconstructor
from reconfair.engine.stages import condition_rows, diagnostic_models
from reconfair.progress import progress_bar

__all__ = ["EXECUTORS", "run_remote_stages"]

EXECUTORS = ("local", "ray")
_RETRIES = 2


def run_remote_stages(
    config: StudyConfig, cache_root: str | Path, *, address: str | None = None, progress: bool = True
) -> list[dict[str, str]]:
    """Compute every cacheable stage of ``config`` as Ray tasks; returns the workers' cache events.

    ``address``: ``None`` starts (or reuses) a local Ray instance; ``"auto"`` or
    ``"HOST:PORT"`` joins a running cluster.
    """
    ray = _import_ray()
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 and config.device != "cpu" else 0
    data = config.model_dump(mode="json")
    root = str(cache_root)
    train = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=_RETRIES)
    replicates = range(config.replicates)
    first = [train(_diagnostics_task).remote(data, i, root, k) for i in range(len(config.datasets)) for k in replicates]
    first += [
        train(_reconstructor_task).remote(data, i, condition.name, root, k)
        for i, dataset in enumerate(config.datasets)
        for k in replicates
        for condition in dataset_conditions(dataset, config.attributes)
        if condition.trains_reconstructor and condition.mitigation is None
    ]
    events = _wait(ray, first, "train (ray)", progress)
    mitigate = [  # fine-tuning needs the trained reconstructor and classifier: a wave of its own
        train(_reconstructor_task).remote(data, i, condition.name, root, k)
        for i, dataset in enumerate(config.datasets)
        for k in replicates
        for condition in dataset_conditions(dataset, config.attributes)
        if condition.mitigation is not None
    ]
    events += _wait(ray, mitigate, "mitigate (ray)", progress) if mitigate else []
    infer = ray.remote(num_cpus=1, num_gpus=gpus / 2, max_retries=_RETRIES)
    second = [
        infer(_inference_task).remote(data, i, condition.name, root, k)
        for i, dataset in enumerate(config.datasets)
        for k in replicates
        for condition in dataset_conditions(dataset, config.attributes)
        if condition.cacheable
    ]
    return events + _wait(ray, second, "infer (ray)", progress)


def _wait(ray: Any, pending: list[Any], description: str, progress: bool) -> list[dict[str, str]]:
    events: list[dict[str, str]] = []
    with progress_bar(description, total=len(pending), enabled=progress) as advance:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            events += ray.get(done[0])
            advance()
    return events


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ImportError(
            "the ray executor needs Ray: pip install 'reconfair[ray]' (or pip install ray); "
            "or run with --executor local"
        ) from None
    return ray


def _context(data: dict[str, Any], dataset_index: int, root: str) -> tuple[StudyConfig, Any, Any, Cache, Any]:
    """Rebuild the configuration, data set, cache and device inside a worker."""
    from reconfair.engine.device import resolve_device

    import ray

    threads = int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)) or 1
    torch.set_num_threads(threads)
    config = parse_config(data, source="ray task")
    dataset_config = config.datasets[dataset_index]
    samples = build_dataset(dataset_config, seed=config.seed, lazy=True)
    return config, dataset_config, samples, Cache(root), resolve_device(config.device)


def _diagnostics_task(data: dict[str, Any], dataset_index: int, root: str, replicate: int) -> list[dict[str, str]]:
    config, dataset_config, samples, cache, device = _context(data, dataset_index, root)
    diagnostic_models(samples, dataset_config, seed=config.seed, device=device, cache=cache, progress=False,
                      replicate=replicate)
    return cache.events


def _condition(config: StudyConfig, dataset_config: Any, name: str) -> Any:
    return next(c for c in dataset_conditions(dataset_config, config.attributes) if c.name == name)


def _reconstructor_task(
    data: dict[str, Any], dataset_index: int, name: str, root: str, replicate: int
) -> list[dict[str, str]]:
    config, dataset_config, samples, cache, device = _context(data, dataset_index, root)
    condition = _condition(config, dataset_config, name)
    if condition.mitigation is not None:
        models, _ = diagnostic_models(samples, dataset_config, seed=config.seed, device=device, cache=cache,
                                      progress=False, replicate=replicate)
        prepare_mitigated(condition, samples=samples, dataset_config=dataset_config, seed=config.seed, cache=cache,
                          device=device, progress=False, classifier=models["classification"], replicate=replicate)
        return cache.events
    prepare_reconstructor(
        condition.entry, condition.operator, samples=samples, dataset_config=dataset_config, seed=config.seed,
        cache=cache, device=device, progress=False, replicate=replicate,
    )
    return cache.events


def _inference_task(data: dict[str, Any], dataset_index: int, name: str, root: str, replicate: int
                    ) -> list[dict[str, str]]:
    config, dataset_config, samples, cache, device = _context(data, dataset_index, root)
    models, keys = diagnostic_models(samples, dataset_config, seed=config.seed, device=device, cache=cache,
                                     progress=False, replicate=replicate)
    condition_rows(samples, _condition(config, dataset_config, name), models, model_keys=keys,
                   dataset_config=dataset_config, config=config, cache=cache, device=device, progress=False,
                   replicate=replicate)
    return [event for event in cache.events if event["stage"] == "inference"]
