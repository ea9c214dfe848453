"""Reconstruction benchmarks, measured side by side in one run.

1. Stage overhead: images/s through the engine's reconstruction stage
   (:func:`reconfair.engine.inference.reconstruct_batch`: per-sample
   generators, device transfer, clipping) vs the bare ``network(x)`` forward
   at the same batch size.  Target: ratio >= 0.9.
2. IR-SDE: test-split PSNR vs the number of reverse sampling steps, for both
   samplers (``posterior``, ``euler``) side by side, for a model trained with
   the demo preset on synthetic-chest at 3,000 photons, beside the identity
   baseline and the U-Net.

Run with ``.venv/bin/python benchmarks/recon.py [--quick]`` (also part of ``make bench``).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from reconfair.config import DatasetConfig, parse_config
from reconfair.engine.datasets import build_dataset
from reconfair.engine.inference import reconstruct_batch
from reconfair.engine.run import stage_output
from reconfair.metrics.image import psnr
from reconfair.physics import make_degradation
from reconfair.recon.irsde_sde import SAMPLERS
from reconfair.recon.learned import make_learned
from reconfair.seeding import sample_generators


def _best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def stage_overhead(*, batch_size: int = 128, size: int = 64, repeats: int = 5) -> list[dict]:
    """Images/s of the stage vs the bare forward, per model (untrained weights: speed only)."""
    rows = []
    x = torch.rand(batch_size, 1, size, size, generator=torch.Generator().manual_seed(0))
    ids = [f"s{i}" for i in range(batch_size)]
    for model in ("unet", "pix2pix"):
        recon = make_learned(model)
        network = recon.method.trained.eval()
        with torch.no_grad():
            bare = _best_of(lambda: network(x), repeats)
        stage = _best_of(lambda: reconstruct_batch(recon, x, ids, seed=0, stage="bench"), repeats)
        rows.append(
            {
                "model": model,
                "batch": batch_size,
                "bare img/s": batch_size / bare,
                "stage img/s": batch_size / stage,
                "ratio": bare / stage,
            }
        )
    return rows


def irsde_steps(*, n_patients: int, epochs: int, steps: tuple[int, ...]) -> tuple[list[dict], dict]:
    """Test PSNR of IR-SDE per number of sampling steps, plus identity and U-Net PSNR."""
    dataset_config = DatasetConfig(name="synthetic-chest", n_patients=n_patients, image_size=64)
    samples = build_dataset(dataset_config, seed=0)
    operator = make_degradation("radiograph-lowdose", 3000)
    test = samples.split("test")
    ids = test.table["sample_id"].tolist()
    noisy = operator.degrade(test.images, generator=sample_generators(0, "bench-test", ids))
    trained = {}
    with tempfile.TemporaryDirectory() as cache_dir:
        study = parse_config({"seed": 0, "datasets": [{
            **dataset_config.model_dump(mode="json", exclude={"degradations", "reconstructors", "tasks"}),
            "degradations": [{"operator": "radiograph-lowdose", "levels": [3000]}],
            "reconstructors": [{"name": m, "settings": {"epochs": epochs}} for m in ("irsde", "unet")]}]})
        for model in ("irsde", "unet"):
            trained[model] = stage_output(study, "reconstructor", cache_dir=cache_dir, progress=True, dataset=0,
                                          replicate=0, condition=f"radiograph-lowdose@3000/{model}")
    reference = {
        "identity PSNR": float(psnr(noisy.clamp(0, 1), test.images).mean()),
        "unet PSNR": float(psnr(trained["unet"].reconstruct(noisy), test.images).mean()),
        "test images": len(ids),
    }
    rows = []
    method = trained["irsde"].method
    for n_steps in steps:
        row: dict = {"steps": n_steps}
        for sampler in SAMPLERS:
            generators = sample_generators(0, "bench-irsde", ids)
            started = time.perf_counter()
            out = method.reconstruct(noisy, generator=generators, steps=n_steps, sampler=sampler)
            seconds = time.perf_counter() - started
            row[f"{sampler} PSNR"] = float(psnr(out, test.images).mean())
            row[f"{sampler} img/s"] = len(ids) / seconds
        rows.append(row)
    return rows, reference


def _print(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    print("  ".join(f"{k:>15}" for k in rows[0]))
    for row in rows:
        print("  ".join(f"{v:>15.3f}" if isinstance(v, float) else f"{v!s:>15}" for v in row.values()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer patients and epochs (a smoke run)")
    options = parser.parse_args()
    _print("reconstruction stage vs bare model(x) (64x64, CPU)", stage_overhead(repeats=2 if options.quick else 5))
    n_patients, epochs = (80, 1) if options.quick else (500, 3)
    rows, reference = irsde_steps(n_patients=n_patients, epochs=epochs, steps=(1, 2, 5, 10, 20, 50, 100))
    _print(f"IR-SDE PSNR vs sampling steps (synthetic-chest, 3,000 photons, demo preset, {epochs} epochs)", rows)
    print("  ".join(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}" for k, v in reference.items()))
