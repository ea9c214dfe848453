"""`group_size_warnings`: groups of the evaluation split with too few positives, negatives or samples."""

from __future__ import annotations

import re

import pytest

from reconfair.config import StudyConfig
from reconfair.engine.datasets import build_dataset
from reconfair.engine.plan import group_size_warnings

STUDY = {
    "name": "tiny-groups",
    "seed": 2,
    "attributes": ["sex", "race"],
    "datasets": [
        {"name": "synthetic-chest", "n_patients": 60, "image_size": 32,
         "tasks": [{"kind": "classification"}]},
        {"name": "synthetic-brain", "n_patients": 40, "image_size": 32,
         "tasks": [{"kind": "classification"}, {"kind": "segmentation"}]},
    ],
    "evaluation": {"min_group_size": 3},
}
INTERSECTION = "sex*age_group"  # not a study attribute the config accepts yet: set past validation below
PATTERN = re.compile(r"^(?P<dataset>[\w-]+): (?P<attribute>\S+) (?P<group>\S+) has (?P<n>\d+) "
                     r"(?P<what>positives|negatives|samples)"
                     r"(?: of (?P<target>\w+))? in the (?P<split>\w+) split \(min_group_size (?P<minimum>\d+)\): "
                     r"it will not enter (?P<consequence>.+) there$")


def _expected(config: StudyConfig) -> set[tuple]:
    """Counted here with one groupby per attribute, independently of the function."""
    minimum, split = config.evaluation.min_group_size, config.evaluation.split
    found = set()
    for dataset in config.datasets:
        table = build_dataset(dataset, seed=config.seed).table
        test = table[table["split"] == split].copy()
        test["sex×age_group"] = test["attr_sex"] + "×" + test["attr_age_group"]
        kinds = {task.kind for task in dataset.tasks}
        for attribute, column in (("sex", "attr_sex"), ("race", "attr_race"), ("sex×age_group", "sex×age_group")):
            labels = [c for c in test.columns if c.startswith("label_")]
            positives = test.groupby(column)[labels].agg(lambda x: int(x.eq(1).sum()))
            negatives = test.groupby(column)[labels].agg(lambda x: int(x.eq(0).sum()))
            for group in positives.index:
                for label in labels:
                    for what, counts in (("positives", positives), ("negatives", negatives)):
                        if counts.loc[group, label] < minimum:
                            found.add((dataset.name, attribute, group, label.removeprefix("label_"), what,
                                       int(counts.loc[group, label])))
            if "segmentation" in kinds:
                for group, n in test.groupby(column).size().items():
                    if n < minimum:
                        found.add((dataset.name, attribute, group, None, "samples", int(n)))
    return found


def _config(min_group_size: int = 3) -> StudyConfig:
    config = StudyConfig.model_validate({**STUDY, "evaluation": {"min_group_size": min_group_size}})
    return config.model_copy(update={"attributes": (*config.attributes, INTERSECTION)})


def test_warnings_name_exactly_the_small_groups():
    config = _config()
    warnings = group_size_warnings(config)
    parsed = [PATTERN.match(w) for w in warnings]
    assert all(parsed), [w for w, m in zip(warnings, parsed) if m is None]
    got = {(m["dataset"], m["attribute"], m["group"], m["target"], m["what"], int(m["n"])) for m in parsed}
    expected = _expected(config)
    assert got == expected and len(warnings) == len(expected)
    # the counts above include warned and unwarned groups on both data sets, and every kind of warning
    assert {w for _, _, _, _, w, _ in expected} == {"positives", "negatives", "samples"}
    assert {d for d, *_ in expected} == {"synthetic-chest", "synthetic-brain"}
    consequences = {m["what"]: m["consequence"] for m in parsed}
    assert consequences == {"positives": "TPR (EODD, EOP)", "negatives": "FPR (EODD)", "samples": "the Dice gap"}
    assert all(m["split"] == "test" and m["minimum"] == "3" for m in parsed)


@pytest.mark.parametrize("minimum", [1, 10_000])
def test_other_minimums(minimum):
    config = _config(minimum)
    got = {(m["dataset"], m["attribute"], m["group"], m["target"], m["what"], int(m["n"]))
           for m in map(PATTERN.match, group_size_warnings(config))}
    assert got == _expected(config)
    if minimum == 1:  # only the empty counts
        assert got and all(n == 0 for *_, n in got)
    else:  # every group of the brain set: 2 targets x (positives, negatives) + the Dice gap
        table = build_dataset(config.datasets[1], seed=2).table
        groups = table[table["split"] == "test"].groupby("attr_race").ngroups
        assert sum(d == "synthetic-brain" and a == "race" for d, a, *_ in got) == groups * (2 * 2 + 1)


def test_the_documented_sentence():
    config = _config()
    table = build_dataset(config.datasets[1], seed=2).table
    test = table[table["split"] == "test"]
    r3 = test[test["attr_race"] == "R3"]
    n = int((r3["label_tumor_grade"] == 1).sum())
    assert n < 3, "the fixture must keep R3 short of tumor_grade positives"
    assert (f"synthetic-brain: race R3 has {n} positives of tumor_grade in the test split (min_group_size 3): "
            "it will not enter TPR (EODD, EOP) there") in group_size_warnings(config)


def test_reconfair_plan_prints_the_warnings(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from reconfair.cli import app

    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    result = CliRunner().invoke(app, ["plan", str(path), "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    warned = [line.removeprefix("warning: ") for line in result.stderr.splitlines() if line.startswith("warning: ")]
    config = StudyConfig.model_validate(STUDY)
    assert warned == group_size_warnings(config) and len(warned) > 0
