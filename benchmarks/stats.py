"""Paired patient bootstrap: full-size timing, peak memory, and speed-up over fairlearn.

Run with ``.venv/bin/python benchmarks/stats.py`` (add ``--group-auroc`` to
also bootstrap the AUROC gap / worst-group AUROC, ``--quick`` for a small run).

1. 200,000 samples (100,000 patients x 2 images), 12 labels, attributes with
   2, 2 and 4 groups, original + one reconstructed condition, B = 1000: the
   whole bootstrap (AUROC and EODD/EODD_max/EOP/DP per label x attribute).
   Targets: <= 60 s and <= 4 GiB peak.
2. Per-resample time on a 10,000-sample subsample (one label, one 4-group
   attribute, both conditions), ours vs fairlearn ``MetricFrame(n_boot=...)``
   (TPR, FPR, selection rate per group, one MetricFrame per condition; fairlearn
   resamples images, not patients, so it does less work).  Target: >= 50x.
"""

from __future__ import annotations

import argparse
import inspect
import resource
import time

import numpy as np

from reconfair.metrics.bootstrap import paired_bootstrap


def make_data(n_patients: int, n_labels: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    patients = np.repeat(np.arange(n_patients), 2)
    n = patients.size
    y = (rng.random((n, n_labels)) < rng.uniform(0.05, 0.4, n_labels)).astype(np.float64)
    y[rng.random((n, n_labels)) < 0.02] = np.nan
    common = 1.2 * np.nan_to_num(y) + rng.normal(0, 1, (n, n_labels))
    original = common + rng.normal(0, 0.3, (n, n_labels))
    recon = common + rng.normal(0, 0.5, (n, n_labels))
    groups = {
        "sex": np.array(["F", "M"])[rng.integers(0, 2, n_patients)][patients],
        "age_group": np.array(["<60", ">=60"])[rng.integers(0, 2, n_patients)][patients],
        "race": np.array(["R1", "R2", "R3", "R4"])[rng.integers(0, 4, n_patients)][patients],
    }
    return {"y_true": y, "score_original": original, "score_recon": recon, "patient_ids": patients,
            "groups": groups, "threshold": np.full(n_labels, 0.6)}


def full_run(n_patients: int, n_boot: int, group_auroc: bool) -> None:
    data = make_data(n_patients, 12)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    cpu = time.process_time()
    start = time.perf_counter()
    table = paired_bootstrap(**data, n_boot=n_boot, seed=0, min_group_size=10, group_auroc=group_auroc)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    n = data["y_true"].shape[0]
    print(f"full bootstrap: {n:,} samples, {n_patients:,} patients, 12 labels, attributes 2/2/4 groups, "
          f"B = {n_boot}, group AUROC {'on' if group_auroc else 'off'}")
    print(f"  statistics: {len(table)} rows ({table['metric'].value_counts().to_dict()})")
    print(f"  time: {seconds:.1f} s wall, {cpu:.1f} s CPU (target <= 60 s wall)")
    print(f"  peak memory: {rss_peak:.2f} GiB process max RSS (target <= 4 GiB; "
          f"{rss_before:.2f} GiB before the bootstrap, data included)")
    print(table.head(6).to_string(index=False))


def per_resample(n_patients: int, fairlearn_boot: int) -> None:
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    data = make_data(n_patients, 1, seed=1)
    keep = ~np.isnan(data["y_true"][:, 0])
    y = data["y_true"][keep, 0]
    preds = [data[k][keep, 0] >= 0.6 for k in ("score_original", "score_recon")]
    race = data["groups"]["race"][keep]
    args = (data["y_true"], data["score_original"], data["score_recon"], data["patient_ids"])
    kwargs = dict(groups={"race": data["groups"]["race"]}, threshold=0.6, min_group_size=10)
    paired_bootstrap(*args, **kwargs, n_boot=10)  # warm-up
    start = time.perf_counter()
    paired_bootstrap(*args, **kwargs, n_boot=1)
    base = time.perf_counter() - start
    start = time.perf_counter()
    paired_bootstrap(*args, **kwargs, n_boot=1000)
    ours = (time.perf_counter() - start - base) / 999

    metrics = {"tpr": true_positive_rate, "fpr": false_positive_rate, "selection_rate": selection_rate}
    supports_boot = "n_boot" in inspect.signature(MetricFrame).parameters

    def fairlearn_time(n_boot: int | None) -> float:
        start = time.perf_counter()
        for pred in preds:
            if n_boot is None:
                MetricFrame(metrics=metrics, y_true=y, y_pred=pred, sensitive_features=race)
            elif supports_boot:
                MetricFrame(metrics=metrics, y_true=y, y_pred=pred, sensitive_features=race,
                            n_boot=n_boot, ci_quantiles=[0.025, 0.975], random_state=0)
            else:  # the straightforward way: resample patients in a Python loop
                rng = np.random.default_rng(0)
                patients = data["patient_ids"][keep]
                for _ in range(n_boot):
                    drawn = rng.integers(0, n_patients, n_patients)
                    idx = np.flatnonzero(np.isin(patients, drawn))
                    MetricFrame(metrics=metrics, y_true=y[idx], y_pred=pred[idx],
                                sensitive_features=race[idx])
        return time.perf_counter() - start

    fl_base = fairlearn_time(None)
    fl = (fairlearn_time(fairlearn_boot) - fl_base) / fairlearn_boot
    how = "MetricFrame(n_boot=..., ci_quantiles=...)" if supports_boot else "loop over MetricFrame"
    print(f"\nper resample, {y.size:,} labelled samples, one label, 4-group attribute, 2 conditions:")
    print(f"  ours: {1e3 * ours:.3f} ms/resample (EODD/EODD_max/EOP/DP + AUROC, patient-level)")
    print(f"  fairlearn {how}: {1e3 * fl:.1f} ms/resample (TPR/FPR/selection rate, image-level)")
    print(f"  ratio: {fl / ours:.0f}x (target >= 50x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group-auroc", action="store_true", help="also bootstrap per-group AUROC")
    parser.add_argument("--quick", action="store_true", help="10,000 patients, B = 200")
    options = parser.parse_args()
    full_run(10_000 if options.quick else 100_000, 200 if options.quick else 1000, options.group_auroc)
    per_resample(5_000, 5 if options.quick else 20)
