"""Real-data keys see the image files: an image edited in place invalidates exactly the stages that read it."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reconfair.config import parse_config
from reconfair.engine.cache import Cache
from reconfair.engine.plan import plan_study
from reconfair.engine.run import run_study

_spec = importlib.util.spec_from_file_location(
    "real_fixtures", Path(__file__).resolve().parents[1] / "data" / "real_fixtures.py")
rf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rf)


def _study(folder: Path, fingerprint: str = "stat") -> dict:
    return {
        "name": "edits", "seed": 5, "device": "cpu", "attributes": ["sex"],
        "evaluation": {"min_group_size": 1, "bootstrap": 0},
        "datasets": [{
            "name": "my-folder", "image_size": 32, "reconstructors": ["baseline"],
            "degradations": [{"operator": "mri-undersampling", "levels": [4]}],
            "tasks": [{"kind": "segmentation", "model": {"epochs": 1}}],
            "source": {"kind": "folder", "csv": str(folder / "index.csv"), "image_column": "file",
                       "patient_column": "subject", "attributes": {"sex": "Gender", "age": "Age"},
                       "labels": {"has_lesion": "Lesion"}, "mask_column": "mask", "fingerprint": fingerprint},
        }],
    }


def _reads(plan, split: str) -> set[str]:
    """Labels of the stages that read the split's images, directly or through other stages."""
    images = next(s for s in plan if s.stage == "images" and s.params["split"] == split)
    reached, labels = {images.ref}, set()
    for stage in plan:
        if any(ref in reached for ref in stage.depends_on):
            reached.add(stage.ref)
            labels.add(stage.label)
    return labels | {images.label}


@pytest.mark.parametrize("fingerprint", ["stat", "content"])
def test_an_edited_test_image_invalidates_exactly_the_stages_that_read_it(tmp_path, fingerprint):
    folder = rf.make_folder(tmp_path, n_patients=24)
    config = parse_config(_study(folder, fingerprint))
    cache = Cache(tmp_path / "cache")
    first = run_study(config, tmp_path / "run", progress=False, cache_dir=cache.root)
    before = plan_study(config, cache)
    assert {s.status for s in before if s.key is not None} == {"cached"}
    # a PNG of the test split, rewritten in place with other pixels (same size on disk is not required)
    from reconfair.engine.datasets import build_dataset

    samples = build_dataset(config.datasets[0], seed=5, lazy=True)
    files = samples.info["files"]
    test_ids = samples.table.loc[samples.table["split"] == "test", "sample_id"]
    png = next(Path(files[s][0]) for s in test_ids if files[s][0].endswith(".png"))
    stat = png.stat()
    Image.fromarray(np.full((32, 32), 7, dtype=np.uint8)).save(png)
    os.utime(png, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    after = plan_study(config, cache)
    pending = {s.label for s in after if s.status == "pending"}
    assert pending == {s.label for s in after if s.key is not None} & _reads(after, "test")
    assert "my-folder segmentation" not in pending and "my-folder train images" not in pending
    assert "my-folder test images" in pending and "my-folder original" in pending
    rerun = run_study(config, tmp_path / "rerun", progress=False, cache_dir=cache.root)
    manifest = json.loads((tmp_path / "rerun" / "manifest.json").read_text())
    computed = {e["key"] for e in manifest["stages"] if e["status"] == "computed"}
    assert computed == {s.key for s in after if s.status == "pending"}
    # the edited image's reconstruction quality changed; every other sample's row is the same
    edited_id = next(s for s in test_ids if files[s][0] == str(png))
    old, new = (r.samples[r.samples["split"] == "test"].set_index(["condition", "sample_id"])["psnr"]
                for r in (first, rerun))
    degraded = "mri-undersampling@4/zero-filled"
    assert old[(degraded, edited_id)] != new[(degraded, edited_id)]
    others = [i for i in old.index if i[1] != edited_id]
    assert old.loc[others].equals(new.loc[others])
