"""Low-dose radiograph: Beer–Lambert counts checked against the Poisson model by hand."""

from __future__ import annotations

import math

import pytest
import torch

from reconfair.physics import RadiographLowDose, make_degradation
from reconfair.seeding import torch_generator

PIXELS = 200  # 200 x 200 = 40 000 pixels per constant image


def constant_batch(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, PIXELS, PIXELS).contiguous()


def test_mean_counts_follow_beer_lambert() -> None:
    n0, mu = 1e3, 4.0
    values = [0.0, 0.25, 0.5, 1.0]
    op = RadiographLowDose(level=n0, mu=mu)
    counts = op.measure(constant_batch(values), generator=torch_generator(0, "mean"))
    assert counts.dtype == torch.float32
    assert torch.equal(counts, counts.round())  # Poisson counts are integers
    n = PIXELS * PIXELS
    for i, x in enumerate(values):
        rate = n0 * math.exp(-mu * x)
        standard_error = math.sqrt(rate / n)  # Poisson: variance = mean
        assert abs(counts[i].double().mean().item() - rate) < 5 * standard_error
        assert counts[i].double().var().item() == pytest.approx(rate, rel=0.05)


def test_log_estimate_variance_matches_delta_method() -> None:
    n0, mu, x = 1e5, 4.0, 0.5
    op = RadiographLowDose(level=n0, mu=mu)
    image = op.degrade(constant_batch([x]), generator=torch_generator(0, "var"))
    p_hat = mu * image.double()
    rate = n0 * math.exp(-mu * x)
    assert p_hat.var().item() == pytest.approx(1.0 / rate, rel=0.05)
    assert p_hat.mean().item() == pytest.approx(mu * x, abs=5 * math.sqrt(1.0 / rate / p_hat.numel()) + 1e-4)


def test_electronic_noise_raises_variance_as_predicted() -> None:
    n0, mu, x, sigma_e = 1e4, 4.0, 0.5, 30.0
    batch = constant_batch([x])
    plain = RadiographLowDose(level=n0, mu=mu).degrade(batch, generator=torch_generator(0, "e"))
    noisy = RadiographLowDose(level=n0, mu=mu, sigma_e=sigma_e).degrade(batch, generator=torch_generator(0, "e"))
    rate = n0 * math.exp(-mu * x)
    var_plain, var_noisy = (mu * plain.double()).var().item(), (mu * noisy.double()).var().item()
    assert var_noisy > 1.5 * var_plain
    assert var_noisy == pytest.approx((rate + sigma_e**2) / rate**2, rel=0.05)


def test_output_converges_to_input_as_dose_grows() -> None:
    x = torch.rand(4, 1, 64, 64, generator=torch_generator(0, "img")) * 0.9 + 0.05
    errors = []
    for n0 in (1e3, 1e4, 1e5, 1e6, 1e8):
        y = RadiographLowDose(level=n0).degrade(x, generator=torch_generator(1, "dose"))
        errors.append((y - x).abs().mean().item())
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-3
    # error shrinks like 1/sqrt(N0): 100x the dose -> about 10x smaller
    assert errors[1] / errors[3] == pytest.approx(10.0, rel=0.2)


def test_zero_counts_are_floored_before_the_log() -> None:
    op = RadiographLowDose(level=100.0, mu=4.0)
    image = op.to_image(torch.zeros(1, 1, 2, 2))
    expected = min(1.0, -math.log(0.5 / 100.0) / 4.0)
    assert torch.allclose(image, torch.full_like(image, expected))
    assert op.to_image(torch.full((1, 1, 2, 2), 1e6)).max().item() == 0.0  # clipped at 0


def test_describe_reports_dose() -> None:
    facts = RadiographLowDose(level=3e3, mu=2.0, sigma_e=1.5).describe()
    assert facts["N0"] == 3e3 and facts["mu"] == 2.0 and facts["sigma_e"] == 1.5
    assert facts["counts_at_x1"] == pytest.approx(3e3 * math.exp(-2.0))
    assert facts["mean_counts_uniform_x"] == pytest.approx(3e3 * (1 - math.exp(-2.0)) / 2.0)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"level": 0.0}, "level"),
        ({"level": -5.0}, "level"),
        ({"level": float("nan")}, "level"),
        ({"level": 1e4, "mu": 0.0}, "mu"),
        ({"level": 1e4, "mu": -1.0}, "mu"),
        ({"level": 1e4, "sigma_e": -0.1}, "sigma_e"),
    ],
)
def test_bad_parameters_name_the_parameter(params: dict, parameter: str) -> None:
    with pytest.raises(ValueError, match=rf"'{parameter}'.*got {params.get(parameter, '')!r}".replace("(", r"\(")):
        RadiographLowDose(**params)


def test_unknown_parameter_is_named() -> None:
    with pytest.raises(ValueError, match="unknown parameter 'sigma'.*allowed parameters: level, mu, sigma_e, aec"):
        make_degradation("radiograph-lowdose", 1e4, sigma=2.0)


def test_rejects_batches_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="B x 1 x H x W"):
        RadiographLowDose(level=1e4).degrade(torch.zeros(8, 8))


def test_aec_exposure_by_hand() -> None:
    n0, mu = 1e4, 4.0
    op = RadiographLowDose(level=n0, mu=mu, aec=True)
    # patient region x > 0.05: the pixels 0.5 and 0.25 (0.0 is air, 0.03 below the threshold)
    x = torch.tensor([[0.0, 0.5], [0.25, 0.03]]).view(1, 1, 2, 2)
    transmission = (math.exp(-2.0) + math.exp(-1.0)) / 2
    assert op.exposure(x).item() == pytest.approx(n0 * 0.3 / transmission, rel=1e-6)
    assert op.patient_region(x).view(-1).tolist() == [False, True, True, False]
    expected = op.exposure(x).item() * torch.exp(-mu * x)
    assert torch.allclose(op.expected_counts(x), expected)
    # mean expected count behind the patient = N0 * T_ref, whatever the patient
    assert op.expected_counts(x)[op.patient_region(x)].mean().item() == pytest.approx(0.3 * n0, rel=1e-6)
    # no patient pixel: the whole image is the region (air: T = 1)
    assert op.exposure(torch.zeros(1, 1, 2, 2)).item() == pytest.approx(0.3 * n0)
    assert RadiographLowDose(level=n0).exposure(x).item() == n0  # without AEC: N0


def test_aec_image_is_the_log_of_the_counts_at_the_image_exposure() -> None:
    n0, mu = 300.0, 4.0
    op = RadiographLowDose(level=n0, mu=mu, aec=True)
    x = torch.rand(3, 1, 16, 16, generator=torch_generator(0, "aec-img"))
    counts = op.detected(x, generator=torch_generator(1, "aec"))
    assert torch.equal(counts, counts.round())
    exposure = op.exposure(x).view(-1, 1, 1, 1)
    expected = torch.clamp(-torch.log(torch.clamp(counts, min=0.5) / exposure) / mu, 0.0, 1.0)
    image = op.degrade(x, generator=torch_generator(1, "aec"))
    assert torch.allclose(image, expected, atol=1e-6)
    assert op.to_image(torch.zeros(1, 1, 2, 2)).max().item() == 1.0  # non-positive counts: the floor


def test_describe_reports_aec() -> None:
    assert RadiographLowDose(level=1e4).describe()["aec"] is False
    facts = RadiographLowDose(level=1e4, aec=True).describe()
    assert facts["aec"] is True and facts["aec_counts_behind_patient"] == pytest.approx(3e3)
    assert facts["aec_region_threshold"] == 0.05 and facts["aec_reference_transmission"] == 0.3


def test_aec_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="parameter 'aec' must be true or false, got 'yes'"):
        RadiographLowDose(level=1e4, aec="yes")
