"""The detection task's configuration: defaults, round trip, errors that name the field, the domain, the plan."""

import pytest

from reconfair.config import ConfigError, DetectionTaskConfig, StudyConfig, TaskConfig, dump_config, parse_config
from reconfair.config.schema import read_config
from reconfair.engine.cache import Cache
from reconfair.engine.observers import detection_domain
from reconfair.engine.plan import plan_study
from reconfair.engine.validate import parse_study


def study(detection, *, name="synthetic-chest", degradations=None, tasks=None):
    dataset = {"name": name, "n_patients": 40, "image_size": 32,
               "tasks": tasks if tasks is not None else [{"kind": "classification"}, detection]}
    if degradations is not None:
        dataset["degradations"] = degradations
    return {"datasets": [dataset]}


def error_of(data):
    with pytest.raises(ConfigError) as caught:
        parse_study(data)
    return str(caught.value)


def test_defaults_round_trip_and_split_into_diagnostic_and_detection_tasks(tmp_path):
    config = parse_study(study({"kind": "detection"}))
    dataset = config.datasets[0]
    (task,) = dataset.detection_tasks
    assert isinstance(task, DetectionTaskConfig) and [t.kind for t in dataset.diagnostic_tasks] == ["classification"]
    assert task.signal == {"kind": "gaussian", "amplitude": 0.05, "sigma": 2.0}
    assert (task.domain, task.location, task.observers, task.roi) == ("auto", {"kind": "random"}, ("npw", "cho"), None)
    assert (task.cho.channels, task.cho.width, task.cho.internal_noise) == (6, None, 0.0)
    assert (task.train_split, task.test_split, task.max_backgrounds, task.reconstructors) == ("train", "test", 400, None)
    path = tmp_path / "study.yaml"
    path.write_text(dump_config(config))
    assert parse_config(read_config(path)) == config
    assert StudyConfig.model_validate(config.model_dump(mode="json")) == config
    assert all(isinstance(t, TaskConfig) for t in dataset.diagnostic_tasks)


@pytest.mark.parametrize("detection, expected", [
    ({"kind": "detection", "colour": "red"}, "datasets[0].tasks[1].colour: unknown key 'colour'; allowed keys: cho,"),
    ({"kind": "detection", "cho": {"chanels": 3}}, "datasets[0].tasks[1].cho.chanels: unknown key 'chanels'"),
    ({"kind": "detection", "signal": {"kind": "disc", "amplitude": 0.1}},
     "datasets[0].tasks[1].signal: 'kind' got 'disc'; expected one of: gaussian, spiculated, template"),
    ({"kind": "detection", "signal": {"kind": "gaussian", "amplitude": 0.1}},
     "datasets[0].tasks[1].signal: signal config of kind 'gaussian' misses 'sigma'"),
    ({"kind": "detection", "signal": {"kind": "gaussian", "amplitude": 0.1, "sigma": 1, "width": 2}},
     "datasets[0].tasks[1].signal: "),
    ({"kind": "detection", "observers": ["npw", "ideal"]}, "datasets[0].tasks[1].observers[1]: Input should be"),
    ({"kind": "detection", "observers": ["cho", "cho"]}, "datasets[0].tasks[1].observers: expected one or more distinct"),
    ({"kind": "detection", "roi": 12}, "datasets[0].tasks[1].roi: expected an odd side in pixels"),
    ({"kind": "detection", "location": {"kind": "anywhere"}}, "datasets[0].tasks[1].location: 'kind' got 'anywhere'"),
    ({"kind": "detection", "location": {"kind": "random", "treshold": 0.1}}, "datasets[0].tasks[1].location: "),
    ({"kind": "detection", "train_split": "test"}, "datasets[0].tasks[1]: test_split: the observers are tested on"),
    ({"kind": "detection", "reconstructors": ["unet"]}, "tasks[1].reconstructors: ['unet'] are not reconstructors"),
    ({"kind": "detection", "observers": ["hotelling"], "max_backgrounds": 100},
     "datasets[0].tasks[1].observers: hotelling on a 289-pixel ROI needs"),
    ({"kind": "detection", "max_backgrounds": 2}, "datasets[0].tasks[1].max_backgrounds: Input should be greater"),
])
def test_errors_name_the_field(detection, expected):
    assert expected in error_of(study(detection))


def test_a_detection_task_alone_is_refused_with_a_reason():
    message = error_of(study(None, tasks=[{"kind": "detection"}]))
    assert "datasets[0].tasks: at least one task is needed" in message and "detection task alone" in message


def test_auto_domain_follows_the_degradations():
    chest = parse_study(study({"kind": "detection"})).datasets[0]
    assert detection_domain(chest.detection_tasks[0], chest) == ("line-integral", 4.0)
    brain = parse_study(study({"kind": "detection"}, name="synthetic-brain")).datasets[0]
    assert detection_domain(brain.detection_tasks[0], brain) == ("image", 4.0)
    ct = parse_study(study({"kind": "detection"}, degradations=[
        {"operator": "radiograph-lowdose", "levels": [1e4], "params": {"mu": 3.0}}])).datasets[0]
    assert detection_domain(ct.detection_tasks[0], ct) == ("line-integral", 3.0)
    mixed = [{"operator": "radiograph-lowdose", "levels": [1e4]}, {"operator": "mri-undersampling", "levels": [4]}]
    assert "datasets[0].tasks[1].domain: auto cannot choose" in error_of(study({"kind": "detection"}, degradations=mixed))
    chosen = study({"kind": "detection", "domain": "image"}, degradations=mixed)
    dataset = parse_study(chosen).datasets[0]
    assert detection_domain(dataset.detection_tasks[0], dataset) == ("image", 4.0)


def test_a_detection_task_gets_observer_stages_and_no_diagnostic_model(tmp_path):
    data = study({"kind": "detection", "reconstructors": ["baseline"]},
                 degradations=[{"operator": "radiograph-lowdose", "levels": [1e4, 3e3]}])
    plan = plan_study(parse_study(data), Cache(tmp_path))
    assert [s.params["task"] for s in plan if s.stage == "diagnostic"] == ["classification"]
    observers = [s.label for s in plan if s.stage == "observer"]
    assert observers == ["synthetic-chest detection original",
                         "synthetic-chest detection radiograph-lowdose@10000/identity",
                         "synthetic-chest detection radiograph-lowdose@3000/identity"]
    assert [s.stage for s in plan].count("observer-stats") == 1
    report = next(s for s in plan if s.stage == "report")
    assert "observers" in report.inputs
    without = plan_study(parse_study(study(None, tasks=[{"kind": "classification"}])), Cache(tmp_path / "b"))
    assert not [s for s in without if s.stage in ("observer", "observer-stats")]
