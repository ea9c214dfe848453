"""The plan: the run's stages and keys, checked against what a real tiny run wrote."""

import json

import pytest
import torch

from reconfair.config import StudyConfig
from reconfair.engine.cache import Cache
from reconfair.engine.plan import plan_study, summarize

TINY = {
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
            "reconstructors": ["baseline", {"name": "unet", "settings": {"epochs": 1, "features": [4, 4, 8, 8, 8, 4]}}],
            "tasks": [{"kind": "classification", "model": {"epochs": 1}}],
        }
    ],
    "evaluation": {"min_group_size": 1, "bootstrap": 0},
}


def tiny(**changes) -> StudyConfig:
    data = json.loads(json.dumps(TINY))
    for path, value in changes.items():
        target = data
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return StudyConfig.model_validate(data)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One real run of TINY: (run folder, cache folder)."""
    from reconfair.engine.run import run_study

    root = tmp_path_factory.mktemp("plan")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_study(tiny(), root / "run", progress=False, cache_dir=root / "cache")
    finally:
        torch.set_num_threads(threads)
    return root / "run", root / "cache"


def test_fresh_cache_every_cacheable_stage_is_pending(tmp_path):
    stages = plan_study(tiny(), Cache(tmp_path))
    assert [s.stage for s in stages] == (["images"] * 3 + ["diagnostic", "reconstructor"] + ["inference"] * 3
                                         + ["evaluate", "examples", "report"])
    assert all(s.status == "pending" for s in stages if s.key is not None)
    assert [s.stage for s in stages if s.key is None] == ["report"]
    assert not any(tmp_path.iterdir())  # planning writes nothing
    assert summarize(stages) == "11 stages: 0 cached, 10 pending, 1 always"


def test_dependencies_and_estimates(tmp_path):
    stages = plan_study(tiny(), Cache(tmp_path))
    train, val, test, diagnostic, recon, original, baseline, unet, evaluate, examples, report = stages
    assert diagnostic.depends_on == recon.depends_on == (train.ref, val.ref)
    assert unet.depends_on == (test.ref, diagnostic.ref, recon.ref)
    assert baseline.depends_on == (test.ref, diagnostic.ref) and original.depends_on == (test.ref, val.ref, diagnostic.ref)
    assert evaluate.depends_on == (original.ref, baseline.ref, unet.ref)
    assert examples.depends_on == (test.ref, diagnostic.ref, recon.ref)
    assert report.depends_on == (evaluate.ref, examples.ref)
    assert recon.label == "synthetic-chest radiograph-lowdose@3000 unet"
    # by hand: original runs on val + test, reconstructions on test only; training = epochs x train images
    from reconfair.engine.datasets import build_dataset

    sizes = build_dataset(tiny().datasets[0], seed=1).table["split"].value_counts()
    assert original.estimate == sizes["val"] + sizes["test"] and unet.estimate == baseline.estimate == sizes["test"]
    assert diagnostic.estimate == recon.estimate == sizes["train"] == train.estimate
    refit = plan_study(tiny(**{"evaluation.threshold": "refit"}), Cache(tmp_path))
    assert refit[7].estimate == sizes["val"] + sizes["test"] and refit[7].key != unet.key


def test_after_a_run_every_stage_is_cached_with_the_runs_keys(tiny_run):
    run, cache_dir = tiny_run
    cache = Cache(cache_dir)
    stages = plan_study(tiny(), cache)
    assert cache.events == []  # planning records nothing
    assert all(s.status == "cached" for s in stages if s.key is not None)
    manifest = json.loads((run / "manifest.json").read_text())
    ran = {(e["stage"], e["key"]) for e in manifest["stages"]}
    assert {(s.stage, s.key) for s in stages if s.key is not None} == ran
    assert len(ran) == 3 + 1 + 1 + 3 + 2  # images, classifier, U-Net, rows, evaluate and examples


def test_changing_a_reconstructor_setting_invalidates_exactly_its_stages(tiny_run):
    _, cache_dir = tiny_run
    unet = {"name": "unet", "settings": {"epochs": 2, "features": [4, 4, 8, 8, 8, 4]}}
    stages = plan_study(tiny(**{"datasets.0.reconstructors": ["baseline", unet]}), Cache(cache_dir))
    pending = [s.label for s in stages if s.status == "pending"]
    assert pending == ["synthetic-chest radiograph-lowdose@3000 unet", "synthetic-chest radiograph-lowdose@3000/unet",
                       "evaluate all data sets", "examples for the report"]


def test_changing_the_name_changes_nothing(tiny_run):
    _, cache_dir = tiny_run
    def facts(stages):
        return [(s.stage, s.key, s.label, s.status, s.depends_on) for s in stages]

    assert facts(plan_study(tiny(name="renamed"), Cache(cache_dir))) == facts(plan_study(tiny(), Cache(cache_dir)))


def test_plugins_and_checkpoints_are_always_inferred(tmp_path):
    entries = ["baseline", {"name": "mine", "folder": str(tmp_path)}, {"name": "unet", "checkpoint": "x/{level}"}]
    stages = plan_study(tiny(**{"datasets.0.reconstructors": entries}), Cache(tmp_path))
    assert "reconstructor" not in [s.stage for s in stages]  # nothing is trained here
    always = [s.label for s in stages if s.status == "always"]
    assert always == ["synthetic-chest radiograph-lowdose@3000/mine", "synthetic-chest radiograph-lowdose@3000/unet",
                      "evaluate all data sets", "examples for the report", "report"]  # and what reads them
