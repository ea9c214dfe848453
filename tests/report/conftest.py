"""A tiny study run once for the report tests, and copies of it with hand-made tables.

``mitigated_run``: with mitigation tables.  ``uncertain_run``: the metrics in
the rewritten layout (``test``, ``p_floor``, ``family``, ``significant``,
``mdc`` ... plus ``models.csv`` and ``families.csv``) with the rows of
:data:`PLANTED` set by hand.  ``replicated_run``: the same with three model
replicates in ``replicates_fairness.csv``.
"""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from reconfair.config import StudyConfig

TINY = {
    "name": "tiny-report",
    "seed": 5,
    "device": "cpu",
    "attributes": ["sex", "age_group"],
    "datasets": [
        {
            "name": "synthetic-chest",
            "n_patients": 60,
            "image_size": 32,
            "effects": {"sex": {"F": {"contrast": 0.6}}},
            "degradations": [{"operator": "radiograph-lowdose", "levels": [1e4, 3e3]}],
            "tasks": [{"kind": "classification", "model": {"epochs": 2}}],
        },
        {
            "name": "synthetic-brain",
            "n_patients": 40,
            "image_size": 32,
            "degradations": [{"operator": "mri-undersampling", "levels": [4]}],
            "reconstructors": ["baseline",
                               {"name": "unet", "settings": {"epochs": 1, "features": [4, 8, 8, 8, 8, 4]}}],
            "tasks": [{"kind": "classification", "model": {"epochs": 1}},
                      {"kind": "segmentation", "model": {"epochs": 1}}],
        },
    ],
    "evaluation": {"min_group_size": 2, "bootstrap": 50},
}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished run directory of :data:`TINY` (written by run_study, so with its report)."""
    from reconfair.engine.run import run_study

    out = tmp_path_factory.mktemp("report") / "run"
    run_study(StudyConfig.model_validate(TINY), out, progress=False)
    return out


def mitigation_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hand-made ``mitigation.csv`` and ``lambda_sweep.csv`` in the lead's documented layout."""
    rows = []
    for mitigation, delta in (("reweighting", -0.02), ("eodd:0.316", -0.05)):
        for attribute in ("sex", "age_group"):
            for target in ("effusion", "macro"):
                rows.append({
                    "dataset": "synthetic-chest", "task": "classification", "target": target,
                    "degradation": "radiograph-lowdose", "level": 3000.0, "recon": "unet", "mitigation": mitigation,
                    "attribute": attribute, "metric": "eodd", "value_unmitigated": 0.12,
                    "value_mitigated": 0.12 + delta, "delta": delta, "se": 0.01, "ci_low": delta - 0.02,
                    "ci_high": delta + 0.02, "p_value": 0.01, "p_adjusted": 0.04 if mitigation != "reweighting" else 0.3,
                })
    mitigation = pd.DataFrame(rows)
    sweep = [{"dataset": "synthetic-chest", "degradation": "radiograph-lowdose", "level": 3000.0, "recon": "unet",
              "mitigation_kind": "none", "lam": np.nan, "psnr": 30.0, "auroc": 0.80, "attribute": "sex",
              "eodd": 0.12, "delta_eodd": 0.03, "selected": False}]
    for lam, psnr, auroc, eodd in ((0.1, 29.8, 0.80, 0.10), (0.316, 29.5, 0.79, 0.07), (1.0, 28.0, 0.75, 0.06)):
        sweep.append({**sweep[0], "mitigation_kind": "eodd", "lam": lam, "psnr": psnr, "auroc": auroc, "eodd": eodd,
                      "delta_eodd": eodd - 0.09, "selected": lam == 0.316})
    return mitigation, pd.DataFrame(sweep)


@pytest.fixture(scope="session")
def mitigated_run(tiny_run, tmp_path_factory):
    """A copy of the tiny run (without its cache) with mitigation tables, its report regenerated."""
    from reconfair.report import write_report

    out = tmp_path_factory.mktemp("mitigated") / "run"
    shutil.copytree(tiny_run, out, ignore=shutil.ignore_patterns(".cache"))
    mitigation, sweep = mitigation_frames()
    mitigation.to_csv(out / "metrics" / "mitigation.csv", index=False)
    sweep.to_csv(out / "metrics" / "lambda_sweep.csv", index=False)
    write_report(out)
    return out


# ---------------------------------------------------------------------------------------------------------------
# The rewritten metrics layer's columns, filled in by hand on a copy of the tiny run
# ---------------------------------------------------------------------------------------------------------------

B = 1000
WALD_FLOOR = 1 / (B + 1)
PERCENTILE_FLOOR = 2 / (B + 1)
CHEST, BRAIN = "synthetic-chest", "synthetic-brain"
LOW, HIGH = "radiograph-lowdose@3000/identity", "radiograph-lowdose@10000/identity"
BRAIN_UNET = "mri-undersampling@4/unet"
PLANTED = {
    # name: (table, key, values); key = dataset, task, target, condition, attribute, metric
    "main_big": ("fairness", (CHEST, "classification", "nodule", LOW, "sex", "eodd"),
                 dict(delta=0.247, ci_low=0.142, ci_high=0.351, p_value=WALD_FLOOR, p_adjusted=0.0359,
                      significant=True)),
    "main_small": ("fairness", (CHEST, "classification", "effusion", HIGH, "age_group", "eodd"),
                   dict(delta=-0.12, ci_low=-0.2, ci_high=-0.04, p_value=0.004, p_adjusted=0.02, significant=True)),
    "other": ("fairness", (CHEST, "classification", "cardiomegaly", LOW, "sex", "eop"),
              dict(delta=0.3, ci_low=0.1, ci_high=0.5, p_value=0.001, p_adjusted=0.01, significant=True)),
    # the old bug: an undefined change with a finite CI, p = 0 and significant
    "undefined": ("fairness", (CHEST, "classification", "cardiomegaly", HIGH, "sex", "eodd"),
                  dict(delta=np.nan, value=np.nan, ci_low=0.1, ci_high=0.3, p_value=0.0, p_adjusted=0.0,
                       significant=True, reason="fewer than 2 groups with defined tpr/fpr (1 usable)",
                       uncertainty_reason="delta undefined: fewer than 2 groups with defined tpr/fpr (1 usable)")),
    # significant, but the classifier for tumor_type is uninformative (models.csv)
    "uninformative": ("fairness", (BRAIN, "classification", "tumor_type", BRAIN_UNET, "sex", "eodd"),
                      dict(delta=0.5, ci_low=0.3, ci_high=0.7, p_value=0.0005, p_adjusted=0.001, significant=True)),
    "not_significant": ("fairness", (BRAIN, "segmentation", "tumor", BRAIN_UNET, "sex", "delta_dice"),
                        dict(delta=0.004, ci_low=-0.02, ci_high=0.03, p_value=0.2, p_adjusted=0.4, significant=False,
                             mdc=0.03, mdc_family=0.045)),
    "task": ("performance", (CHEST, "classification", "nodule", LOW, "", "auroc"),
             dict(delta=-0.08, ci_low=-0.12, ci_high=-0.04, p_value=0.002, p_adjusted=0.01, significant=True)),
}
UNINFORMATIVE_REASON = "validation AUROC 0.22 <= 0.55 (at or below chance)"
UNREACHABLE = f"{BRAIN}/classification/sex/eodd"


def _family(record) -> str:
    parts = [record["dataset"], record["task"], record.get("attribute", "") or record["target"], record["metric"]]
    return "/".join(str(p) for p in parts)


def _fill(table: pd.DataFrame, *, tested: pd.Series, test: str, floor: float) -> pd.DataFrame:
    """Defaults: every tested row not significant (p 0.3, p_adj 0.9), mdc by attribute, B = 1000."""
    out = table.copy()
    out["test"] = np.where(tested, test, "")
    out["p_floor"] = np.where(tested, floor, np.nan)
    out["p_value"] = np.where(tested, 0.3, np.nan)
    out["p_adjusted"] = np.where(tested, 0.9, np.nan)
    out["se"] = np.where(tested, 0.02, np.nan)
    out["ci_low"] = np.where(tested, out["delta"] - 0.04, np.nan)
    out["ci_high"] = np.where(tested, out["delta"] + 0.04, np.nan)
    out["significant"] = False
    sex = out.get("attribute", pd.Series("", index=out.index)).eq("sex")
    out["mdc"] = np.where(tested, np.where(sex, 0.056, 0.07), np.nan)
    out["mdc_family"] = np.where(tested, np.where(sex, 0.08, 0.1), np.nan)
    out["family"] = [_family(r) if t else "" for (_, r), t in zip(out.iterrows(), tested)]
    sizes = out[tested].groupby("family").size()
    out["family_size"] = [int(sizes[f]) if f else 0 for f in out["family"]]
    reasons = out.get("reason", pd.Series("", index=out.index)).fillna("")
    undefined = ~np.isfinite(out["delta"].to_numpy(dtype=float))
    out["uncertainty_reason"] = np.where(undefined, "delta undefined: " + reasons.astype(str), "")
    out["n_boot"] = B
    out["n_boot_valid"] = np.where(tested, B, 0)
    out["n_replicates"] = 1
    out["delta_sd_replicates"] = np.nan
    return out


def _plant(table: pd.DataFrame, which: str) -> pd.DataFrame:
    for name, (kind, key, values) in PLANTED.items():
        if kind != which:
            continue
        dataset, task, target, condition, attribute, metric = key
        mask = ((table["dataset"] == dataset) & (table["task"] == task) & (table["target"] == target)
                & (table["condition"] == condition) & (table["metric"] == metric))
        if which == "fairness":
            mask &= table["attribute"] == attribute
        assert mask.sum() == 1, (name, int(mask.sum()))
        wald = metric in ("eodd", "eodd_max", "eop", "dp", "auroc_gap", "delta_dice", "ser")
        defaults = {"test": "wald-gaps" if wald else "percentile", "p_floor": WALD_FLOOR if wald else PERCENTILE_FLOOR,
                    "uncertainty_reason": "", "n_boot_valid": B, "se": 0.02}
        if which == "fairness":  # a defined planted change on whatever the tiny run measured there
            defaults.update(family=_family(dict(zip(("dataset", "task", "target", "condition", "attribute",
                                                     "metric"), key))), value_original=0.1,
                            value=0.1 + values.get("delta", 0.0))
        for column, value in {**defaults, **values}.items():
            if which == "performance" and column == "delta":
                original = table[(table["dataset"] == dataset) & (table["target"] == target)
                                 & (table["condition"] == "original") & (table["metric"] == metric)]["value"]
                table.loc[mask, "value"] = float(original.iloc[0]) + value
                continue
            table.loc[mask, column] = value
    return table


def new_metrics(run_dir) -> dict[str, pd.DataFrame]:
    """The tiny run's metrics/*.csv in the rewritten layout, with the PLANTED rows, models.csv and families.csv."""
    metrics = run_dir / "metrics"
    fairness = pd.read_csv(metrics / "fairness.csv")
    tested = (fairness["condition"] != "original") & np.isfinite(fairness["delta"].to_numpy(dtype=float))
    wald = fairness["metric"].isin(["eodd", "eodd_max", "eop", "dp"])
    fairness = pd.concat([_fill(fairness[wald], tested=tested[wald], test="wald-gaps", floor=WALD_FLOOR),
                          _fill(fairness[~wald], tested=tested[~wald], test="percentile", floor=PERCENTILE_FLOOR)]
                         ).sort_index()
    fairness = _plant(fairness, "fairness")
    performance = pd.read_csv(metrics / "performance.csv")
    task = performance["metric"].isin(["auroc", "dice"]) & (performance["condition"] != "original")
    task &= performance["target"] != "macro"
    filled = _fill(performance.assign(delta=0.0), tested=task, test="percentile", floor=PERCENTILE_FLOOR)
    filled.loc[~performance["metric"].isin(["auroc", "dice"]), [
        "test", "family", "uncertainty_reason"]] = ""
    performance = _plant(filled.drop(columns="delta"), "performance")
    validation = performance[(performance["condition"] == "original") & performance["metric"].isin(["auroc", "dice"])
                             & (performance["target"] != "macro")].copy()
    validation["metric"] = "val_" + validation["metric"]
    validation["value"] = 0.8
    performance = pd.concat([performance, validation], ignore_index=True)
    targets = performance[performance["metric"].isin(["auroc", "dice"]) & (performance["target"] != "macro")][
        ["dataset", "task", "target", "metric"]].drop_duplicates()
    models = targets.assign(val_value=0.8, val_n=20, score_sd=0.2, status="ok", reason="")
    bad = (models["dataset"] == BRAIN) & (models["target"] == "tumor_type")
    models.loc[bad, ["val_value", "status", "reason"]] = [0.22, "uninformative", UNINFORMATIVE_REASON]
    sizes = pd.concat([fairness, performance])
    sizes = sizes[sizes["family"].fillna("").astype(str) != ""].groupby("family").size()
    families = pd.DataFrame({"family": sizes.index, "n_tests": sizes.to_numpy()})
    families = families.assign(adjust="holm", alpha=0.05, first_cut=0.05 / families["n_tests"],
                               min_p_floor=PERCENTILE_FLOOR, reachable=True, n_boot=B, note="")
    unreachable = families["family"] == UNREACHABLE
    families.loc[unreachable, ["n_tests", "first_cut", "min_p_floor", "reachable"]] = [72, 0.05 / 72, WALD_FLOOR,
                                                                                        False]
    for table in (fairness, performance):  # the fixture's own models.csv decides which model is uninformative
        table["model_status"] = np.where((table["dataset"] == BRAIN) & (table["target"] == "tumor_type"),
                                         "uninformative", "ok")
    return {"fairness": fairness, "performance": performance, "models": models, "families": families}


def _copy_with(tiny_run, tmp_path_factory, name: str, tables: dict[str, pd.DataFrame], evaluation: dict,
               **top) -> object:
    """A copy of the tiny run (no cache) with ``metrics/<table>.csv`` replaced, config updated, report rewritten."""
    from reconfair.report import write_report

    out = tmp_path_factory.mktemp(name) / "run"
    shutil.copytree(tiny_run, out, ignore=shutil.ignore_patterns(".cache"))
    for table, frame in tables.items():
        frame.to_csv(out / "metrics" / f"{table}.csv", index=False)
    config = yaml.safe_load((out / "config.yaml").read_text())
    config["evaluation"].update(evaluation)
    config.update(top)
    (out / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    write_report(out)
    return out


@pytest.fixture(scope="session")
def uncertain_run(tiny_run, tmp_path_factory):
    """A copy of the tiny run whose metrics carry the rewritten layer's columns and the PLANTED rows."""
    return _copy_with(tiny_run, tmp_path_factory, "uncertain", new_metrics(tiny_run),
                      {"bootstrap": "auto", "alpha": 0.05, "family": "metric"})


REPLICATE_OFFSETS = (-0.03, 0.01, 0.05)


@pytest.fixture(scope="session")
def replicated_run(tiny_run, tmp_path_factory):
    """A copy with K = 3 model replicates: replicates_fairness.csv made by hand, fairness.csv without the
    spread columns (so the report computes the sd from the replicate file)."""
    tables = new_metrics(tiny_run)
    fairness = tables["fairness"].drop(columns=["n_replicates", "delta_sd_replicates"])
    replicas = []
    for r, offset in enumerate(REPLICATE_OFFSETS):
        scale = 1 + r  # spreads differ by row: offset x (1 + replicate) x row number
        part = fairness.assign(replicate=r)
        part["delta"] = fairness["delta"] + offset * scale * (1 + np.arange(len(fairness)) % 3)
        replicas.append(part)
    tables["fairness"] = fairness
    tables["replicates_fairness"] = pd.concat(replicas, ignore_index=True)
    return _copy_with(tiny_run, tmp_path_factory, "replicated", tables, {"bootstrap": 1000}, replicates=3)


@pytest.fixture(scope="session")
def layout():
    """The hand-made values behind uncertain_run and replicated_run, for tests to check the report against."""
    return SimpleNamespace(planted=PLANTED, b=B, wald_floor=WALD_FLOOR, percentile_floor=PERCENTILE_FLOOR,
                           chest=CHEST, brain=BRAIN, low=LOW, high=HIGH, brain_unet=BRAIN_UNET,
                           uninformative_reason=UNINFORMATIVE_REASON, unreachable=UNREACHABLE,
                           offsets=REPLICATE_OFFSETS)


VOID = {"br", "img", "meta", "link", "input", "hr"}


class _Elements(HTMLParser):
    """Every element of a page as (tag, attrs, text inside it, inner HTML start offset), in document order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self.stack = [], []

    def handle_starttag(self, tag, attrs):
        entry = {"tag": tag, "attrs": dict(attrs), "text": [], "children": []}
        if self.stack:
            self.stack[-1]["children"].append(entry)
        self.found.append(entry)
        if tag not in VOID:
            self.stack.append(entry)

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for entry in self.stack:
            entry["text"].append(data)


def elements(html: str, tag: str, within: str | None = None, **attrs) -> list[dict]:
    """The page's ``tag`` elements whose attributes include ``attrs``; each with ``text`` (all text inside),
    ``attrs`` and ``children`` (dicts alike).  ``within``: only inside the (unnested) element of that id."""
    if within is not None:
        start = html.index(f'id="{within}"')
        opening = html.rindex("<", 0, start)
        name = html[opening + 1:start].split()[0]
        html = html[opening:html.index(f"</{name}>", start) + len(name) + 3]
    parser = _Elements()
    parser.feed(html)

    def finish(entry):
        entry["text"] = "".join(entry["text"]) if isinstance(entry["text"], list) else entry["text"]
        for child in entry["children"]:
            finish(child)
        return entry

    wanted = {k.rstrip("_"): v for k, v in attrs.items()}
    return [finish(e) for e in parser.found if e["tag"] == tag
            and all(e["attrs"].get(k) == v for k, v in wanted.items())]


@pytest.fixture(scope="session")
def find():
    """``find(html, tag, **attrs)``: the matching elements of a page (see :func:`elements`)."""
    return elements
