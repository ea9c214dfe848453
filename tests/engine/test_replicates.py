"""Model replicates: replicate 0 is the study without replicates; raising K computes only the new ones."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from reconfair.cli import app
from reconfair.config import DatasetConfig, StudyConfig, TaskConfig
from reconfair.engine.cache import Cache
from reconfair.engine.conditions import dataset_conditions
from reconfair.engine.keys import dataset_slice, diagnostic_slice, inference_slice, reconstructor_slice
from reconfair.engine.mitigation import HOLDOUT_FILE, selected_conditions
from reconfair.engine.run import find_stage, stage_context
from reconfair.engine.plan import plan_study

UNET = {"name": "unet", "settings": {"epochs": 1, "features": [4, 4, 8, 8, 8, 4]}}
TINY = {
    "name": "tiny-replicates",
    "seed": 1,
    "device": "cpu",
    "attributes": ["sex"],
    "datasets": [{
        "name": "synthetic-chest",
        "n_patients": 20,
        "image_size": 32,
        "degradations": [{"operator": "radiograph-lowdose", "levels": [3000]}],
        "reconstructors": ["baseline", UNET],
        "mitigations": [{"kind": "eodd", "lambdas": [1], "epochs": 1}],
        "tasks": [{"kind": "classification", "model": {"epochs": 1}}],
    }],
    "evaluation": {"min_group_size": 1, "bootstrap": 40},
}
IDENTITY, UNET_CONDITION = "radiograph-lowdose@3000/identity", "radiograph-lowdose@3000/unet"


def tiny(replicates: int = 1, **changes) -> StudyConfig:
    data = json.loads(json.dumps(TINY))
    data["datasets"][0].update(changes)
    return StudyConfig.model_validate({**data, "replicates": replicates})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """K = 1, then K = 2 on the same cache, whose rows files were stripped of ``replicate`` in between
    (as an entry written before the column existed, and before entries recorded checksums):
    (root, K=1 run, K=2 run)."""
    from reconfair.engine.run import run_study

    root = tmp_path_factory.mktemp("replicates")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = run_study(tiny(1), root / "k1", progress=False, cache_dir=root / "cache")
        stripped = sorted((root / "cache" / "inference").glob("*/rows.parquet"))
        assert len(stripped) == 4  # original, identity, unet, unet+eodd:1
        for rows in stripped:
            pd.read_parquet(rows).drop(columns="replicate").to_parquet(rows, index=False)
            meta = json.loads((rows.parent / "entry.json").read_text())
            del meta["files"]  # an old entry: no checksums, accepted unchecked
            (rows.parent / "entry.json").write_text(json.dumps(meta))
        two = run_study(tiny(2), root / "k2", progress=False, cache_dir=root / "cache")
    finally:
        torch.set_num_threads(threads)
    return root, one, two


def _manifest(out) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_raising_k_computes_only_the_new_replicate(runs):
    root, one, two = runs
    first, second = _manifest(one.out_dir), _manifest(two.out_dir)
    assert (first["replicates"], second["replicates"]) == (1, 2)
    before = {(e["stage"], e["key"]) for e in first["stages"]}
    assert {e["status"] for e in first["stages"]} == {"computed"}
    computed = [(e["stage"], e["key"]) for e in second["stages"] if e["status"] == "computed"]
    cached = {(e["stage"], e["key"]) for e in second["stages"] if e["status"] == "cached"}
    over_all = {"evaluate", "mitigation-tables"}  # they read every replicate's rows: computed again
    assert cached == {(stage, key) for stage, key in before if stage not in over_all}  # replicate 0 is reused
    # by hand: replicate 1 trains 1 classifier, 1 U-Net, 1 fine-tuning and infers 4 conditions
    assert sorted(stage for stage, _ in computed) == sorted(
        ["diagnostic", "reconstructor", "mitigated-reconstructor"] + ["inference"] * 4 + sorted(over_all))
    plan = plan_study(tiny(2), Cache(root / "empty"))
    planned = {(s.stage, s.key) for s in plan if s.label.endswith("(replicate 1)") or s.stage in over_all}
    assert set(computed) == planned and not set(computed) & before


def test_replicate_zero_rows_equal_the_one_replicate_table(runs):
    _, one, two = runs
    assert set(one.samples["replicate"]) == {0} and set(two.samples["replicate"]) == {0, 1}
    zero = two.samples[two.samples["replicate"] == 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(zero, one.samples, check_exact=True)
    stored = pd.read_parquet(two.out_dir / "samples.parquet")
    pd.testing.assert_frame_equal(stored, two.samples, check_exact=True)
    assert stored["replicate"].dtype == np.int64 and list(stored.columns).index("replicate") == 12


def test_replicates_differ_by_their_models_only(runs):
    _, _, two = runs
    table = two.samples
    assert set(table["seed"]) == {1}

    def side(condition: str, replicate: int) -> pd.DataFrame:
        part = table[(table["condition"] == condition) & (table["replicate"] == replicate)]
        return part.set_index(["sample_id", "target"]).sort_index()

    for condition in ("original", IDENTITY, UNET_CONDITION, UNET_CONDITION + "+eodd:1"):
        a, b = side(condition, 0), side(condition, 1)
        assert a.index.equals(b.index)  # paired on exactly the same samples
        assert not np.array_equal(a["y_score"].to_numpy(), b["y_score"].to_numpy())  # another classifier
    # the same clean image and the same degradation draw: the identity baseline's PSNR is equal to the bit
    a, b = side(IDENTITY, 0), side(IDENTITY, 1)
    np.testing.assert_array_equal(a[["psnr", "ssim", "nrmse"]].to_numpy(), b[["psnr", "ssim", "nrmse"]].to_numpy())
    # while each replicate's U-Net is its own model
    assert not np.array_equal(side(UNET_CONDITION, 0)["psnr"].to_numpy(), side(UNET_CONDITION, 1)["psnr"].to_numpy())


def test_replicate_zero_slices_are_those_without_replicates():
    """The slices as they were defined before replicates existed (written out here), and K > 0 adds one field."""
    data, task = DatasetConfig(name="synthetic-chest", n_patients=20), TaskConfig(kind="classification")
    old_diagnostic = {**dataset_slice(data, 5), "task": task.model_dump(mode="json")}
    assert diagnostic_slice(data, task, 5) == diagnostic_slice(data, task, 5, replicate=0) == old_diagnostic
    assert diagnostic_slice(data, task, 5, replicate=2) == {**old_diagnostic, "replicate": 2}
    condition = dataset_conditions(tiny().datasets[0], ("sex",))[2]
    assert condition.name == UNET_CONDITION
    old_recon = {**dataset_slice(data, 5),  # the data's slice (with the chest generator's version), then:
                 "degradation": {"operator": "radiograph-lowdose", "level": 3000.0,
                                 "facts": condition.operator.describe()}, "spec": {"model": "unet"}}
    assert reconstructor_slice(data, condition.operator, {"model": "unet"}, 5, replicate=0) == old_recon
    assert reconstructor_slice(data, condition.operator, {"model": "unet"}, 5, replicate=1) == {**old_recon,
                                                                                                 "replicate": 1}
    options = dict(condition=condition, reconstructor_key="r", model_keys={"classification": "m"}, splits=["test"])
    zero = inference_slice(data, 5, **options, replicate=0)
    assert zero == inference_slice(data, 5, **options)
    assert set(zero) == {*dataset_slice(data, 5), "condition", "degradation", "reconstructor", "models", "splits"}
    assert inference_slice(data, 5, **options, replicate=3) == {**zero, "replicate": 3}
    cache = Cache("unused")
    assert cache.key("diagnostic", old_diagnostic) == cache.key("diagnostic", diagnostic_slice(data, task, 5))


def test_plan_labels_and_dependencies_per_replicate(tmp_path):
    stages = plan_study(tiny(2), Cache(tmp_path))
    models = ["synthetic-chest classification", "synthetic-chest radiograph-lowdose@3000 unet",
              "synthetic-chest radiograph-lowdose@3000 unet+eodd:1"]
    rows = ["synthetic-chest original", f"synthetic-chest {IDENTITY}", f"synthetic-chest {UNET_CONDITION}",
            f"synthetic-chest {UNET_CONDITION}+eodd:1"]
    images = [f"synthetic-chest {split} images" for split in ("train", "val", "test")]
    assert [s.label for s in stages] == images + [f"{label} (replicate {k})" for label in models for k in (0, 1)] + [
        f"{label} (replicate {k})" for k in (0, 1) for label in rows] + [
        "evaluate all data sets", "mitigation tables", "examples for the report", "report"]
    one = plan_study(tiny(1), Cache(tmp_path))
    zero = [s for s in stages if not s.label.endswith("(replicate 1)")]
    assert [s.key for s in zero if s.stage not in ("evaluate", "mitigation-tables", "report")] == [
        s.key for s in one if s.stage not in ("evaluate", "mitigation-tables", "report")]  # replicate 0 = K = 1
    assert [s.label for s in one[3:6]] == models  # no suffix without replicates
    by_label = {s.label: s for s in stages}
    k1 = {label: by_label[f"{label} (replicate 1)"] for label in models + rows}
    assert len({s.key for s in k1.values()} | {s.key for s in zero}) == len(k1) + len(zero)  # own entries
    diagnostic, recon, mitigated = (k1[label] for label in models)
    original, identity, unet, unet_mitigated = (k1[label] for label in rows)
    test, train = by_label["synthetic-chest test images"].ref, by_label["synthetic-chest train images"].ref
    assert identity.depends_on == (test, diagnostic.ref)
    assert unet.depends_on == (test, diagnostic.ref, recon.ref)
    assert mitigated.depends_on == (recon.ref, diagnostic.ref, train)
    assert unet_mitigated.depends_on == (test, diagnostic.ref, mitigated.ref)
    assert by_label["evaluate all data sets"].depends_on == tuple(s.ref for s in stages if s.stage == "inference")


def test_reconfair_plan_prints_the_replicate_labels(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps({**TINY, "replicates": 2}))
    result = CliRunner().invoke(app, ["plan", str(config), "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    for k in (0, 1):
        assert f"synthetic-chest classification (replicate {k})" in result.output
        assert f"synthetic-chest radiograph-lowdose@3000 unet (replicate {k})" in result.output
        assert f"synthetic-chest {IDENTITY} (replicate {k})" in result.output
    assert "21 stages: 0 cached, 20 pending, 1 always" in result.output


def test_lambda_choice_uses_the_mean_hold_out_scores_over_replicates(tmp_path):
    """Replicate 0 alone prefers lambda 1 (EODD 0.10 < 0.20); the mean over two prefers 10 (0.125 < 0.20)."""
    cache = Cache(tmp_path)
    base = {"base_psnr": 30.0, "base_balanced_accuracy": 0.8, "psnr": 30.0, "balanced_accuracy": 0.8}
    eodd = {(1.0, 0): 0.10, (1.0, 1): 0.30, (10.0, 0): 0.20, (10.0, 1): 0.05}

    def config(replicates):
        return tiny(replicates, mitigations=[{"kind": "eodd", "lambdas": [1, 10], "epochs": 1}])

    def selected(replicates):
        plan, context = stage_context(config(replicates), tmp_path)
        return selected_conditions(context, find_stage(plan, "mitigation-tables"))

    plan, _ = stage_context(config(2), tmp_path)
    folders = {}
    for stage in plan:
        if stage.stage == "mitigated-reconstructor":
            condition, k = stage.params["condition"], stage.params["replicate"]
            folder = folders[(condition.mitigation.weight, k)] = cache.folder(stage.stage, stage.key)
            folder.mkdir(parents=True)
            scores = {**base, "eodd": eodd[(condition.mitigation.weight, k)]}
            (folder / HOLDOUT_FILE).write_text(json.dumps(scores))
    assert selected(1) == {f"{UNET_CONDITION}+eodd:1"}
    assert selected(2) == {f"{UNET_CONDITION}+eodd:10"}
    # a lambda that one replicate lacks is not chosen on the other's scores alone
    (folders[(10.0, 1)] / HOLDOUT_FILE).unlink()
    assert selected(2) == {f"{UNET_CONDITION}+eodd:1"}


def test_ray_executor_with_two_replicates_gives_the_local_table(runs, tmp_path, one_torch_thread):
    ray = pytest.importorskip("ray", reason="the Ray executor test needs `pip install reconfair[ray]`")
    from reconfair.engine.run import run_study

    _, _, two = runs
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_study(tiny(2), tmp_path / "ray", progress=False, cache_dir=tmp_path / "cache", executor="ray")
    finally:
        ray.shutdown()
    pd.testing.assert_frame_equal(remote.samples, two.samples, check_exact=True)
    manifest = _manifest(tmp_path / "ray")
    assert {e["status"] for e in manifest["stages"]} == {"cached"}
    computed = {(e["stage"], e["key"]) for e in manifest["remote_stages"] if e["status"] == "computed"}
    assert computed == {(s.stage, s.key) for s in plan_study(tiny(2), Cache(tmp_path / "empty")) if s.key}


def test_the_metrics_combine_the_replicates(runs):
    """fairness.csv holds the method (mean over replicates, pooled bootstrap); replicates_*.csv each one."""
    _, _, two = runs
    metrics = two.out_dir / "metrics"
    fairness = pd.read_csv(metrics / "fairness.csv")
    per = pd.read_csv(metrics / "replicates_fairness.csv")
    assert sorted(per["replicate"].unique()) == [0, 1] and "replicate" not in fairness.columns
    keys = ["target", "condition", "attribute", "metric"]
    mean = per.groupby(keys)["delta"].mean().rename("expected").reset_index()
    merged = fairness.merge(mean, on=keys)
    assert len(merged) == len(fairness)
    np.testing.assert_allclose(merged["delta"], merged["expected"], equal_nan=True, atol=1e-12)
    reconstructed = fairness[(fairness["condition"] != "original") & fairness["metric"].isin(["eodd", "eop", "dp"])]
    assert (reconstructed["n_replicates"] == 2).all() and (reconstructed["n_boot"] == 40).all()
    models = pd.read_csv(metrics / "models.csv")
    assert sorted(models["replicate"].unique()) == [0, 1]
    assert len(_manifest(two.out_dir)["diagnostic_models"]) == len(models)
