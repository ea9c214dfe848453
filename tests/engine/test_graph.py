"""The stage graph: a new kind is one module plus one registration; keys, inputs and order follow the graph."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from reconfair.config import StudyConfig
from reconfair.engine import kinds
from reconfair.engine.cache import Cache
from reconfair.engine.graph import Stage, topological
from reconfair.engine.images import images_of
from reconfair.engine.plan import plan_study
from reconfair.engine.run import run_study, stage_output

TINY = {
    "name": "graph", "seed": 1, "device": "cpu", "attributes": ["sex"],
    "datasets": [{"name": "synthetic-chest", "n_patients": 20, "image_size": 32,
                  "degradations": [{"operator": "radiograph-lowdose", "levels": [3000]}],
                  "reconstructors": ["baseline"],
                  "tasks": [{"kind": "classification", "model": {"epochs": 1}}]}],
    "evaluation": {"min_group_size": 1, "bootstrap": 0},
}


class BrightnessKind:
    """The worked example of docs/engine.md, verbatim."""

    name = "brightness"
    unit = "images"

    def plan(self, graph):
        for index, dataset in enumerate(graph.config.datasets):
            test = graph.find("images", dataset=index, split="test")
            graph.add(self.name, label=f"{dataset.name} brightness", params={"dataset": index},
                      config_slice={"version": 1}, inputs={"images:test": test.ref}, estimate=test.estimate)

    def compute(self, stage, context):
        samples = images_of(context, stage)
        images, _ = samples.batch(0, len(samples))
        return pd.DataFrame({"sample_id": samples.table["sample_id"],
                             "brightness": images.mean(dim=(1, 2, 3)).numpy()})

    def write(self, output, folder):
        output.to_parquet(folder / "brightness.parquet")

    def load(self, stage, context, folder):
        return pd.read_parquet(folder / "brightness.parquet")


@pytest.fixture
def with_brightness(monkeypatch):
    extra = BrightnessKind()
    monkeypatch.setattr(kinds, "STAGE_KINDS", (*kinds.STAGE_KINDS[:2], extra, *kinds.STAGE_KINDS[2:]))
    monkeypatch.setattr(kinds, "KINDS", {**kinds.KINDS, extra.name: extra})


def test_a_new_kind_needs_its_module_and_one_registration(tmp_path, with_brightness):
    config = StudyConfig.model_validate(TINY)
    plan = plan_study(config, Cache(tmp_path / "cache"))
    (stage,) = [s for s in plan if s.stage == "brightness"]
    assert [plan.get(r).label for r in stage.depends_on] == ["synthetic-chest test images"]
    run_study(config, tmp_path / "run", progress=False, cache_dir=tmp_path / "cache")
    computed = pd.read_parquet(tmp_path / "cache" / "brightness" / stage.key / "brightness.parquet")
    # by hand: the test split's clean images, straight from the data set
    from reconfair.engine.datasets import build_dataset

    test = build_dataset(config.datasets[0], seed=1).split("test")
    assert computed["sample_id"].tolist() == test.table["sample_id"].tolist()
    assert computed["brightness"].tolist() == pytest.approx(test.images.mean(dim=(1, 2, 3)).tolist(), abs=0)
    again = plan_study(config, Cache(tmp_path / "cache"))
    assert {s.status for s in again if s.key is not None} == {"cached"}
    assert stage_output(config, "brightness", cache_dir=tmp_path / "cache", dataset=0).equals(computed)


def test_every_stage_follows_its_inputs_and_keys_hash_the_inputs(tmp_path):
    config = StudyConfig.model_validate(TINY)
    plan = plan_study(config, Cache(tmp_path))
    seen = set()
    for stage in plan:
        assert set(stage.depends_on) <= seen, stage.label
        seen.add(stage.ref)
    assert [s.stage for s in plan] == ["images"] * 3 + ["diagnostic"] + ["inference"] * 2 + [
        "evaluate", "examples", "report"]
    # a different classifier changes the key of every stage that reads it, and nothing else
    other = plan_study(StudyConfig.model_validate({**TINY, "datasets": [{
        **TINY["datasets"][0], "tasks": [{"kind": "classification", "model": {"epochs": 2}}]}]}), Cache(tmp_path))
    changed = [a.stage for a, b in zip(plan, other) if a.key != b.key]
    assert changed == ["diagnostic", "inference", "inference", "evaluate", "examples"]


def test_topological_order_and_cycles():
    a = Stage("images", "a", "a")
    b = Stage("diagnostic", "b", "b", inputs={"x": a.ref})
    c = Stage("inference", "c", "c", inputs={"x": b.ref, "y": a.ref})
    assert [s.key for s in topological([c, b, a])] == ["a", "b", "c"]
    loop = Stage("images", "a", "a", inputs={"x": c.ref})
    with pytest.raises(ValueError, match="cycle"):
        topological([loop, b, c])


def test_the_manifest_records_threads_and_time_per_stage_kind(tmp_path):
    config = StudyConfig.model_validate({**TINY, "threads": 1})
    run_study(config, tmp_path / "run", progress=False, cache_dir=tmp_path / "cache")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["threads"] == 1
    # every kind computed in this run (the report writes the manifest, so its own time is not in it yet)
    assert set(manifest["seconds_per_stage_kind"]) == {"images", "diagnostic", "inference", "evaluate", "examples"}
    assert set(manifest["recorded_seconds_per_stage_kind"]) == {"images", "diagnostic", "inference", "evaluate",
                                                                "examples"}
    plan = plan_study(config, Cache(tmp_path / "cache"))
    assert all(s.seconds is not None and s.seconds >= 0 for s in plan if s.key is not None)
