import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reconfair.config import ConfigError, dump_config, load_config, parse_config
from reconfair.engine.validate import load_study, parse_study, validate_study
from reconfair.config.demo import demo_config

REPO = Path(__file__).resolve().parents[2]


def _minimal(**dataset):
    return {"datasets": [{"name": "synthetic-chest", **dataset}]}


def test_defaults_fill_degradations_and_tasks_per_dataset():
    config = parse_config({"datasets": [{"name": "synthetic-chest"}, {"name": "synthetic-brain"}]})
    chest, brain = config.datasets
    assert chest.degradations[0].operator == "radiograph-lowdose"
    assert chest.degradations[0].levels == (1e5, 1e4, 3e3)
    assert [t.kind for t in chest.tasks] == ["classification"]
    assert brain.degradations[0].levels == (4, 8, 16)
    assert [t.kind for t in brain.tasks] == ["classification", "segmentation"]


def test_round_trip_through_yaml():
    config = demo_config()
    assert parse_config(yaml.safe_load(dump_config(config))) == config


def test_config_is_frozen():
    config = demo_config(quick=True)
    with pytest.raises(Exception):
        config.seed = 3


def test_evaluation_bootstrap_defaults():
    evaluation = parse_config(_minimal()).evaluation
    assert (evaluation.bootstrap, evaluation.adjust, evaluation.family, evaluation.alpha) == ("auto", "holm",
                                                                                            "metric", 0.05)
    assert (evaluation.bootstrap_budget_s, evaluation.power, evaluation.min_valid_fraction) == (600.0, 0.8, 0.95)
    custom = parse_config({**_minimal(), "evaluation": {"bootstrap": 0, "adjust": "bh",
                                                         "family": ["dataset", "metric"]}}).evaluation
    assert (custom.bootstrap, custom.adjust, custom.family) == (0, "bh", ("dataset", "metric"))
    with pytest.raises(ConfigError, match=r"evaluation.bootstrap: .*'auto'"):
        parse_config({**_minimal(), "evaluation": {"bootstrap": -1}})
    with pytest.raises(ConfigError, match=r"evaluation.family: unknown column\(s\) \['colour'\]"):
        parse_study({**_minimal(), "evaluation": {"family": ["dataset", "colour"]}})


def test_the_demo_config_has_one_source():
    shipped = REPO / "configs" / "demo.yaml"
    packaged = REPO / "src" / "reconfair" / "config" / "demo.yaml"
    assert shipped.is_symlink() and not Path(shipped.readlink()).is_absolute()  # works in any checkout
    assert shipped.resolve() == packaged.resolve()
    assert load_study(shipped) == demo_config()
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '[tool.setuptools.package-data]\n"reconfair.config" = ["demo.yaml"]' in pyproject  # in a wheel too


def test_the_quick_demo_is_derived_from_the_demo():
    full, quick = demo_config(), demo_config(quick=True)
    assert validate_study(quick) == quick and quick.name == "demo-quick"
    assert [d.name for d in quick.datasets] == [d.name for d in full.datasets]
    chest = quick.datasets[0]
    assert chest.degradations[0].levels == (1e5, 1e4, 3e3)  # the mitigations' severe level goes with them
    assert chest.mitigations == () and [r.name for r in chest.reconstructors] == ["baseline", "unet"]
    assert chest.effects == full.datasets[0].effects and quick.evaluation == full.evaluation
    assert [t.model.epochs for d in quick.datasets for t in d.diagnostic_tasks] == [3, 3, 3]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({**_minimal(), "colour": "red"}, "colour: unknown key 'colour'; allowed keys: attributes, datasets"),
        (_minimal(n_patiens=10), "datasets[0].n_patiens: unknown key 'n_patiens'; allowed keys: "),
        (
            _minimal(degradations=[{"operator": "radiograph-lowdose", "levels": [1e4, -3000]}]),
            "datasets[0].degradations[0]: levels[1] = -3000",
        ),
        (
            _minimal(degradations=[{"operator": "x-ray", "levels": [1]}]),
            "datasets[0].degradations[0].operator: unknown operator 'x-ray'; expected a registered operator "
            "(ct-lowdose, mri-undersampling, radiograph-aec, radiograph-lowdose) or a plug-in 'package.module:attribute'",
        ),
        ({**_minimal(), "attributes": ["sex", "income"]}, "attributes[1]: unknown attribute 'income'"),
        (_minimal(effects={"sex": {"X": {"contrast": 0.5}}}), "effects.sex: unknown group 'X'; expected one of F, M"),
        (_minimal(effects={"sex": {"F": {"contrast": -1}}}), "datasets[0].effects.sex.F.contrast"),
        (_minimal(effects={"sex": {"F": {"contrst": 0.5}}}), "unknown key 'contrst'; allowed keys: contrast, prevalence, size"),
        (_minimal(tasks=[{"kind": "segmentation"}]), "synthetic-chest has no segmentation masks"),
        ({**_minimal(), "device": "tpu"}, "expected 'auto', 'cpu', 'cuda'"),
        ({**_minimal(), "evaluation": {"bootstrap": -1}}, "evaluation.bootstrap"),
        ({**_minimal(), "evaluation": {"adjust": "bonferroni"}}, "evaluation.adjust"),
    ],
)
def test_bad_configs_name_the_field(data, expected):
    with pytest.raises(ConfigError) as info:
        parse_study(data, source="study.yaml")
    message = str(info.value)
    assert message.startswith("study.yaml: invalid configuration")
    assert expected in message, message


def test_load_config_names_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_config(bad)


def test_age_group_effects_are_accepted_and_unknown_effect_attributes_named():
    config = parse_study(_minimal(age_cut=60, effects={"age_group": {">=60": {"contrast": 0.5}}}))
    assert config.datasets[0].effects["age_group"][">=60"].contrast == 0.5
    with pytest.raises(ConfigError, match="effects: unknown attribute 'age'; synthetic-chest plants effects on sex, age_group, race"):
        parse_study(_minimal(effects={"age": {"60": {"contrast": 0.5}}}))


def test_age_group_effect_groups_are_checked_when_the_cut_is_given():
    with pytest.raises(ConfigError, match="effects.age_group: unknown group 'old'; expected one of <60, >=60"):
        parse_study(_minimal(age_cut=60, effects={"age_group": {"old": {"contrast": 0.5}}}))


def test_config_imports_no_stage_package():
    code = ("import sys, reconfair.config; "
            "print(sorted(m for m in sys.modules if m.startswith('reconfair.') and not m.startswith("
            "('reconfair.config', 'reconfair.vocabulary'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]", loaded


def test_parse_config_checks_structure_and_validate_study_the_stages():
    data = {"attributes": ["sex", "income"], "datasets": [{
        "name": "synthetic-chest", "effects": {"sex": {"X": {"contrast": 0.5}}},
        "degradations": [{"operator": "radiograph-lowdose", "levels": [-1]}],
        "reconstructors": [{"name": "unet", "settings": {"epoch": 3}}]}],
        "evaluation": {"family": ["colour"]}}
    config = parse_config(data)  # structurally fine
    with pytest.raises(ConfigError) as info:
        validate_study(config, source="study.yaml")
    lines = str(info.value).splitlines()
    assert lines[0] == "study.yaml: invalid configuration"
    assert [line.split(":")[0] for line in lines[1:]] == [  # every problem at once, each naming its field
        "  - datasets[0].degradations[0]", "  - datasets[0].reconstructors[0].settings",
        "  - datasets[0].effects.sex", "  - attributes[1]", "  - evaluation.family"]
    assert validate_study(parse_config(_minimal())) == parse_config(_minimal())


def test_load_study_validates_and_resolves_against_the_file(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"attributes": ["ethnicity"], **_minimal()}))
    assert load_config(path).attributes == ("ethnicity",)
    with pytest.raises(ConfigError, match=r"study\.yaml: invalid configuration\n  - attributes\[0\]: unknown"):
        load_study(path)
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_study(tmp_path / "absent.yaml")


@pytest.mark.parametrize("name, bad", [("unet+v2", "'+'"), ("a/b", "'/'"), ("x@y", "'@'"), ("a:b", "':'"),
                                       ("a b", "whitespace")])
def test_reconstructor_names_must_fit_condition_names(name, bad):
    data = _minimal(reconstructors=["baseline", {"name": name, "folder": "/recons"}])
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="study.yaml")
    message = str(info.value)
    assert f"  - datasets[0].reconstructors[1].name: {name!r} contains {bad}" in message, message
    assert "rename it, e.g." in message


def test_operator_names_must_fit_condition_names():
    with pytest.raises(ConfigError, match=r"datasets\[0\].degradations\[0\].operator: operator 'a@b' contains @"):
        parse_config(_minimal(degradations=[{"operator": "a@b", "levels": [1]}]))


def test_threads_setting():
    assert parse_config(_minimal()).threads == 2
    assert parse_config({**_minimal(), "threads": 1}).threads == 1
    with pytest.raises(ConfigError, match=r"threads: Input should be greater than or equal to 1"):
        parse_config({**_minimal(), "threads": 0})
