"""`reconfair run` stopped by SIGINT or SIGTERM says where its stages are cached and how to resume; exit 130.

The runs write stderr to a file (no terminal), so their progress comes as
plain timestamped lines, which must appear while the run is still going.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

STUDY = {
    "name": "interrupt",
    "seed": 5,
    "device": "cpu",
    "attributes": ["sex"],
    "datasets": [
        {
            "name": "synthetic-chest",
            "n_patients": 20,
            "image_size": 32,
            "degradations": [{"operator": "radiograph-lowdose", "levels": [3000]}],
            # long enough to be interrupted mid-training
            "reconstructors": ["baseline", {"name": "unet", "settings": {"epochs": 200, "patience": 200}}],
            "tasks": [{"kind": "classification", "model": {"epochs": 1}}],
        }
    ],
    "evaluation": {"min_group_size": 1, "bootstrap": 0},
}
PROGRESS_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d train unet on synthetic-chest .*: \d+/200 \(\d+%\), "
                           r"\d+ s elapsed", re.MULTILINE)


def _default_sigint() -> None:
    """In the child: Ctrl-C's default action, even when this test runs in a background job (which ignores
    SIGINT, and a Python started with SIGINT ignored never raises KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(process: subprocess.Popen, ready, what: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"the run never reached {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_says_how_to_resume_and_exits_130(tmp_path: Path, signum):
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(STUDY))
    out, err = tmp_path / "out", tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "reconfair", "run", str(config), "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RECONFAIR_LOG_INTERVAL": "0.5"}
    env.pop("RECONFAIR_CACHE", None)
    with open(err, "w") as handle:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=handle,
                                   preexec_fn=_default_sigint)
        try:
            log = out / "run.log"
            _wait_for(process, lambda: log.is_file() and " computed " in log.read_text(), "a computed stage")
            # progress reaches the file as the run goes, not at its end
            _wait_for(process, lambda: len(PROGRESS_LINE.findall(err.read_text())) >= 2, "two training lines")
            process.send_signal(signum)
            code = process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
    text = err.read_text()
    assert code == 130, text[-3000:]
    name = signal.Signals(signum).name
    flat = " ".join(text.split())
    assert f"interrupted ({name}): finished stages are cached in {out / '.cache'}" in flat, text[-3000:]
    assert f"run the same command again to resume: reconfair run {config} --out {out}" in flat
    assert "Traceback" not in text
    assert f"interrupted ({name})" in (out / "run.log").read_text()
    assert (out / ".cache" / "diagnostic").is_dir() and not (out / "samples.parquet").exists()


def test_sigterm_during_a_ray_run_still_says_how_to_resume(tmp_path: Path):
    """Ray's driver turns SIGTERM into a KeyboardInterrupt of its own, so the message may name SIGINT; the run
    still says where its stages are cached and how to resume, and exits 130."""
    pytest.importorskip("ray", reason="needs `pip install reconfair[ray]`")
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(STUDY))
    out, err = tmp_path / "out", tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "reconfair", "run", str(config), "--out", str(out), "--executor", "ray"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("RECONFAIR_CACHE", None)
    with open(err, "w") as handle:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=handle,
                                   preexec_fn=_default_sigint)
        try:
            images = out / ".cache" / "images"
            _wait_for(process, lambda: images.is_dir() and any(images.glob("*/entry.json")), "a stage in a worker")
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
    text = err.read_text()
    assert code == 130, text[-3000:]
    flat = " ".join(text.split())
    assert re.search(r"interrupted \(SIG(TERM|INT)\): finished stages are cached in", flat), text[-3000:]
    assert "run the same command again to resume: reconfair run" in flat and "--executor ray" in flat
