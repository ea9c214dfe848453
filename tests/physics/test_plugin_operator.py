"""A degradation operator from outside the package: named ``package.module:attribute`` in a config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
import torch

from reconfair.config import ConfigError, parse_config
from reconfair.engine.conditions import dataset_conditions
from reconfair.engine.validate import parse_study
from reconfair.physics import Degradation, make_degradation
from reconfair.physics.base import DegradeMixin, check_images, check_positive, resolve_generator, standard_normal

PLUGIN = f"{__name__}:BoxBlur"


@dataclass(frozen=True, kw_only=True)
class BoxBlur(DegradeMixin):
    """A box blur of width ``level`` pixels plus Gaussian noise of standard deviation ``sigma``."""

    level: float
    sigma: float = 0.01
    name: ClassVar[str] = "box-blur"
    modality: ClassVar[str] = "xray"
    baseline: ClassVar[str] = "identity"

    def __post_init__(self) -> None:
        check_positive(self.level, "level", self.name, "blur width in pixels")

    def measure(self, x: torch.Tensor, *, generator: Any = None) -> torch.Tensor:
        x = check_images(x, self.name)
        width = int(self.level) | 1
        blurred = torch.nn.functional.avg_pool2d(x, width, stride=1, padding=width // 2, count_include_pad=False)
        generator = resolve_generator(generator, x.device, self.name, self.level)
        return blurred + self.sigma * standard_normal(len(x), x.shape[1:], generator, device=x.device)

    def to_image(self, y: torch.Tensor) -> torch.Tensor:
        return y.clamp(0.0, 1.0)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "level": self.level, "sigma": self.sigma}


def make_blur(*, level: float, sigma: float = 0.01) -> BoxBlur:
    """A factory, as a plug-in may give instead of the class."""
    return BoxBlur(level=level, sigma=sigma)


NOT_AN_OPERATOR = 3.0


def not_a_degradation(*, level: float) -> str:
    return "blur"


def _study(operator: str, **degradation: Any) -> dict[str, Any]:
    return {"attributes": ["sex"], "datasets": [{
        "name": "synthetic-chest", "degradations": [{"operator": operator, "levels": [3, 5], **degradation}]}]}


@pytest.mark.parametrize("operator", [PLUGIN, f"{__name__}:make_blur"])
def test_a_plugin_operator_validates_and_builds(operator):
    config = parse_study(_study(operator, params={"sigma": 0.02}))
    assert config.datasets[0].degradations[0].operator == operator
    op = make_degradation(operator, 3, sigma=0.02)
    assert isinstance(op, Degradation) and op.level == 3 and op.sigma == 0.02
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    y = op.degrade(x, generator=torch.Generator().manual_seed(1))
    assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1
    names = [c.name for c in dataset_conditions(config.datasets[0], config.attributes)]
    assert f"{operator}@3/identity" in names  # the baseline comes from the operator's ``baseline``


@pytest.mark.parametrize(("operator", "degradation", "expected"), [
    ("no_such_module_xyz:Blur", {}, "datasets[0].degradations[0].operator: degradation plug-in "
     "'no_such_module_xyz:Blur': cannot import module 'no_such_module_xyz'"),
    (f"{__name__}:Nope", {}, f"degradation plug-in '{__name__}:Nope': module '{__name__}' has no attribute 'Nope'"),
    (f"{__name__}:NOT_AN_OPERATOR", {}, f"operator: '{__name__}:NOT_AN_OPERATOR' is float"),
    (f"{__name__}:not_a_degradation", {}, "built a str, which lacks name, level, modality, baseline"),
    ("box-blur", {}, "operator: unknown operator 'box-blur'"),
    (PLUGIN, {"params": {"radius": 2}}, "datasets[0].degradations[0]: levels[0] = 3.0 with params {'radius': 2}: "
     f"degradation '{PLUGIN}' got unknown parameter 'radius'; allowed parameters: level, sigma"),
    (PLUGIN, {"levels": [3, -1]}, "levels[1] = -1.0 with params {}: box-blur: parameter 'level'"),
])
def test_a_bad_plugin_operator_is_named(operator, degradation, expected):
    data = _study(operator)
    data["datasets"][0]["degradations"][0].update(degradation)
    parse_config(data)  # the structure is fine: the stages decide
    with pytest.raises(ConfigError) as info:
        parse_study(data, source="study.yaml")
    message = str(info.value)
    assert expected in message, message
    if "levels[" not in expected:  # every operator error says what is allowed
        assert "ct-lowdose, mri-undersampling, radiograph-aec, radiograph-lowdose" in message
        assert "'package.module:attribute' naming a Degradation class or factory" in message
