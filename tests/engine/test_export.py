"""Export of every condition's images: the draws the run used, and the paired round trip through a folder.

Acceptance (issue 16, item 3): export of degraded inputs -> an external
reconstruction saved to a folder -> a ``folder`` reconstructor: its PSNR rows
equal a direct computation on the same draws (scikit-image as the reference).
"""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.ndimage import uniform_filter
from skimage.metrics import peak_signal_noise_ratio
from typer.testing import CliRunner

from reconfair.cli import app
from reconfair.config import parse_config
from reconfair.engine.cache import Cache
from reconfair.engine.export import FORMAT_EXTENSIONS, INDEX_COLUMNS, write_image
from reconfair.engine.run import stage_output
from reconfair.recon.plugins import FolderReconstructor

IDENTITY, UNET, MINE = ("radiograph-lowdose@3000/identity", "radiograph-lowdose@3000/unet",
                        "radiograph-lowdose@3000/mine")
TINY = {
    "name": "tiny-export",
    "seed": 2,
    "device": "cpu",
    "threads": 1,
    "attributes": ["sex"],
    "datasets": [{
        "name": "synthetic-chest",
        "n_patients": 40,
        "image_size": 32,
        "degradations": [{"operator": "radiograph-lowdose", "levels": [3000]}],
        "reconstructors": ["baseline", {"name": "unet", "settings": {"epochs": 1}}],
        "tasks": [{"kind": "classification", "model": {"epochs": 1}}],
    }],
    "evaluation": {"min_group_size": 2, "bootstrap": 0},
    "export": {"inputs": True, "reconstructions": True},
}
runner = CliRunner()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One run of TINY with its export block: (run folder, cache folder, config)."""
    root = tmp_path_factory.mktemp("export")
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    out, cache = root / "run", root / "cache"
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "--cache", str(cache), "--no-progress"])
    assert result.exit_code == 0, result.output
    return out, cache, parse_config(TINY)


def _load(path):
    return FolderReconstructor(path.parent, name="check").load(path.name.split(".")[0], (32, 32))


def _index(folder):
    return pd.read_csv(folder / "index.csv", keep_default_na=False, na_values=[""])


def _psnr_rows(samples, condition):
    rows = samples[samples["condition"] == condition].drop_duplicates("sample_id")
    return dict(zip(rows["sample_id"], rows["psnr"]))


def test_run_writes_each_condition_with_an_index(run):
    out, _, _ = run
    index = _index(out / "export")
    assert list(index.columns[: len(INDEX_COLUMNS)]) == list(INDEX_COLUMNS)
    assert {"attr_sex", "attr_age_group", "attr_race"} <= set(index.columns)
    assert any(c.startswith("label_") for c in index.columns)
    kinds = index.groupby(["condition", "kind"])["split"].agg(lambda s: sorted(set(s))).to_dict()
    assert kinds == {("original", "reconstruction"): ["test", "val"],  # the splits inference reads
                     (IDENTITY, "input"): ["test"], (IDENTITY, "reconstruction"): ["test"],
                     (UNET, "input"): ["test"], (UNET, "reconstruction"): ["test"]}
    inputs = index[index["kind"] == "input"]
    assert set(inputs["path"].str.rsplit("/", n=1).str[0]) == {"synthetic-chest/inputs/radiograph-lowdose@3000"}
    assert inputs.groupby("condition")["path"].apply(list).pipe(lambda p: p[IDENTITY] == p[UNET])  # one set of draws
    assert all((out / "export" / p).is_file() for p in index["path"])
    assert (out / "export" / "synthetic-chest/reconstructions/radiograph-lowdose@3000/unet").is_dir()


def test_exported_images_are_what_the_run_saw(run):
    out, cache, config = run
    index, samples = _index(out / "export"), pd.read_parquet(out / "samples.parquet")
    test = stage_output(config, "images", cache_dir=cache, dataset=0, split="test")
    files = {(c, k, s): out / "export" / p for c, k, s, p in index[["condition", "kind", "sample_id", "path"]].values}
    for sample_id in test.sample_ids:
        clean = np.asarray(test.images[test.position[sample_id], 0])
        np.testing.assert_array_equal(_load(files["original", "reconstruction", sample_id]), clean)
        measured = np.load(files[IDENTITY, "input", sample_id])
        identity = np.load(files[IDENTITY, "reconstruction", sample_id])
        np.testing.assert_array_equal(identity, np.clip(measured, 0, 1))  # the baseline passes the input on
        for condition, recon in ((IDENTITY, identity), (UNET, np.load(files[UNET, "reconstruction", sample_id]))):
            expected = _psnr_rows(samples, condition)[sample_id]
            assert peak_signal_noise_ratio(clean, recon, data_range=1) == pytest.approx(expected, abs=1e-5)


def test_paired_round_trip_through_a_folder_reconstructor(run, tmp_path):
    out, cache, config = run
    export, index = out / "export", _index(out / "export")
    inputs = index[(index["kind"] == "input") & (index["condition"] == IDENTITY)]
    mine = tmp_path / "mine" / "3000"  # someone else's method: a 3 x 3 mean filter of the exported inputs
    filtered = {}
    for sample_id, path in inputs[["sample_id", "path"]].values:
        filtered[sample_id] = uniform_filter(np.load(export / path).astype(np.float64), size=3, mode="nearest")
        mine.mkdir(parents=True, exist_ok=True)
        np.save(mine / f"{sample_id}.npy", filtered[sample_id].astype(np.float32))
    second = yaml.safe_load(yaml.safe_dump(TINY))
    del second["export"]
    second["datasets"][0]["reconstructors"].append({"name": "mine", "folder": "mine/{level}"})  # relative: the file's
    path = tmp_path / "second.yaml"
    path.write_text(yaml.safe_dump(second))
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "run"), "--cache", str(cache),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    samples = pd.read_parquet(tmp_path / "run" / "samples.parquet")
    test = stage_output(config, "images", cache_dir=cache, dataset=0, split="test")
    got = _psnr_rows(samples, MINE)
    assert set(got) == set(filtered) == set(test.sample_ids)
    for sample_id, image in filtered.items():
        clean = np.asarray(test.images[test.position[sample_id], 0], dtype=np.float64)
        reference = peak_signal_noise_ratio(clean, np.clip(image.astype(np.float32), 0, 1).astype(np.float64),
                                            data_range=1)
        assert got[sample_id] == pytest.approx(reference, abs=1e-5)
        assert 10 * np.log10(1 / np.mean((image.astype(np.float32).clip(0, 1) - clean) ** 2)) == pytest.approx(
            got[sample_id], abs=1e-5)
    first = pd.read_parquet(out / "samples.parquet")
    assert _psnr_rows(samples, IDENTITY) == _psnr_rows(first, IDENTITY)  # paired: the same draws in both runs


def test_export_command_reuses_the_run_and_writes_each_format(run, tmp_path):
    out, cache, _ = run
    before = {(e.stage, e.key) for e in Cache(cache).entries()}
    npy = _index(out / "export").set_index(["condition", "kind", "sample_id"])["path"]
    result = runner.invoke(app, ["export", str(out), "--out", str(tmp_path / "png"), "--format", "png",
                                 "--conditions", f"original,{UNET}", "--no-inputs", "--no-progress"])
    assert result.exit_code == 0, result.output
    png = _index(tmp_path / "png")
    assert "lacks" not in result.output, result.output
    assert f"wrote {png['path'].nunique()} files of 2 condition(s)" in result.output, result.output
    assert set(png["condition"]) == {"original", UNET} and set(png["kind"]) == {"reconstruction"}
    for condition, kind, sample_id, path in png[["condition", "kind", "sample_id", "path"]].values:
        assert path.endswith(".png")
        exact = np.load(out / "export" / npy[condition, kind, sample_id])
        np.testing.assert_allclose(_load(tmp_path / "png" / path), exact, atol=0.5 / 65535 + 1e-7)  # 16-bit
    result = runner.invoke(app, ["export", str(out), "--out", str(tmp_path / "nii"), "--format", "nifti",
                                 "--no-reconstructions", "--splits", "val,test", "--no-progress"])
    assert result.exit_code == 0, result.output
    nii = _index(tmp_path / "nii")
    assert set(nii["kind"]) == {"input"} and set(nii["split"]) == {"val", "test"}
    for sample_id, path in nii.loc[nii["split"] == "test", ["sample_id", "path"]].values:
        assert path.endswith(".nii.gz")
        exact = np.load(out / "export" / npy[IDENTITY, "input", sample_id])
        np.testing.assert_array_equal(_load(tmp_path / "nii" / path), np.clip(exact, 0, 1))
    assert {(e.stage, e.key) for e in Cache(cache).entries()} == before  # nothing trained or computed again


def test_export_command_errors_name_the_culprit(run, tmp_path):
    out, _, _ = run

    def error(*args):
        result = runner.invoke(app, ["export", *map(str, args), "--out", str(tmp_path / "x"), "--no-progress"])
        assert result.exit_code == 2, result.output
        return " ".join(result.output.split())

    assert f"{tmp_path / 'absent'}: no such run directory" in error(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    assert f"{tmp_path / 'empty' / 'config.yaml'}: no such file" in error(tmp_path / "empty")
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "config.yaml").write_text((out / "config.yaml").read_text())
    assert f"{tmp_path / 'unfinished' / 'manifest.json'}: no such file" in error(tmp_path / "unfinished")
    message = error(out, "--conditions", "original,radiograph-lowdose@300/unet")
    assert "export.conditions[1]: unknown condition 'radiograph-lowdose@300/unet'" in message, message
    assert f"expected some of: original, {IDENTITY}, {UNET}" in message, message
    message = error(out, "--format", "tiff")
    assert "export.format" in message and "'tiff'" in message and "'npy', 'png' or 'nifti'" in message, message
    assert json.loads((out / "manifest.json").read_text())["cache"]  # the run itself is intact


@pytest.mark.parametrize("fmt, atol", [("npy", 0.0), ("png", 0.5 / 65535 + 1e-7), ("nifti", 0.0)])
def test_each_format_reads_back_through_a_folder_reconstructor(tmp_path, fmt, atol):
    image = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    np.save(tmp_path / "s1.npy", image)  # a file of another format is replaced, not left beside
    write_image(tmp_path / f"s1{FORMAT_EXTENSIONS[fmt]}", image, fmt)
    assert len(list(tmp_path.iterdir())) == 1
    np.testing.assert_allclose(FolderReconstructor(tmp_path, name="x").load("s1", (32, 32)), image, atol=atol)


def test_the_export_stage_needs_what_it_exports(tmp_path):
    from reconfair.engine.export import export_folders
    from reconfair.engine.plan import plan_study

    study = yaml.safe_load(yaml.safe_dump(TINY))
    study["datasets"][0]["mitigations"] = [{"kind": "eodd", "lambdas": [0.316]}]
    mitigated = "radiograph-lowdose@3000/unet+eodd:0.316"

    def export_stage(**block):
        plan = plan_study(parse_config({**study, "export": block}), Cache(tmp_path))
        found = [s for s in plan if s.stage == "export"]
        assert len(found) == 1 and found[0].key is None and found[0] is plan[-1]  # never cached, after the report
        return plan, found[0]

    plan, stage = export_stage(conditions=[mitigated, "original"])
    needs = sorted(plan.get(ref).label for ref in stage.depends_on)
    assert needs == ["synthetic-chest radiograph-lowdose@3000 unet+eodd:0.316", "synthetic-chest test images",
                     "synthetic-chest val images"]
    condition = next(c for c in plan.conditions[0] if c.name == mitigated)
    assert [p.as_posix() for p in export_folders("synthetic-chest", condition)] == [
        "synthetic-chest/inputs/radiograph-lowdose@3000",
        "synthetic-chest/reconstructions/radiograph-lowdose@3000/unet+eodd_0.316"]
    _, inputs_only = export_stage(reconstructions=False, splits=["train"])  # trains nothing
    assert sorted(plan.get(ref).label for ref in inputs_only.depends_on) == ["synthetic-chest train images"]
    del study["export"]
    assert "export" not in [s.stage for s in plan_study(parse_config(study), Cache(tmp_path))]
