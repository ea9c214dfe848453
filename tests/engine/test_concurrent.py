"""Concurrent runs on one cache compute each entry once (Cache.claim's per-entry locks)."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time

import pandas as pd
import yaml

from reconfair.engine.cache import Cache

STUDY = {
    "name": "concurrent",
    "seed": 4,
    "device": "cpu",
    "attributes": ["sex"],
    "datasets": [
        {
            "name": "synthetic-chest",
            "n_patients": 40,
            "image_size": 32,
            "degradations": [{"operator": "radiograph-lowdose", "levels": [3000]}],
            "reconstructors": ["baseline", {"name": "unet", "settings": {"epochs": 4, "patience": 4}}],
            "tasks": [{"kind": "classification", "model": {"epochs": 4, "patience": 4}}],
        }
    ],
    "evaluation": {"min_group_size": 1, "bootstrap": 0},
}


def _hold_and_store(root, held, results):
    cache = Cache(root)
    with cache.claim("stage", "k") as found:
        results.put(("first", found is None))
        held.set()
        time.sleep(1.5)
        cache.store("stage", "k", lambda tmp: (tmp / "v.txt").write_text("from the first"))


def _wait_and_read(root, results):
    cache = Cache(root)
    cache.log_path = os.path.join(root, "second.log")
    started = time.monotonic()
    with cache.claim("stage", "k") as found:
        text = None if found is None else (found / "v.txt").read_text()
        results.put(("second", text, time.monotonic() - started, [e["status"] for e in cache.events]))


def test_claim_makes_the_second_process_wait_and_find_the_entry(tmp_path):
    context = multiprocessing.get_context("fork")
    held, results = context.Event(), context.Queue()
    first = context.Process(target=_hold_and_store, args=(str(tmp_path), held, results))
    first.start()
    assert held.wait(30)
    second = context.Process(target=_wait_and_read, args=(str(tmp_path), results))
    second.start()
    first.join(30)
    second.join(30)
    assert first.exitcode == 0 and second.exitcode == 0
    got = dict((item[0], item[1:]) for item in (results.get(timeout=5), results.get(timeout=5)))
    assert got["first"] == (True,)
    text, waited, statuses = got["second"]
    assert text == "from the first" and waited > 0.5  # it waited for the lock, then found the entry
    assert statuses == ["cached"]  # found, not computed
    assert "waiting for stage k (another run computes it)" in (tmp_path / "second.log").read_text()
    assert (tmp_path / "locks" / "stage" / "k.lock").is_file()


def test_two_runs_at_once_compute_each_stage_once(tmp_path):
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(STUDY))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    runs = []
    for name in ("a", "b"):
        command = [sys.executable, "-m", "reconfair", "run", str(config), "--out", str(tmp_path / name),
                   "--cache", str(tmp_path / "cache"), "--no-progress"]
        log = open(tmp_path / f"{name}.txt", "w")  # noqa: SIM115 - closed below
        runs.append((subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT), log))
    for process, log in runs:
        assert process.wait(timeout=600) == 0, (tmp_path / f"{log.name}").read_text()[-3000:]
        log.close()
    computed, cached = {}, {}
    for name in ("a", "b"):
        for stage in json.loads((tmp_path / name / "manifest.json").read_text())["stages"]:
            target = computed if stage["status"] == "computed" else cached
            target.setdefault((stage["stage"], stage["key"]), []).append(name)
    # 3 images, 1 diagnostic model, 1 U-Net, 3 inference entries, evaluate and examples: each computed by
    # exactly one of the two runs
    assert len(computed) == 10 and all(len(runs_) == 1 for runs_ in computed.values()), computed
    for entry, (computer,) in computed.items():
        other = "b" if computer == "a" else "a"
        assert other in cached.get(entry, []), (entry, cached)  # the other run found it
    waited = sum("waiting for" in (tmp_path / name / "run.log").read_text() for name in ("a", "b"))
    assert waited >= 1  # they did run at the same time, and one waited for the other's stage
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "samples.parquet"),
                                  pd.read_parquet(tmp_path / "b" / "samples.parquet"), check_exact=True)
    assert not any(p.name.startswith(".") for p in (tmp_path / "cache").glob("*/*"))
