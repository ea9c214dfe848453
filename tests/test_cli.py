import pytest
import yaml
from typer.testing import CliRunner

from reconfair.cli import app

runner = CliRunner()


def _write(tmp_path, data):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_validate_accepts_the_shipped_demo_config():
    result = runner.invoke(app, ["validate", "configs/demo.yaml"])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"datasets": [{"name": "synthetic-chest"}], "unknown_key": 1}, "unknown_key"),
        (
            {"datasets": [{"name": "synthetic-chest", "degradations": [{"operator": "radiograph-lowdose", "levels": [-3000]}]}]},
            "datasets[0].degradations[0]",
        ),
        ({"datasets": [{"name": "synthetic-chest"}], "attributes": ["ethnicity"]}, "attributes[0]"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_bad_config_exits_2_naming_the_field(tmp_path, data, field, command):
    result = runner.invoke(app, [command, str(_write(tmp_path, data))])
    assert result.exit_code == 2
    assert field in result.output


def test_missing_config_file_exits_2(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "no such configuration file" in result.output
