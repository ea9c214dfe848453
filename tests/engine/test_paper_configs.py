"""The study's grids ship as configs/paper-*.yaml: they validate and describe the study's design."""

from pathlib import Path

import pytest

from reconfair.config import dump_config, load_config, parse_config
from reconfair.engine.conditions import dataset_conditions

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("name, levels, targets, tasks", [
    ("paper-chexpert.yaml", (1e5, 1e4, 3e3), 12, ["classification"]),
    ("paper-ucsf.yaml", (4, 8, 16), 2, ["classification", "segmentation"]),
])
def test_paper_grid_validates_and_holds_the_study_design(name, levels, targets, tasks):
    import yaml

    config = load_config(CONFIGS / name)
    assert parse_config(yaml.safe_load(dump_config(config))) == config  # round-trips
    dataset = config.datasets[0]
    assert dataset.degradations[0].levels == levels and [t.kind for t in dataset.tasks] == tasks
    assert [(r.name, r.preset) for r in dataset.reconstructors[1:]] == [
        ("unet", "paper"), ("pix2pix", "paper"), ("irsde", "paper")]
    assert all(t.model.preset == "large" for t in dataset.tasks)
    from reconfair.data.facts import dataset_facts_for

    assert len(dataset_facts_for(dataset)["labels"]) == targets
    conditions = dataset_conditions(dataset, config.attributes)
    # original + 3 levels x (baseline + 3 models x (1 unmitigated + reweighting + 5 lambdas))
    assert len(conditions) == 1 + 3 * (1 + 3 * 7)
    assert sum(c.mitigation is not None and c.mitigation.kind == "eodd" for c in conditions) == 3 * 3 * 5
