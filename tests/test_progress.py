"""Progress without a terminal: plain timestamped lines, rate-limited per bar."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import yaml

from reconfair import progress
from reconfair.progress import LOG_INTERVAL_ENV, PlainBar, log_interval, progress_bar

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_bar_writes_the_first_update_then_at_most_one_line_per_interval_and_the_last():
    clock, out = FakeClock(), io.StringIO()
    bar = PlainBar("train unet", total=100, interval=10.0, clock=clock, stream=out, stamp=lambda: "T")
    for _ in range(100):  # one update per second for 100 s
        clock.now += 1.0
        bar.advance(info="loss 0.1")
    lines = out.getvalue().splitlines()
    counts = [int(re.search(r": (\d+)/100", line).group(1)) for line in lines]
    assert counts == [1, 11, 21, 31, 41, 51, 61, 71, 81, 91, 100]  # first, every 10 s, last
    assert lines[0] == "T train unet: 1/100 (1%), 1 s elapsed, eta 1 min 39 s - loss 0.1"
    assert lines[-1] == "T train unet: 100/100 (100%), 1 min 40 s elapsed - loss 0.1"
    bar.close()
    assert len(out.getvalue().splitlines()) == 11  # the last line was written already


def test_a_burst_of_updates_writes_two_lines_and_an_early_end_writes_its_count_on_close():
    clock, out = FakeClock(), io.StringIO()
    bar = PlainBar("stages", total=50, interval=10.0, clock=clock, stream=out, stamp=lambda: "T")
    for _ in range(20):
        clock.now += 0.01
        bar.advance()
    assert len(out.getvalue().splitlines()) == 1
    bar.close()  # stopped at 20/50 (e.g. early stopping)
    assert out.getvalue().splitlines()[-1].startswith("T stages: 20/50 (40%), 0 s elapsed, eta 0 s")


def test_log_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(LOG_INTERVAL_ENV, raising=False)
    assert log_interval() == progress.LOG_INTERVAL_S == 10.0
    monkeypatch.setenv(LOG_INTERVAL_ENV, "2.5")
    assert log_interval() == 2.5
    monkeypatch.setenv(LOG_INTERVAL_ENV, "soon")
    assert log_interval() == 10.0


def test_progress_bar_without_a_terminal_writes_plain_lines(capsys, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(progress, "_clock", clock)
    monkeypatch.setenv(LOG_INTERVAL_ENV, "5")
    with progress_bar("conditions demo", total=4) as advance:
        for _ in range(4):
            clock.now += 2.0
            advance(info="x")
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert all(re.match(rf"{STAMP} conditions demo: \d/4 \(\d+%\), \d+ s elapsed", line) for line in lines), err
    assert [line.split(": ")[1].split(" ")[0] for line in lines] == ["1/4", "4/4"]  # 2 s, (4, 6 s skipped), 8 s
    assert "━" not in err  # no rich bar


def test_a_run_piped_to_a_file_logs_timestamped_progress(tmp_path):
    study = {
        "name": "piped", "seed": 1, "device": "cpu", "attributes": ["sex"],
        "datasets": [{
            "name": "synthetic-chest", "n_patients": 20, "image_size": 32,
            "degradations": [{"operator": "radiograph-lowdose", "levels": [3000]}],
            "reconstructors": ["baseline", {"name": "unet", "settings": {"epochs": 3, "patience": 3}}],
            "tasks": [{"kind": "classification", "model": {"epochs": 1}}],
        }],
        "evaluation": {"min_group_size": 1, "bootstrap": 0},
    }
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(study))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("RECONFAIR_CACHE", None)
    with open(tmp_path / "log.txt", "w") as log:
        done = subprocess.run([sys.executable, "-m", "reconfair", "run", str(config), "--out", str(tmp_path / "out")],
                              env=env, stdout=log, stderr=subprocess.STDOUT, timeout=600)
    text = (tmp_path / "log.txt").read_text()
    assert done.returncode == 0, text[-3000:]
    for bar in ("train synthetic-chest classification: 1/1", "stages (0 cached, 10 to compute): 10/10",
                "train unet on synthetic-chest radiograph-lowdose@3000: 3/3"):
        assert re.search(rf"^{STAMP} {re.escape(bar)} \(100%\), \d+ s elapsed", text, re.MULTILINE), (bar, text)
    assert not re.search(r"eta \d+:\d\d", text) and "\x1b[" not in text  # no rich bar (its eta is h:mm:ss)
