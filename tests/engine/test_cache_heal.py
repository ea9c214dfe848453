"""A damaged cache entry is found (checksums), moved to quarantine, and computed again.

Unit tests on small planted entries, then a tiny study whose cached rows and
models are truncated between two runs: the second run warns, quarantines and
recomputes them, and writes the first run's samples.parquet.
"""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from reconfair.cli import app
from reconfair.engine import cache as cache_module
from reconfair.engine.cache import Cache, CacheDamageWarning

runner = CliRunner()
SLICE = {"dataset": {"name": "synthetic-chest"}, "condition": "radiograph-lowdose@3000/unet"}


def _store(cache: Cache, key: str = "k1", stage: str = "inference", size: int = 1000):
    def write(tmp):
        (tmp / "rows.parquet").write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
        (tmp / "model").mkdir()
        (tmp / "model" / "w.bin").write_bytes(b"w" * 10)

    return cache.store(stage, key, write, config_slice=SLICE)


def test_store_records_every_file_with_size_and_sha256(tmp_path):
    folder = _store(Cache(tmp_path))
    files = json.loads((folder / "entry.json").read_text())["files"]
    assert [(f["path"], f["size"]) for f in files] == [("model/w.bin", 10), ("rows.parquet", 1000)]
    assert all(len(f["sha256"]) == 64 for f in files)
    assert Cache(tmp_path).lookup("inference", "k1") == folder


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda f: (f / "rows.parquet").write_bytes(b"short"), "rows.parquet has 5 bytes, expected 1,000"),
        (lambda f: (f / "model" / "w.bin").unlink(), "model/w.bin is missing"),
        (lambda f: (f / "model" / "w.bin").write_bytes(b"W" * 10), "model/w.bin has the wrong sha256"),
        (lambda f: (f / "entry.json").write_text("{not json"), "entry.json is unreadable"),
        (lambda f: (f / "entry.json").unlink(), "no entry.json"),
    ],
)
def test_damaged_entry_is_quarantined_with_a_warning_and_a_damaged_event(tmp_path, damage, problem):
    cache = Cache(tmp_path)
    folder = _store(cache)
    damage(folder)
    cache.log_path = tmp_path / "run.log"
    with pytest.warns(CacheDamageWarning, match="inference k1") as caught:
        assert cache.lookup("inference", "k1") is None
    message = str(caught[0].message)
    assert problem in message and "moved to" in message
    if "entry.json" not in problem:  # the description comes from the slice in entry.json
        assert "synthetic-chest radiograph-lowdose@3000/unet" in message
    assert not folder.exists()
    (moved,) = cache.quarantined()
    assert moved.parent == tmp_path / "quarantine" / "inference" and moved.name.startswith("k1-")
    assert (moved / "rows.parquet").is_file()  # kept, not deleted
    assert cache.events[-1]["status"] == "damaged" and problem in cache.events[-1]["detail"]
    assert "damaged  inference     k1: " in cache.log_path.read_text()
    # the caller computes the entry again, in the same place
    _store(cache)
    assert cache.lookup("inference", "k1") == folder


def test_entries_without_a_file_list_are_accepted_as_before(tmp_path):
    cache = Cache(tmp_path)
    folder = _store(cache)
    meta = json.loads((folder / "entry.json").read_text())
    del meta["files"]
    (folder / "entry.json").write_text(json.dumps(meta))
    (folder / "rows.parquet").write_bytes(b"changed")  # not detectable without checksums
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.lookup("inference", "k1") == folder
    (check,) = cache.verify()
    assert check.ok and not check.checked


def test_lookup_hashes_files_up_to_the_limit_and_verify_hashes_all(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "HASH_LIMIT_BYTES", 100)
    cache = Cache(tmp_path)
    folder = _store(cache)
    (folder / "rows.parquet").write_bytes(b"z" * 1000)  # same size, other content, above the limit
    assert cache.lookup("inference", "k1") == folder  # size only
    (check,) = cache.verify()
    assert check.problems == ("rows.parquet has the wrong sha256 (its content changed)",)
    (folder / "model" / "w.bin").write_bytes(b"W" * 10)  # below the limit: hashed on lookup
    with pytest.warns(CacheDamageWarning, match="model/w.bin has the wrong sha256"):
        assert cache.lookup("inference", "k1") is None


def test_cache_verify_reports_repairs_and_gc_collects_the_quarantine(tmp_path):
    cache = Cache(tmp_path / "cache")
    _store(cache, "good")
    bad = _store(cache, "bad")
    clean = runner.invoke(app, ["cache", "verify", "--cache", str(cache.root)])
    assert clean.exit_code == 0, clean.output
    assert "2 entries: 2 ok, 0 damaged" in clean.output
    (bad / "rows.parquet").write_bytes(b"")
    found = runner.invoke(app, ["cache", "verify", "--cache", str(cache.root)])
    assert found.exit_code == 1, found.output
    assert "damaged   inference bad" in found.output and "rows.parquet has 0 bytes, expected 1,000" in found.output
    assert "ok        inference good" in found.output and "1 ok, 1 damaged" in found.output
    assert bad.is_dir() and not cache.quarantined()  # reporting changes nothing
    repaired = runner.invoke(app, ["cache", "verify", "--cache", str(cache.root), "--repair"])
    assert repaired.exit_code == 1 and "moved to" in repaired.output
    assert not bad.exists() and len(cache.quarantined()) == 1
    assert runner.invoke(app, ["cache", "verify", "--cache", str(cache.root)]).exit_code == 0
    listed = runner.invoke(app, ["cache", "ls", "--cache", str(cache.root)])
    assert "1 damaged entry in quarantine" in listed.output
    dry = runner.invoke(app, ["cache", "gc", "--cache", str(cache.root), "--dry-run"])
    assert dry.exit_code == 0 and "quarantined: damaged" in dry.output and "in 1 folder(s)" in dry.output
    assert len(cache.quarantined()) == 1
    done = runner.invoke(app, ["cache", "gc", "--cache", str(cache.root)])
    assert done.exit_code == 0 and not cache.quarantined()
    assert [e.key for e in cache.entries()] == ["good"]


STUDY = {
    "name": "heal",
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


def _entry(cache_dir, stage, description):
    (entry,) = [e for e in Cache(cache_dir).entries() if e.stage == stage and e.description == description]
    return entry


def test_truncated_rows_and_models_are_quarantined_and_recomputed_to_the_clean_result(tmp_path,
                                                                                         one_torch_thread):
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(STUDY))
    cache_dir = tmp_path / "cache"
    command = ["run", str(config), "--out", str(tmp_path / "out"), "--cache", str(cache_dir), "--no-progress"]
    first = runner.invoke(app, command)
    assert first.exit_code == 0, first.output
    clean = (tmp_path / "out" / "samples.parquet").read_bytes()
    clean_table = pd.read_parquet(tmp_path / "out" / "samples.parquet")
    rows = _entry(cache_dir, "inference", "synthetic-chest radiograph-lowdose@3000/unet")
    recon = _entry(cache_dir, "reconstructor", "synthetic-chest radiograph-lowdose@3000 unet")
    model = _entry(cache_dir, "diagnostic", "synthetic-chest classification")
    for path in (rows.folder / "rows.parquet", recon.folder / "model.safetensors", model.folder / "model.safetensors"):
        with open(path, "r+b") as handle:
            handle.truncate(path.stat().st_size // 2)

    found = runner.invoke(app, ["cache", "verify", "--cache", str(cache_dir)])
    assert found.exit_code == 1 and "3 damaged" in found.output, found.output

    with pytest.warns(CacheDamageWarning) as caught:
        second = runner.invoke(app, command)
    assert second.exit_code == 0, second.output
    messages = [str(w.message) for w in caught if issubclass(w.category, CacheDamageWarning)]
    for entry, name in ((rows, "rows.parquet"), (recon, "model.safetensors"), (model, "model.safetensors")):
        assert any(f"{entry.stage} {entry.key} ({entry.description}) is damaged: {name} has" in m
                   for m in messages), messages
        quarantined = list((cache_dir / "quarantine" / entry.stage).glob(f"{entry.key}-*"))
        assert len(quarantined) == 1 and (quarantined[0] / name).is_file()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "samples.parquet"), clean_table,
                                  check_exact=True)
    assert (tmp_path / "out" / "samples.parquet").read_bytes() == clean
    log = (tmp_path / "out" / "run.log").read_text().split(" run started: ")[-1]
    assert f"damaged  inference     {rows.key}: " in log and f"computed inference     {rows.key}" in log
    assert f"computed diagnostic    {model.key}" in log
    healed = runner.invoke(app, ["cache", "verify", "--cache", str(cache_dir)])
    assert healed.exit_code == 0 and "10 entries: 10 ok, 0 damaged" in healed.output, healed.output
