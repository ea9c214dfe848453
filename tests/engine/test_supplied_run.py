"""Models trained outside reconfair, through ``reconfair run`` on a folder data set with an empty train split.

A small CNN is trained in plain torch and exported to TorchScript and ONNX; a
small MONAI network is trained outside and saved as safetensors; a segmenter
is a factory in the user's own module.  The run's scores on the original
images must equal the models' own (read from the PNGs here), its Dice rows a
NumPy computation, and no diagnostic model may be trained.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import save_file
from scipy.ndimage import uniform_filter
from scipy.special import expit
from skimage.metrics import peak_signal_noise_ratio
from typer.testing import CliRunner

from reconfair.cli import app

_spec = importlib.util.spec_from_file_location("lesions", Path(__file__).parents[1] / "diagnose" / "lesions.py")
lesions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lesions)

SEGMENTER = '''
import torch


class LocalContrast(torch.nn.Module):
    """Logits gain * (x - mean7x7(x) - offset): bright spots are foreground (edge pixels replicated)."""

    def __init__(self, gain=40.0, offset=0.05):
        super().__init__()
        self.mean = torch.nn.Conv2d(1, 1, 7, padding=3, bias=False, padding_mode="replicate")
        torch.nn.init.constant_(self.mean.weight, 1.0 / 49.0)
        self.gain, self.offset = gain, offset

    def forward(self, x):
        return self.gain * (x - self.mean(x) - self.offset)


def build(gain=40.0, offset=0.05):
    return LocalContrast(gain, offset)
'''
GAIN, OFFSET, THRESHOLD = 30.0, 0.1, 0.6
MONAI_PARAMS = {"in_shape": [1, 32, 32], "classes": 1, "channels": [4, 8], "strides": [2, 2]}


@pytest.fixture(scope="module")
def byo(tmp_path_factory):
    base = tmp_path_factory.mktemp("byo")
    root = lesions.write_folder(base, n=60)
    cnn = lesions.train(lesions.SmallCNN())
    torch.jit.script(cnn).save(str(base / "cnn.pt"))
    torch.onnx.export(cnn, (torch.zeros(2, 1, 32, 32),), str(base / "cnn.onnx"), dynamo=False,
                      input_names=["image"], dynamic_axes={"image": {0: "batch"}})
    from monai.networks.nets import Classifier

    torch.manual_seed(0)
    monai_net = lesions.train(Classifier(**MONAI_PARAMS), steps=40)
    save_file(monai_net.state_dict(), str(base / "monai.safetensors"))
    (base / "userseg_byo.py").write_text(SEGMENTER)
    source = {"kind": "folder", "csv": "lesions/index.csv", "attributes": {"sex": "sex", "age": "age"},
              "labels": ["lesion"], "mask_column": "mask"}

    def dataset(name: str, model: dict, extra_tasks=()) -> dict:
        return {"name": name, "image_size": 32, "split_fractions": [0.0, 0.5, 0.5], "source": source,
                "degradations": [{"operator": "radiograph-lowdose", "levels": [3000]}],
                "tasks": [{"kind": "classification", "model": {**model, "targets": ["lesion"]}}, *extra_tasks]}

    segmentation = {"kind": "segmentation", "model": {"factory": "userseg_byo:build", "threshold": THRESHOLD,
                                                      "params": {"gain": GAIN, "offset": OFFSET}}}
    study = {"name": "byo", "seed": 3, "device": "cpu", "attributes": ["sex"],
             "evaluation": {"bootstrap": 0, "min_group_size": 2}, "report": {"examples": True, "ids": "keep"},
             "datasets": [dataset("ts", {"torchscript": "cnn.pt"}, [segmentation]),
                          dataset("ox", {"onnx": "cnn.onnx"}),
                          dataset("mn", {"network": "Classifier", "params": MONAI_PARAMS,
                                         "weights": "monai.safetensors"})]}
    path = base / "byo.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    sys.path.insert(0, str(base))  # the user's segmenter module
    try:
        result = CliRunner().invoke(app, ["run", str(path), "--out", str(base / "out"), "--cache",
                                          str(base / "cache"), "--no-progress"])
        assert result.exit_code == 0, result.output
        yield {"base": base, "root": root, "config": path, "cnn": cnn, "monai": monai_net, "out": base / "out"}
    finally:
        sys.path.remove(str(base))


def _own_scores(network: torch.nn.Module, root: Path, sample_ids: list[str]) -> np.ndarray:
    images = torch.cat([lesions.read_png(root / "img" / f"{s.removeprefix('img-')}.png") for s in sample_ids])
    with torch.no_grad():
        return torch.sigmoid(network(images))[:, 0].double().numpy()


@pytest.mark.parametrize(("dataset", "model", "tolerance"), [("ts", "cnn", 1e-5), ("ox", "cnn", 1e-4),
                                                              ("mn", "monai", 1e-5)])
def test_original_scores_equal_the_models_own(byo, dataset, model, tolerance):
    table = pd.read_parquet(byo["out"] / "samples.parquet")
    rows = table[(table["dataset"] == dataset) & (table["condition"] == "original") & (table["task"] == "classification")]
    assert set(rows["split"]) == {"val", "test"} and len(rows) == 60  # nothing in train
    np.testing.assert_allclose(rows["y_score"].to_numpy(), _own_scores(byo[model], byo["root"], rows["sample_id"].tolist()),
                               atol=tolerance)
    assert rows["y_true"].tolist() == [float(int(s[-3:]) % 2 == 0) for s in rows["sample_id"]]


def test_no_diagnostic_model_is_trained(byo):
    manifest = json.loads((byo["out"] / "manifest.json").read_text())
    stages = [event["stage"] for event in manifest["stages"]]
    assert "diagnostic" not in stages
    assert stages.count("supplied-model") == 4  # three classifiers, one segmenter


def test_manifest_and_report_name_the_models_bytes(byo):
    import hashlib

    manifest = json.loads((byo["out"] / "manifest.json").read_text())
    records = {(m["dataset"], m["task"]): m for m in manifest["supplied_models"]}
    digest = hashlib.sha256((byo["base"] / "cnn.pt").read_bytes()).hexdigest()
    assert records[("ts", "classification")]["torchscript_sha256"] == digest
    assert records[("ts", "segmentation")]["factory"] == "userseg_byo:build"
    assert records[("ts", "segmentation")]["version"].startswith("source sha256 ")
    assert digest in (byo["out"] / "report.html").read_text(encoding="utf-8")  # the provenance section


def test_examples_saliency_says_how_it_was_made(byo):
    examples = {name: np.load(byo["out"] / "examples" / f"{name}.npz") for name in ("ts", "ox", "mn")}
    assert str(examples["ts"]["saliency_method"]) == "input gradient (TorchScript: layers cannot be hooked)"
    assert str(examples["ox"]["saliency_method"]) == "none (ONNX model: no gradients)"
    assert "saliency" not in examples["ox"] and "scores" in examples["ox"]
    assert str(examples["mn"]["saliency_method"]).startswith("grad-cam (layer ")
    assert examples["mn"]["saliency"].shape[-2:] == (32, 32)
    assert (byo["out"] / "figures" / "examples_ox.png").is_file()


def test_segmentation_dice_equals_a_direct_computation(byo):
    table = pd.read_parquet(byo["out"] / "samples.parquet")
    rows = table[(table["dataset"] == "ts") & (table["condition"] == "original") & (table["task"] == "segmentation")]
    expected = []
    for sample_id in rows["sample_id"]:
        k = int(sample_id[-3:])
        image = np.asarray(lesions.read_png(byo["root"] / "img" / f"L{k:03d}.png")[0, 0], dtype=np.float64)
        truth = lesions.lesion(k)[1].astype(bool)
        logits = GAIN * (image - uniform_filter(image, size=7, mode="nearest") - OFFSET)
        predicted = expit(logits) >= THRESHOLD
        both = predicted.sum() + truth.sum()
        expected.append(1.0 if both == 0 else 2.0 * (predicted & truth).sum() / both)
    np.testing.assert_allclose(rows["dice"].to_numpy(), expected, atol=1e-12)
    assert 0.2 < np.mean(expected) < 1.0  # a real segmenter: neither nothing nor everything


def test_a_second_run_reuses_everything_and_new_model_bytes_recompute(byo):
    out, cache = byo["base"] / "out2", byo["base"] / "cache"
    run = ["run", str(byo["config"]), "--out", str(out), "--cache", str(cache), "--no-progress"]
    sys.path.insert(0, str(byo["base"]))
    try:
        assert CliRunner().invoke(app, run).exit_code == 0
        events = json.loads((out / "manifest.json").read_text())["stages"]
        assert {e["status"] for e in events if e["stage"] in ("supplied-model", "inference")} == {"cached"}
        changed = lesions.SmallCNN()
        changed.load_state_dict(byo["cnn"].state_dict())
        with torch.no_grad():
            changed.head.bias += 0.5
        torch.jit.script(changed).save(str(byo["base"] / "cnn.pt"))
        result = CliRunner().invoke(app, run)
        assert result.exit_code == 0, result.output
    finally:
        sys.path.remove(str(byo["base"]))
        torch.jit.script(byo["cnn"]).save(str(byo["base"] / "cnn.pt"))
    events = json.loads((out / "manifest.json").read_text())["stages"]
    computed = [e for e in events if e["status"] == "computed"]
    assert [e["stage"] for e in computed if e["stage"] == "supplied-model"] == ["supplied-model"]
    assert sum(e["stage"] == "inference" for e in computed) == 2  # ts: original and the degraded condition
    table = pd.read_parquet(out / "samples.parquet")
    rows = table[(table["dataset"] == "ts") & (table["condition"] == "original") & (table["task"] == "classification")]
    np.testing.assert_allclose(rows["y_score"].to_numpy(), _own_scores(changed, byo["root"], rows["sample_id"].tolist()),
                               atol=1e-5)


def test_validate_lists_the_models_targets_and_the_datas_labels(byo, tmp_path):
    study = yaml.safe_load(byo["config"].read_text())
    study["datasets"] = study["datasets"][:1]
    study["datasets"][0]["tasks"] = [{"kind": "classification",
                                      "model": {"torchscript": str(byo["base"] / "cnn.pt"), "targets": ["nodule"]}}]
    study["datasets"][0]["source"]["csv"] = str(byo["root"] / "index.csv")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(study))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "'nodule' not among the data's labels" in result.output and "labels are ['lesion']" in result.output


def test_export_then_external_scores_then_evaluate_gives_the_runs_metrics(byo, tmp_path):
    """Round trip: ``reconfair export`` -> the user's model scores the files -> ``reconfair evaluate`` -> same tables."""
    sys.path.insert(0, str(byo["base"]))
    try:
        result = CliRunner().invoke(app, ["export", str(byo["out"]), "--out", str(tmp_path / "exported"),
                                          "--no-inputs"])
    finally:
        sys.path.remove(str(byo["base"]))
    assert result.exit_code == 0, result.output
    index = pd.read_csv(tmp_path / "exported" / "index.csv")
    rows = index[(index["dataset"] == "ts") & (index["kind"] == "reconstruction")].reset_index(drop=True)
    images = torch.tensor(np.stack([np.load(tmp_path / "exported" / p) for p in rows["path"]])[:, None])
    with torch.no_grad():
        scores = torch.sigmoid(byo["cnn"](images))[:, 0].double().numpy()
    clean = {sid: np.load(tmp_path / "exported" / path) for sid, path, condition
             in rows[["sample_id", "path", "condition"]].itertuples(index=False) if condition == "original"}
    psnr = [np.nan if condition == "original" else peak_signal_noise_ratio(clean[sid], np.load(tmp_path / "exported" / path),
                                                                             data_range=1.0)
            for sid, path, condition in rows[["sample_id", "path", "condition"]].itertuples(index=False)]
    table = rows[["sample_id", "patient_id", "split", "dataset", "condition", "attr_sex"]].assign(
        task="classification", target="lesion", y_true=rows["label_lesion"].astype(float), y_score=scores, psnr=psnr)
    table.to_parquet(tmp_path / "mine.parquet")
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "mine.parquet"), "--out", str(tmp_path / "metrics"),
                                      "--attributes", "sex", "--min-group-size", "2", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    for name in ("performance", "fairness"):
        ours = pd.read_csv(tmp_path / "metrics" / f"{name}.csv")
        run = pd.read_csv(byo["out"] / "metrics" / f"{name}.csv")
        run = run[(run["dataset"] == "ts") & (run["task"] == "classification")]
        keys = [c for c in ("dataset", "task", "target", "condition", "attribute", "metric") if c in ours.columns]
        if name == "performance":  # the run also has SSIM and NRMSE, which this table leaves out
            run = run[run["metric"].isin(set(ours["metric"]))]
            assert {"auroc", "val_auroc", "psnr"} <= set(ours["metric"])
        merged = run.merge(ours, on=keys, suffixes=("_run", "_ours"), validate="one_to_one")
        assert len(merged) == len(run) == len(ours) > 0
        numeric = [c for c in ours.columns if c not in keys and pd.api.types.is_float_dtype(ours[c])
                   and f"{c}_run" in merged.columns]
        assert "value" in numeric and {"auroc", "eodd"} & set(ours["metric"])
        assert ours["value"].notna().sum() > 3
        for column in numeric:
            np.testing.assert_allclose(merged[f"{column}_ours"], merged[f"{column}_run"], atol=1e-6, equal_nan=True,
                                       err_msg=f"{name}.{column}")


CLASSIFIER = '''
import torch


def build(k=3):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Linear(4, k))
'''


def _mitigating_study(model: dict, kinds=("eodd", "adversarial")) -> dict:
    return {"name": "mit", "device": "cpu", "attributes": ["sex"], "evaluation": {"bootstrap": 0},
            "datasets": [{"name": "synthetic-chest", "n_patients": 40, "image_size": 32,
                          "degradations": [{"operator": "radiograph-lowdose", "levels": [3000]}],
                          "reconstructors": ["baseline", {"name": "unet", "settings": {"epochs": 1}}],
                          "tasks": [{"kind": "classification",
                                     "model": {**model, "targets": ["nodule", "effusion", "cardiomegaly"]}}],
                          "mitigations": [{"kind": kind, "lambdas": [1.0], "epochs": 1} for kind in kinds]}]}


def test_mitigation_fine_tunes_through_a_supplied_classifier(tmp_path, monkeypatch):
    from reconfair.engine.run import find_stage, run_study, stage_context
    from reconfair.engine.validate import parse_study

    (tmp_path / "usercls_byo.py").write_text(CLASSIFIER)
    monkeypatch.syspath_prepend(str(tmp_path))
    study = parse_study(_mitigating_study({"factory": "usercls_byo:build"}))
    plan, _ = stage_context(study, tmp_path / "cache")
    for kind in ("eodd:1", "adversarial:1"):
        stage = find_stage(plan, "mitigated-reconstructor", condition=f"radiograph-lowdose@3000/unet+{kind}")
        assert stage.inputs["classifier"].startswith("supplied-model/")  # the user's frozen model
    result = run_study(study, tmp_path / "out", progress=False, cache_dir=tmp_path / "cache")
    assert {"radiograph-lowdose@3000/unet+eodd:1", "radiograph-lowdose@3000/unet+adversarial:1"} <= set(
        result.samples["condition"])
    stages = {e["stage"] for e in json.loads((tmp_path / "out" / "manifest.json").read_text())["stages"]}
    assert "diagnostic" not in stages and "mitigated-reconstructor" in stages


def test_mitigation_refuses_models_without_gradients_or_hooks(tmp_path):
    from reconfair.engine.validate import parse_study

    (tmp_path / "m.onnx").write_bytes(b"")
    (tmp_path / "m.pt").write_bytes(b"")
    with pytest.raises(ValueError, match="an ONNX model has no gradients"):
        parse_study(_mitigating_study({"onnx": str(tmp_path / "m.onnx")}, kinds=("eodd",)))
    with pytest.raises(ValueError, match="a TorchScript model's layers cannot be hooked"):
        parse_study(_mitigating_study({"torchscript": str(tmp_path / "m.pt")}, kinds=("adversarial",)))
    parse_study(_mitigating_study({"torchscript": str(tmp_path / "m.pt")}, kinds=("eodd",)))  # eodd needs no hook
