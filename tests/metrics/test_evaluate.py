"""evaluate(): thresholds from val/original held fixed, deltas, tables, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from reconfair.metrics import evaluate

NOISY = "radiograph-lowdose@3000/identity"
SEX = ["F", "F", "F", "F", "M", "M", "M", "M"]
AGE = ["young", "old"] * 4
# Classification scores per (split, condition) for target "nodule".
NODULE_Y = {"val": [0, 0, 1, 1], "test": [1, 1, 0, 0, 1, 1, 0, 0]}
NODULE = {
    ("val", "original"): [0.2, 0.4, 0.5, 0.9],  # equal-error threshold 0.5
    ("val", NOISY): [0.6, 0.7, 0.8, 0.95],  # would give 0.8: must not be used
    ("test", "original"): [0.9, 0.6, 0.3, 0.1, 0.8, 0.55, 0.45, 0.2],
    ("test", NOISY): [0.95, 0.8, 0.7, 0.3, 0.9, 0.7, 0.75, 0.6],  # refit here would give 0.75
}
EFFUSION_Y = {"val": [1, 0, 1, 0], "test": [1, 0, 1, 0, 1, 0, 1, 0]}
EFFUSION = {
    ("val", "original"): [0.7, 0.2, 0.6, 0.3],
    ("val", NOISY): [0.7, 0.2, 0.6, 0.3],
    ("test", "original"): [0.8, 0.3, 0.4, 0.5, 0.9, 0.1, 0.6, 0.2],
    ("test", NOISY): [0.6, 0.3, 0.4, 0.5, 0.9, 0.45, 0.6, 0.2],
}
DICE = {"original": [0.9, 0.8, 0.7, 0.6, 0.5, 0.5, 0.4, 0.6], NOISY: [0.8, 0.8, 0.6, 0.6, 0.4, 0.4, 0.3, 0.5]}
PSNR = [30.0, np.inf, 28.0, 26.0, 31.0, 29.0, 27.0, 25.0]


def _rows(split: str, condition: str, task: str, target: str, y: list, scores: list, dice: list) -> pd.DataFrame:
    n = len(scores) if scores else len(dice)
    noisy = condition != "original"
    return pd.DataFrame({
        "sample_id": [f"{split}{i}" for i in range(n)],
        "patient_id": [f"p-{split}{i}" for i in range(n)],
        "split": split, "dataset": "toy", "task": task, "target": target, "condition": condition,
        "recon": "identity" if noisy else "none",
        "degradation": "radiograph-lowdose" if noisy else "none",
        "level": 3000.0 if noisy else np.nan, "mitigation": "none", "seed": 0,
        "y_true": np.asarray(y, dtype=float) if y else np.nan,
        "y_score": np.asarray(scores, dtype=float) if scores else np.nan,
        "dice": np.asarray(dice, dtype=float) if dice else np.nan,
        "psnr": PSNR[:n] if noisy else np.nan, "ssim": 0.9 if noisy else np.nan,
        "nrmse": 0.1 if noisy else np.nan,
        "attr_sex": SEX[:n], "attr_age_group": AGE[:n],
    })


def _table() -> pd.DataFrame:
    parts = []
    for (split, condition), scores in NODULE.items():
        parts.append(_rows(split, condition, "classification", "nodule", NODULE_Y[split], scores, []))
        parts.append(_rows(split, condition, "classification", "effusion", EFFUSION_Y[split],
                           EFFUSION[(split, condition)], []))
    for condition, dice in DICE.items():
        parts.append(_rows("test", condition, "segmentation", "tumor", [], [], dice))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def tables():
    return evaluate(_table(), attributes=["sex", "attr_age_group"], min_group_size=1)


def _one(frame: pd.DataFrame, **where: object) -> pd.Series:
    mask = np.logical_and.reduce([frame[k] == v for k, v in where.items()])
    assert mask.sum() == 1, where
    return frame.loc[mask].iloc[0]


def test_threshold_from_val_original_is_held_fixed(tables) -> None:
    perf = tables.performance
    nodule = perf[(perf["target"] == "nodule") & (perf["metric"] == "auroc")]
    assert nodule["threshold"].tolist() == [0.5, 0.5]
    groups = tables.groups
    noisy = groups[(groups["target"] == "nodule") & (groups["condition"] == NOISY) & (groups["attribute"] == "sex")]
    # at the fixed 0.5: F FPR 1/2, M FPR 2/2; a threshold refitted on these rows (0.75) gives 0 and 1
    assert noisy["fpr"].tolist() == [0.5, 1.0]
    assert noisy["tpr"].tolist() == [1.0, 1.0]
    assert (noisy["threshold"] == 0.5).all()
    assert str(groups["tp"].dtype) == "Int64" and groups["n"].tolist() == [4] * len(groups) * 1
    assert _one(tables.fairness, target="nodule", attribute="sex", metric="dp", condition=NOISY)["value"] == 0.25


def test_performance_values(tables) -> None:
    perf = tables.performance
    for condition in ("original", NOISY):
        y = np.array(NODULE_Y["test"], dtype=float)
        nodule = roc_auc_score(y, NODULE[("test", condition)])
        effusion = roc_auc_score(EFFUSION_Y["test"], EFFUSION[("test", condition)])
        assert _one(perf, target="nodule", metric="auroc", condition=condition)["value"] == pytest.approx(nodule)
        macro = _one(perf, target="macro", metric="auroc", condition=condition)
        assert macro["value"] == pytest.approx((nodule + effusion) / 2, abs=1e-12) and macro["n"] == 2
        dice = _one(perf, target="tumor", metric="dice", condition=condition)
        assert dice["value"] == pytest.approx(np.mean(DICE[condition])) and dice["n"] == 8
    psnr = _one(perf, target="nodule", metric="psnr", condition=NOISY)
    finite = [v for v in PSNR if np.isfinite(v)]
    assert psnr["value"] == pytest.approx(np.mean(finite)) and (psnr["n"], psnr["n_excluded"]) == (7, 1)
    original_psnr = _one(perf, target="nodule", metric="psnr", condition="original")
    assert np.isnan(original_psnr["value"]) and original_psnr["n_excluded"] == 8
    assert set(perf["level"].dropna()) == {3000.0}


def test_fairness_deltas(tables) -> None:
    fair = tables.fairness
    finite = fair["value_original"].notna() & fair["value"].notna()
    np.testing.assert_allclose(fair.loc[finite, "delta"], fair.loc[finite, "value"] - fair.loc[finite, "value_original"])
    original = fair[fair["condition"] == "original"]
    assert (original["delta"].dropna() == 0).all()
    worst = _one(fair, target="nodule", attribute="sex", metric="worst_group_auroc", condition=NOISY)
    assert (worst["value_original"], worst["value"]) == (1.0, 0.75)
    assert worst["delta"] == pytest.approx(-0.25) and worst["delta_pct"] == pytest.approx(-25.0)
    dp = _one(fair, target="nodule", attribute="sex", metric="dp", condition=NOISY)
    assert dp["value_original"] == 0.0 and np.isnan(dp["delta_pct"])
    eodd = _one(fair, target="nodule", attribute="sex", metric="eodd", condition=NOISY)
    assert eodd["value"] == pytest.approx(0.25)  # (dTPR 0 + dFPR 0.5) / 2
    ddice = _one(fair, target="tumor", attribute="sex", metric="delta_dice", condition=NOISY)
    assert ddice["value"] == pytest.approx(0.7 - 0.4) and ddice["value_original"] == pytest.approx(0.75 - 0.5)
    ser = _one(fair, target="tumor", attribute="sex", metric="ser", condition="original")
    assert ser["value"] == pytest.approx(0.5 / 0.25)
    expected_metrics = {"eodd", "eodd_max", "eop", "dp", "auroc_gap", "worst_group_auroc", "delta_dice", "ser"}
    assert set(fair["metric"]) == expected_metrics
    assert set(fair["attribute"]) == {"sex", "age_group"}


def test_exclusions_are_reported() -> None:
    table = _table()
    table.loc[table["sample_id"] == "test0", "attr_sex"] = "X"  # a group of one
    fair = evaluate(table, attributes=["sex"], min_group_size=2).fairness
    row = _one(fair, target="nodule", metric="dp", condition="original")
    assert row["excluded"] == "X: n=1 < min_group_size=2" and row["n_groups"] == 2
    # TPR counts positives: group F keeps 1 positive of nodule once test0 has moved to X
    row = _one(fair, target="nodule", metric="eop", condition="original")
    assert row["excluded"] == "F: n_pos=1 < min_group_size=2; X: n_pos=1 < min_group_size=2"
    assert row["n_groups"] == 1 and np.isnan(row["value"]) and row["reason"].startswith("fewer than 2 groups")


def test_order_independent_and_csv_round_trip(tables, tmp_path: Path) -> None:
    shuffled = _table().sample(frac=1.0, random_state=0)
    again = evaluate(shuffled, attributes=["sex", "age_group"], min_group_size=1)
    for name in ("performance", "groups", "fairness"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(tables, name))
    folder = tables.to_csv(tmp_path / "metrics")
    assert folder == tmp_path / "metrics"
    read = pd.read_csv(folder / "fairness.csv", keep_default_na=False, na_values=[""])
    assert len(read) == len(tables.fairness)
    np.testing.assert_allclose(read["value"], tables.fairness["value"], equal_nan=True, rtol=0, atol=0)
    assert {p.name for p in folder.iterdir()} == {"performance.csv", "groups.csv", "fairness.csv"}


def test_threshold_per_seed() -> None:
    first = _table()
    second = first.assign(seed=1)
    val_original = (second["split"] == "val") & (second["condition"] == "original") & (second["target"] == "nodule")
    second.loc[val_original, "y_score"] = [0.1, 0.2, 0.3, 0.9]  # threshold 0.3 for seed 1
    perf = evaluate(pd.concat([first, second]), attributes=["sex"], min_group_size=1).performance
    rows = perf[(perf["target"] == "nodule") & (perf["metric"] == "auroc")]
    assert rows.groupby("seed")["threshold"].unique().map(list).to_dict() == {0: [0.5], 1: [0.3]}


def test_errors_name_the_culprit() -> None:
    table = _table()
    with pytest.raises(ValueError, match="y_score"):
        evaluate(table.drop(columns="y_score"), attributes=["sex"])
    with pytest.raises(ValueError, match="'condition'"):
        evaluate(table.drop(columns="condition"), attributes=["sex"])
    with pytest.raises(ValueError, match=r"unknown attribute 'race'.*\['attr_sex', 'attr_age_group'\]"):
        evaluate(table, attributes=["race"])
    with pytest.raises(ValueError, match="attributes: expected a sequence"):
        evaluate(table, attributes="sex")
    no_val = table[~((table["split"] == "val") & (table["target"] == "effusion"))]
    with pytest.raises(ValueError, match="split == 'val' and condition == 'original'.*effusion"):
        evaluate(no_val, attributes=["sex"])
    one_class = table.copy()
    one_class.loc[(one_class["split"] == "val") & (one_class["target"] == "nodule"), "y_true"] = 1.0
    with pytest.raises(ValueError, match="nodule.*no negative labels"):
        evaluate(one_class, attributes=["sex"])
    no_original = table[~((table["split"] == "test") & (table["condition"] == "original") & (table["target"] == "tumor"))]
    with pytest.raises(ValueError, match="condition == 'original'.*tumor"):
        evaluate(no_original, attributes=["sex"])
    with pytest.raises(ValueError, match="splits present"):
        evaluate(table, attributes=["sex"], split="holdout")
    bad_label = table.copy()
    bad_label.loc[(bad_label["split"] == "test") & (bad_label["target"] == "effusion"), "y_true"] = 2.0
    with pytest.raises(ValueError, match="target='effusion'.*0, 1 or NaN"):
        evaluate(bad_label, attributes=["sex"])
    bad_task = table.assign(task=table["task"].replace("segmentation", "detection"))
    with pytest.raises(ValueError, match="detection"):
        evaluate(bad_task, attributes=["sex"])


def test_segmentation_only_without_optional_columns() -> None:
    table = _table()
    seg = table[table["task"] == "segmentation"].drop(columns=["psnr", "ssim", "nrmse", "mitigation", "seed"])
    result = evaluate(seg, attributes=["sex"], min_group_size=1)
    assert result.performance["metric"].tolist() == ["dice", "dice"]
    assert result.performance["n"].dtype.kind == "i" and result.performance["value"].dtype.kind == "f"
    assert set(result.fairness["metric"]) == {"delta_dice", "ser"}
    assert "mitigation" not in result.fairness.columns


def test_settings_or_keywords_give_the_same_tables() -> None:
    from reconfair.metrics.settings import EvaluationSettings

    table = _table()
    settings = EvaluationSettings(attributes=("sex",), min_group_size=1, threshold="refit")
    by_settings = evaluate(table, settings)
    by_keywords = evaluate(table, attributes=["sex"], min_group_size=1, threshold="refit")
    pd.testing.assert_frame_equal(by_settings.fairness, by_keywords.fairness)
    with pytest.raises(TypeError, match="not both"):
        evaluate(table, settings, split="test")
    with pytest.raises(TypeError, match=r"unexpected keyword\(s\) \['bootstrap'\]"):
        evaluate(table, attributes=["sex"], bootstrap=10)
    with pytest.raises(ValueError, match="min_group_size: expected a positive integer"):
        evaluate(table, attributes=["sex"], min_group_size=0)
