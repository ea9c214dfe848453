"""Simulated replicate studies: the size, power and coverage of the bias-change tests, against a reference.

Each replicate is a study of ``n_patients`` patients (one image each) in two
groups of a sensitive attribute, a classifier's scores on the original and on
the reconstructed images, and a segmenter's Dice on both.  Three designs:

- ``null``: identical groups; the reconstruction adds the same noise to
  everyone (scores ``s' = s + 0.7 xi``; Dice lowered alike).  Every true
  change of a group gap is 0.
- ``inherent``: the groups differ on the original images (scores ``s = y mu_g
  + e`` with ``mu_F = 1``, ``mu_M = 2``; mean Dice 0.72 against 0.81), and the
  reconstruction redraws the noise (correlation 0.7) without changing any
  group's distribution: the inherent gaps stay, their true change is 0.
- ``planted``: identical groups; the reconstruction adds more noise to group
  M (sd 1.5 against 0.2): true change of EODD +0.108, of EOP +0.108, of DP 0;
  and lowers group F's Dice more (true change of the Dice gap from the
  closed form below).

Scores are ``s = y mu_g + e`` with ``e ~ N(0, 1)``, prevalence 1/2, and the
threshold 0.75 (``mu / 2``) held fixed, so every true rate has a closed form,
e.g. ``TPR_g = Phi((mu_g - 0.75) / sqrt(1 + sd_g^2))``.  Dice per sample is
``Phi(a_g + 0.5 z)``, with mean ``Phi(a_g / sqrt(1.25))``.

:func:`reference_tests` is the independent reference the bootstrap tests are
compared with: the Wald test of the change of the signed gaps with the
analytic (binomial, independent groups) variance of each gap, ``chi^2`` with
2 degrees of freedom for EODD (TPR and FPR gaps), 1 for EOP, DP and the Dice
gap.  :func:`simulate` runs replicates and :func:`summarize` gives, per design
and metric, the rejection rate at ``alpha`` of ours and of the reference, the
coverage of our 95 % CI of the true change, the mean minimum detectable change,
the true change, and the coverage of the CI of the signed gap change M - F
(``gap_coverage``; EOP, DP, Dice gap).

Examples
--------
>>> rows = simulate("planted", n_replicates=2, n_patients=200, n_boot=100, seed=0, group_auroc=True)
>>> sorted(rows["metric"].unique())  # doctest: +NORMALIZE_WHITESPACE
['auroc', 'auroc_gap', 'delta_dice', 'dice', 'dp', 'eodd', 'eodd_max', 'eop', 'ser', 'worst_group_auroc']
>>> round(float(rows.loc[rows["metric"] == "eodd", "truth"].iloc[0]), 3)
0.108
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

from reconfair.metrics.bootstrap import paired_bootstrap
from reconfair.metrics.bootstrap_segmentation import paired_dice_bootstrap
from reconfair.metrics.families import minimum_detectable_change
from reconfair.seeding import numpy_generator

__all__ = ["DESIGNS", "THRESHOLD", "Design", "simulate", "summarize", "reference_tests", "true_changes",
           "true_gap_changes"]

THRESHOLD = 0.75
"""The fixed decision threshold of every simulated classifier."""
GROUPS = ("F", "M")


@dataclass(frozen=True)
class Design:
    """Parameters of one simulated design (group order ``F``, ``M``)."""

    name: str
    mu: tuple[float, float]
    """Score separation ``mu_g`` of each group: ``s = y mu_g + e``."""
    added_sd: tuple[float, float]
    """Noise the reconstruction adds to each group's scores (0 with ``redraw``)."""
    redraw: float
    """Correlation of the reconstructed noise with the original (``redraw`` design), or 0 (added noise)."""
    dice: tuple[float, float]
    """Location ``a_g`` of Dice ``Phi(a_g + 0.5 z)`` on the original images."""
    dice_drop: tuple[float, float]
    """How much the reconstruction lowers each group's location."""


DESIGNS = {
    "null": Design("null", (1.5, 1.5), (0.7, 0.7), 0.0, (1.0, 1.0), (0.3, 0.3)),
    "inherent": Design("inherent", (1.0, 2.0), (0.0, 0.0), 0.7, (0.7, 1.1), (0.0, 0.0)),
    "planted": Design("planted", (1.5, 1.5), (0.2, 1.5), 0.0, (1.0, 1.0), (0.6, 0.2)),
}
"""The three designs of the module docs, by name."""


def _rates(mu: float, sd: float) -> tuple[float, float]:
    total = np.sqrt(1.0 + sd**2)
    return float(norm.cdf((mu - THRESHOLD) / total)), float(norm.cdf(-THRESHOLD / total))


def true_changes(design: Design) -> dict[str, float]:
    """The true change of each fairness metric and of mean Dice, from the closed forms of the module docs.

    >>> round(true_changes(DESIGNS["planted"])["eodd"], 4), true_changes(DESIGNS["inherent"])["eodd"]
    (0.1077, 0.0)
    """
    before = [_rates(mu, 0.0) for mu in design.mu]
    after = [_rates(mu, sd) for mu, sd in zip(design.mu, design.added_sd)]

    def fairness(rates: list[tuple[float, float]]) -> dict[str, float]:
        d_tpr = abs(rates[0][0] - rates[1][0])
        d_fpr = abs(rates[0][1] - rates[1][1])
        selection = [0.5 * (tpr + fpr) for tpr, fpr in rates]
        return {"eodd": 0.5 * (d_tpr + d_fpr), "eodd_max": max(d_tpr, d_fpr), "eop": d_tpr,
                "dp": abs(selection[0] - selection[1])}

    out = {k: fairness(after)[k] - fairness(before)[k] for k in ("eodd", "eodd_max", "eop", "dp")}
    if design.redraw:  # the redrawn noise leaves every distribution as it was
        out = dict.fromkeys(out, 0.0)
    mean_dice = [float(norm.cdf(a / np.sqrt(1.25))) for a in design.dice]
    recon_dice = [float(norm.cdf((a - d) / np.sqrt(1.25))) for a, d in zip(design.dice, design.dice_drop)]
    out["delta_dice"] = abs(recon_dice[0] - recon_dice[1]) - abs(mean_dice[0] - mean_dice[1])
    ser = [(1 - min(d)) / (1 - max(d)) for d in (mean_dice, recon_dice)]
    out["ser"] = ser[1] - ser[0]
    out["dice"] = float(np.mean(recon_dice) - np.mean(mean_dice))
    # binormal AUROC of s = y mu + e (+ sd xi): Phi(mu / sqrt(2 (1 + sd^2)))
    auc_before = [float(norm.cdf(mu / np.sqrt(2.0))) for mu in design.mu]
    auc_after = [float(norm.cdf(mu / np.sqrt(2.0 * (1 + sd**2)))) for mu, sd in zip(design.mu, design.added_sd)]
    if design.redraw:
        auc_after = auc_before
    out["auroc"] = 0.0 if design.redraw else float("nan")  # overall AUROC: a mixture, no closed form needed
    out["auroc_gap"] = abs(auc_after[0] - auc_after[1]) - abs(auc_before[0] - auc_before[1])
    out["worst_group_auroc"] = min(auc_after) - min(auc_before)
    return out


def true_gap_changes(design: Design) -> dict[str, float]:
    """The true change of the signed gap M - F behind EOP (TPR), DP (selection rate) and the Dice gap.

    >>> round(true_gap_changes(DESIGNS["planted"])["eop"], 4)
    -0.1077
    """
    before = [_rates(mu, 0.0) for mu in design.mu]
    after = before if design.redraw else [_rates(mu, sd) for mu, sd in zip(design.mu, design.added_sd)]
    selection = [[0.5 * (tpr + fpr) for tpr, fpr in rates] for rates in (before, after)]
    dice = [[float(norm.cdf((a - d) / np.sqrt(1.25))) for a, d in zip(design.dice, drops)]
            for drops in ((0.0, 0.0), design.dice_drop)]
    return {"eop": (after[1][0] - after[0][0]) - (before[1][0] - before[0][0]),
            "dp": (selection[1][1] - selection[1][0]) - (selection[0][1] - selection[0][0]),
            "delta_dice": (dice[1][1] - dice[1][0]) - (dice[0][1] - dice[0][0])}


def _study(design: Design, n_patients: int, seed: int) -> dict[str, np.ndarray]:
    rng = numpy_generator(seed, "calibration", design.name)
    group = np.arange(n_patients) % 2
    y = (rng.random(n_patients) < 0.5).astype(np.float64)
    mu = np.asarray(design.mu)[group]
    noise = rng.standard_normal(n_patients)
    original = y * mu + noise
    if design.redraw:
        recon = y * mu + design.redraw * noise + np.sqrt(1 - design.redraw**2) * rng.standard_normal(n_patients)
    else:
        recon = original + np.asarray(design.added_sd)[group] * rng.standard_normal(n_patients)
    a = np.asarray(design.dice)[group]
    z = rng.standard_normal(n_patients)
    dice = norm.cdf(a + 0.5 * z)
    z_recon = 0.7 * z + np.sqrt(1 - 0.7**2) * rng.standard_normal(n_patients)
    dice_recon = norm.cdf(a - np.asarray(design.dice_drop)[group] + 0.5 * z_recon)
    return {"y": y, "original": original, "recon": recon, "dice": dice, "dice_recon": dice_recon,
            "groups": np.asarray(GROUPS)[group]}


def _gap_z(change: np.ndarray, members: list[np.ndarray]) -> tuple[float, float]:
    """The change of the gap between two groups' means of ``change`` and its analytic variance."""
    means = [float(change[m].mean()) for m in members]
    variances = [float(change[m].var(ddof=1)) / m.sum() for m in members]
    return means[0] - means[1], variances[0] + variances[1]


def reference_tests(study: dict[str, np.ndarray]) -> dict[str, float]:
    """The signed-gap Wald p-values with analytic variances (the independent reference; see the module docs)."""
    y, groups = study["y"], study["groups"]
    pred = [(study[c] >= THRESHOLD).astype(np.float64) for c in ("original", "recon")]
    change = pred[1] - pred[0]
    out = {}
    parts = {}
    for name, mask in (("tpr", y == 1), ("fpr", y == 0), ("selection_rate", np.ones_like(y, dtype=bool))):
        parts[name] = _gap_z(change, [mask & (groups == g) for g in GROUPS])

    def wald(names: tuple[str, ...]) -> float:
        terms = [parts[n][0] ** 2 / parts[n][1] for n in names if parts[n][1] > 0]
        return float(chi2.sf(sum(terms), len(terms))) if terms else 1.0

    out["eodd"] = out["eodd_max"] = wald(("tpr", "fpr"))
    out["eop"] = wald(("tpr",))
    out["dp"] = wald(("selection_rate",))
    gap, variance = _gap_z(study["dice_recon"] - study["dice"], [groups == g for g in GROUPS])
    out["delta_dice"] = float(chi2.sf(gap**2 / variance, 1))
    return out


def simulate(design: str, *, n_replicates: int, n_patients: int = 800, n_boot: int = 500, seed: int = 0,
             alpha: float = 0.05, power: float = 0.8, group_auroc: bool = False) -> pd.DataFrame:
    """One row per replicate x metric: our delta, CI, p and mdc, the reference p, and the true change.

    ``group_auroc`` adds the AUROC gap and worst-group AUROC (about 4x slower).
    """
    if design not in DESIGNS:
        raise ValueError(f"unknown design {design!r}; expected one of {tuple(DESIGNS)}")
    spec = DESIGNS[design]
    truth, gap_truth = true_changes(spec), true_gap_changes(spec)
    rows = []
    for replicate in range(n_replicates):
        study = _study(spec, n_patients, seed * 100_003 + replicate)
        patients = np.arange(n_patients)
        classification = paired_bootstrap(study["y"], study["original"], study["recon"], patients,
                                          groups={"sex": study["groups"]}, threshold=THRESHOLD, n_boot=n_boot,
                                          seed=replicate, group_auroc=group_auroc)
        segmentation = paired_dice_bootstrap(study["dice"], study["dice_recon"], patients,
                                             groups={"sex": study["groups"]}, n_boot=n_boot, seed=replicate)
        reference = reference_tests(study)
        for record in pd.concat([classification, segmentation]).to_dict("records"):
            metric = record["metric"]
            rows.append({"design": design, "replicate": replicate, "metric": metric, "delta": record["delta"],
                         "ci_low": record["ci_low"], "ci_high": record["ci_high"], "p_value": record["p_value"],
                         "test": record["test"], "se": record["se"], "p_reference": reference.get(metric, np.nan),
                         "truth": truth[metric], "gap": record["gap"], "gap_change": record["gap_change"],
                         "gap_ci_low": record["gap_ci_low"], "gap_ci_high": record["gap_ci_high"],
                         "gap_truth": gap_truth.get(metric, np.nan)})
    out = pd.DataFrame(rows)
    out["mdc"] = minimum_detectable_change(out["se"].to_numpy(), alpha=alpha, power=power)
    return out


def summarize(rows: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Per design x metric: rejection rates (ours, reference), CI coverage of the truth, mean mdc, truth."""
    def one(part: pd.DataFrame) -> pd.Series:
        tested = part["p_value"].notna()
        covered = (part["ci_low"] <= part["truth"]) & (part["truth"] <= part["ci_high"])
        return pd.Series({
            "replicates": int(len(part)),
            "tested": int(tested.sum()),
            "rejection": float((part.loc[tested, "p_value"] < alpha).mean()),
            "rejection_reference": float((part["p_reference"] < alpha).mean()) if part["p_reference"].notna().any()
            else np.nan,
            "coverage": float(covered[part["ci_low"].notna()].mean()) if np.isfinite(part["truth"].iloc[0])
            else np.nan,
            "mean_mdc": float(part["mdc"].mean()),
            "truth": float(part["truth"].iloc[0]),
            "gap_coverage": float(((part["gap_ci_low"] <= part["gap_truth"])
                                   & (part["gap_truth"] <= part["gap_ci_high"]))[part["gap_ci_low"].notna()].mean())
            if np.isfinite(part["gap_truth"].iloc[0]) else np.nan,
        })

    return rows.groupby(["design", "metric"], sort=False).apply(one, include_groups=False).reset_index()
