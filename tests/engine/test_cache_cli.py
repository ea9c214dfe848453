"""`reconfair plan`, `reconfair cache ls` and `reconfair cache gc` on a cache planted from a plan.

The plan's keys are checked against a real run in ``test_plan.py``; here the
entries are planted with :meth:`Cache.store` under the plan's keys, so the
commands are exercised without training anything.
"""

import pytest
import yaml
from typer.testing import CliRunner

from reconfair.cli import app
from reconfair.config import parse_config
from reconfair.engine.cache import CACHE_ENV, Cache
from reconfair.engine.plan import plan_study

TINY = {  # as in test_plan.py (test modules are not importable from each other)
    "name": "tiny-plan",
    "seed": 1,
    "device": "cpu",
    "attributes": ["sex"],
    "datasets": [
        {
            "name": "synthetic-chest",
            "n_patients": 20,
            "image_size": 32,
            "degradations": [{"operator": "radiograph-lowdose", "levels": [3000]}],
            "reconstructors": ["baseline", {"name": "unet", "settings": {"epochs": 1}}],
            "tasks": [{"kind": "classification", "model": {"epochs": 1}}],
        }
    ],
    "evaluation": {"min_group_size": 1, "bootstrap": 0},
}

runner = CliRunner()


def write_config(folder, *, level=3000, name="tiny-plan"):
    data = yaml.safe_load(yaml.safe_dump(TINY))
    data["name"] = name
    data["datasets"][0]["degradations"][0]["levels"] = [level]
    path = folder / f"{name}-{level}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def plant(cache_dir, config_path):
    """Store a small entry under every cacheable key of the config's plan; returns the plan."""
    cache = Cache(cache_dir)
    stages = plan_study(parse_config(yaml.safe_load(config_path.read_text())), cache)
    for stage in stages:
        if stage.key is not None:
            slice_ = {"dataset": {"name": "synthetic-chest"}, "condition": stage.label.split(" ", 1)[1]}
            cache.store(stage.stage, stage.key, lambda tmp: (tmp / "data.bin").write_bytes(b"0" * 250_000),
                        config_slice=slice_)
    return stages


@pytest.fixture()
def planted(tmp_path, monkeypatch):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    config = write_config(tmp_path)
    cache_dir = tmp_path / "cache"
    return config, cache_dir, plant(cache_dir, config)


def entries(cache_dir):
    return {(e.stage, e.key) for e in Cache(cache_dir).entries()}


def test_plan_prints_every_stage_and_the_summary(planted, tmp_path):
    config, cache_dir, stages = planted
    fresh = runner.invoke(app, ["plan", str(config), "--cache", str(tmp_path / "empty")])
    assert fresh.exit_code == 0, fresh.output
    for label in ("synthetic-chest classification", "synthetic-chest radiograph-lowdose@3000 unet",
                  "synthetic-chest original", "synthetic-chest radiograph-lowdose@3000/identity"):
        assert label in fresh.output
    assert "11 stages: 0 cached, 10 pending, 1 always" in fresh.output
    cached = runner.invoke(app, ["plan", str(config), "--cache", str(cache_dir)])
    assert "11 stages: 10 cached, 0 pending, 1 always" in cached.output
    # without --cache, the cache is OUT/.cache as for `run`
    with_out = runner.invoke(app, ["plan", str(config), "--out", str(tmp_path / "run")])
    assert "0 cached" in with_out.output and str(tmp_path / "run" / ".cache") in with_out.output.replace("\n", "")


def test_plan_exits_2_on_a_bad_config(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"datasets": [{"name": "synthetic-chest"}], "colour": 1}))
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 2 and "colour" in result.output


def test_cache_ls_lists_every_entry(planted):
    _, cache_dir, stages = planted
    result = runner.invoke(app, ["cache", "ls", "--cache", str(cache_dir)])
    assert result.exit_code == 0, result.output
    for stage in stages:
        if stage.key is not None:
            assert stage.key in result.output
    assert "synthetic-chest radiograph-lowdose@3000/unet" in result.output  # the description
    assert "10 entries, 2.50 MB" in result.output  # 10 x 250 kB plus tiny entry.json files


def test_cache_commands_need_a_cache_location(planted, monkeypatch):
    _, cache_dir, _ = planted
    for command in (["cache", "ls"], ["cache", "gc"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "--cache" in result.output
    missing = runner.invoke(app, ["cache", "ls", "--cache", str(cache_dir / "nope")])
    assert missing.exit_code == 2 and "no such folder" in missing.output
    monkeypatch.setenv(CACHE_ENV, str(cache_dir))
    assert "10 entries" in runner.invoke(app, ["cache", "ls"]).output


def test_gc_removes_leftovers_and_dry_run_removes_nothing(planted):
    _, cache_dir, _ = planted
    tmp = cache_dir / "inference" / ".tmp-interrupted"
    tmp.mkdir()
    (tmp / "rows.parquet").write_bytes(b"0" * 1_000_000)
    Cache(cache_dir).scratch("reconstructor", "abc")
    before = entries(cache_dir)
    dry = runner.invoke(app, ["cache", "gc", "--cache", str(cache_dir), "--dry-run", "--scratch"])
    assert dry.exit_code == 0, dry.output
    assert "would remove" in dry.output and "would free 1.00 MB in 2 folder(s)" in dry.output
    assert tmp.is_dir() and (cache_dir / "scratch").is_dir()
    done = runner.invoke(app, ["cache", "gc", "--cache", str(cache_dir)])
    assert done.exit_code == 0 and "freed 1.00 MB in 1 folder(s)" in done.output
    assert not tmp.exists() and (cache_dir / "scratch").is_dir()  # resumable state is kept by default
    done = runner.invoke(app, ["cache", "gc", "--cache", str(cache_dir), "--scratch"])
    assert done.exit_code == 0 and "in 1 folder(s)" in done.output and not (cache_dir / "scratch").exists()
    assert entries(cache_dir) == before  # complete entries are kept without --keep


def test_gc_keep_removes_exactly_the_entries_a_changed_config_no_longer_uses(planted, tmp_path):
    config, cache_dir, old = planted
    new_config = write_config(tmp_path, level=1000)
    new = plant(cache_dir, new_config)
    stale = {(s.stage, s.key) for s in old if s.key is not None} - {(s.stage, s.key) for s in new}
    # the level's U-Net, its two conditions' rows, and what reads them
    assert {stage for stage, _ in stale} == {"reconstructor", "inference", "evaluate", "examples"} and len(stale) == 5
    before = entries(cache_dir)
    dry = runner.invoke(app, ["cache", "gc", "--cache", str(cache_dir), "--keep", str(new_config), "--dry-run"])
    assert dry.exit_code == 0 and entries(cache_dir) == before and dry.output.count("would remove") == 5
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: 3")
    refused = runner.invoke(app, ["cache", "gc", "--cache", str(cache_dir), "--keep", str(new_config),
                                     "--keep", str(bad)])
    assert refused.exit_code == 2 and entries(cache_dir) == before  # a bad config removes nothing
    result = runner.invoke(app, ["cache", "gc", "--cache", str(cache_dir), "--keep", str(new_config)])
    assert result.exit_code == 0, result.output
    assert entries(cache_dir) == before - stale
    both = runner.invoke(app, ["cache", "gc", "--cache", str(cache_dir), "--keep", str(new_config),
                                  "--keep", str(config)])
    assert "freed 0.00 MB in 0 folder(s)" in both.output

