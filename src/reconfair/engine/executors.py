"""Executors: ``local`` walks the stage graph in this process; ``ray`` runs its cacheable stages as Ray tasks.

The Ray executor submits one task per pending cacheable stage of the plan
(asking for ``threads`` CPUs: the torch threads it runs with),
with the tasks of its pending inputs as dependencies (object refs), so a stage
starts as soon as its inputs exist: there are no waves.  Each task rebuilds the
configuration and cache in its worker, runs the stage with the study's pinned
torch threads (``StudyConfig.threads``) and stores its entry in the shared
content-addressed cache.  The local pass that follows finds every entry
cached and only runs what is never cached (plug-in inference, the report), so
the results are those of the local executor, bit for bit.

The cache folder must be reachable from every worker (a shared file system on
a cluster).  Ray is optional (``pip install reconfair[ray]``) and imported only
here.  A task whose worker dies is retried (``RETRIES`` times); an error in a
stage is raised in the driver with its message.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from reconfair.config import StudyConfig, parse_config
from reconfair.engine.cache import Cache
from reconfair.engine.graph import Stage, run_stage, topological
from reconfair.progress import progress_bar

__all__ = ["EXECUTORS", "FAULT_ENV", "RETRIES", "run_remote_stages"]

EXECUTORS = ("local", "ray")
RETRIES = 2
"""How often a task is retried after its worker dies."""
FAULT_ENV = "RECONFAIR_RAY_FAULT"
"""Fault injection for tests: ``<stage kind>:<seconds>:<marker file>`` kills (SIGKILL) the worker running
the first task of that kind, that many seconds into the task, once (the marker file records it)."""


def run_remote_stages(
    config: StudyConfig, plan: list[Stage], cache_root: str | Path, *, address: str | None = None,
    progress: bool = True,
) -> list[dict[str, str]]:
    """Compute every pending cacheable stage of ``plan`` as Ray tasks; returns the workers' cache events.

    ``address``: ``None`` starts (or reuses) a local Ray instance; ``"auto"`` or
    ``"HOST:PORT"`` joins a running cluster.
    """
    import signal

    ray = _import_ray()
    handler = signal.getsignal(signal.SIGTERM)
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    resources = ray.cluster_resources()
    gpus = 1 if resources.get("GPU", 0) > 0 and config.device != "cpu" else 0
    cpus = max(1, min(int(config.threads), int(resources.get("CPU", 1))))  # what a stage's torch threads use
    data = config.model_dump(mode="json")
    stages = topological(plan)
    graph = ray.put(stages)
    conditions = ray.put(getattr(plan, "conditions", {}))
    task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=RETRIES)(_stage_task)
    light = ray.remote(num_cpus=1, num_gpus=0, max_retries=RETRIES)(_stage_task)
    submitted: dict[str, Any] = {}
    for stage in stages:
        if stage.key is None or stage.status == "cached":
            continue
        after = [submitted[ref] for ref in stage.depends_on if ref in submitted]
        runner = light if stage.stage in ("images", "evaluate", "mitigation-tables", "observer-stats") else task
        submitted[stage.ref] = runner.remote(data, str(cache_root), stage.ref, graph, conditions, *after)
    _restore_sigterm(handler)
    return _wait(ray, list(submitted.values()), "stages (ray)", progress)


def _restore_sigterm(handler: Any) -> None:
    """Give SIGTERM back to the run's Python handler: Ray's core installs a native one that would end the
    driver at once, without the run's "finished stages are cached ... resume" message and exit 130."""
    import signal
    import threading

    if callable(handler) and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


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


def _stage_task(data: dict[str, Any], root: str, ref: str, stages: list[Stage], conditions: dict,
                *_after: Any) -> list[dict[str, str]]:
    """One stage in a worker (its inputs' tasks have finished: ``_after`` are their results)."""
    from reconfair.engine.context import RunContext
    from reconfair.engine.device import resolve_device
    from reconfair.engine.kinds import KINDS

    config = parse_config(data, source="ray task")
    cache = Cache(root)
    context = RunContext(config, cache, stages, kinds=KINDS, device=resolve_device(config.device),
                         conditions=conditions)
    stage = context.stages[ref]
    started = time.time()
    _maybe_fault(stage)
    run_stage(stage, context)
    span = {"started": started, "finished": time.time(), "pid": os.getpid()}
    return [{**event, **span} for event in cache.events if event["status"] == "computed"]


def _maybe_fault(stage: Stage) -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    kind, _, rest = spec.partition(":")
    delay, _, marker = rest.partition(":")
    if kind != stage.stage or not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, f"killing worker {os.getpid()} {delay} s into {stage.label}\n".encode())
    os.close(fd)
    import signal
    import threading

    timer = threading.Timer(float(delay or 0), os.kill, (os.getpid(), signal.SIGKILL))
    timer.daemon = True
    timer.start()
