"""A run killed with SIGKILL mid-training resumes: same samples.parquet, finished stages not redone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

STUDY = {
    "name": "resume",
    "seed": 2,
    "device": "cpu",
    "attributes": ["sex"],
    "datasets": [
        {
            "name": "synthetic-chest",
            "n_patients": 80,
            "image_size": 32,
            "degradations": [{"operator": "radiograph-lowdose", "levels": [10000, 3000]}],
            "reconstructors": ["baseline", {"name": "unet", "settings": {"epochs": 6, "patience": 6}}],
            "tasks": [{"kind": "classification", "model": {"epochs": 1}}],
        }
    ],
    "evaluation": {"min_group_size": 2, "bootstrap": 20},
}


def _command(config: Path, out: Path, cache: Path) -> list[str]:
    return [sys.executable, "-m", "reconfair", "run", str(config), "--out", str(out), "--cache", str(cache),
            "--no-progress"]


def _environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _kill_when(process: subprocess.Popen, ready, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, "the run finished before it could be killed"
        assert time.monotonic() < deadline, "the run never reached the kill point"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_killed_run_resumes_to_the_clean_result(tmp_path):
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(STUDY))
    clean = subprocess.run(_command(config, tmp_path / "clean", tmp_path / "clean-cache"), env=_environment(),
                           capture_output=True, text=True, timeout=600)
    assert clean.returncode == 0, clean.stderr[-2000:]

    cache = tmp_path / "cache"
    killed = subprocess.Popen(_command(config, tmp_path / "out", cache), env=_environment(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # kill during the second U-Net's training, after at least one of its epochs was saved
    reconstructors = cache / "reconstructor"
    scratch = cache / "scratch" / "reconstructor"

    def second_unet_mid_training() -> bool:
        done = {p.name for p in reconstructors.glob("[!.]*")} if reconstructors.is_dir() else set()
        partial = {p.parent.name for p in scratch.glob("*/training.json")} if scratch.is_dir() else set()
        return len(done) == 1 and bool(partial - done)

    _kill_when(killed, second_unet_mid_training)
    finished_before = {(p.parent.name, p.name) for p in cache.glob("*/*") if (p / "entry.json").is_file()}
    assert ("reconstructor", next(reconstructors.glob("[!.]*")).name) in finished_before
    assert not (tmp_path / "out" / "samples.parquet").exists()

    resumed = subprocess.run(_command(config, tmp_path / "out", cache), env=_environment(),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "samples.parquet"),
                                  pd.read_parquet(tmp_path / "clean" / "samples.parquet"), check_exact=True)
    stages = json.loads((tmp_path / "out" / "manifest.json").read_text())["stages"]
    status = {(s["stage"], s["key"]): s["status"] for s in stages}
    assert all(status[entry] == "cached" for entry in finished_before if entry in status)
    assert finished_before <= set(status)  # every stage finished before the kill was reused, none redone
    assert list(status.values()).count("computed") == len(status) - len(finished_before)
    assert not any(p.name.startswith(".") for p in cache.glob("*/*"))  # no half-written entry
    attempts = (tmp_path / "out" / "run.log").read_text().split(" run started: ")
    assert len(attempts) == 3  # the killed run and the resumed one, each announced
    resumed_log = attempts[2].splitlines()
    assert sum(" cached " in line for line in resumed_log) == len(finished_before)
    assert sum(" computed " in line for line in resumed_log) == len(status) - len(finished_before)
    clean_stages = json.loads((tmp_path / "clean" / "manifest.json").read_text())["stages"]
    assert {(s["stage"], s["key"]) for s in clean_stages} == set(status)
