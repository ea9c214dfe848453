"""Lesion signals and insertion: profiles by hand, exact amplitudes on a real PNG, seeded locations, errors."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from PIL import Image

from reconfair.data.images import read_image
from reconfair.physics.lesions import (
    FixedLocation,
    GaussianSignal,
    RandomLocation,
    SpiculatedSignal,
    TemplateSignal,
    location_from_config,
    make_pairs,
    signal_from_config,
)

MU = 4.0


@pytest.fixture
def png_background(tmp_path) -> torch.Tensor:
    """A 48 x 48 8-bit PNG written with PIL (a smooth 'patient' on air), read back as the package reads images."""
    yy, xx = np.mgrid[0:48, 0:48]
    body = 0.15 + 0.5 * np.exp(-((yy - 24) ** 2 + (xx - 22) ** 2) / (2 * 12.0**2))
    body[:, :4] = 0.0  # air at the left edge
    path = tmp_path / "background.png"
    Image.fromarray(np.round(255 * body).astype(np.uint8), mode="L").save(path)
    return torch.from_numpy(read_image(path))[None, None]


def batch_of(background: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` different backgrounds from one: the PNG scaled by 0.7 .. 1.0 (still in [0, 1])."""
    return torch.cat([background * (0.7 + 0.3 * i / max(1, n - 1)) for i in range(n)])


SIGNALS = [
    GaussianSignal(amplitude=0.3, sigma=2.0),
    SpiculatedSignal(amplitude=0.25, radius=3.0, spikes=6, spike_length=0.8),
    TemplateSignal(array=[[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]], amplitude=0.2),
]


def test_gaussian_profile_matches_its_formula_by_hand() -> None:
    s = GaussianSignal(amplitude=0.3, sigma=1.5)
    patch = s.patch().double().numpy()
    e = s.extent
    assert e == math.ceil(4 * 1.5)
    for dy, dx in [(0, 0), (1, 0), (2, 1), (-3, 2), (0, 5)]:
        expected = 0.3 * math.exp(-(dy**2 + dx**2) / (2 * 1.5**2))
        assert patch[e + dy, e + dx] == pytest.approx(expected, rel=1e-6)
    assert patch[e + 5, e + 5] == 0.0  # r = 7.07 > 4 sigma = 6: outside the support
    assert patch[0, 0] == 0.0


def test_spiculated_profile_core_spikes_and_gaps_by_hand() -> None:
    s = SpiculatedSignal(amplitude=0.5, radius=3.0, spikes=4, spike_length=1.0, sharpness=4.0, edge=1.0)
    patch = s.patch().double().numpy()
    e = s.extent
    assert e == math.ceil(3.0 * 2 + 0.5)
    assert patch[e, e] == pytest.approx(0.5, rel=1e-7) and patch.max() == pytest.approx(0.5, rel=1e-7)
    # along a spike (theta = 0): r_eff = R (1 + L) = 6, so r <= 5.5 is inside the core
    assert patch[e, e + 5] == pytest.approx(0.5, rel=1e-7)
    # between spikes (theta = pi / 4, cos(4 theta) = -1): r_eff = R = 3, so r = sqrt(8) + 1 > 3.5 is outside
    assert patch[e + 3, e + 3] == 0.0
    # on the edge between two spikes (theta = pi / 2, cos(2 theta) = -1): r = R = 3 -> t = 0 -> h = 1/2
    gap = SpiculatedSignal(amplitude=0.5, radius=3.0, spikes=2, spike_length=1.0, edge=1.0)  # gaps at +-pi/2
    assert gap.patch().double().numpy()[gap.extent + 3, gap.extent] == pytest.approx(0.25, rel=1e-6)
    assert s.boundary(np.array([0.0, np.pi / 4])).tolist() == pytest.approx([6.0, 3.0])


def test_template_is_normalised_loads_from_npy_and_round_trips(tmp_path) -> None:
    raw = np.array([[0.0, -2.0, 0.0], [1.0, 8.0, 1.0], [0.0, 2.0, 0.0]])
    s = TemplateSignal(array=raw, amplitude=0.2)
    np.testing.assert_allclose(s.patch().double().numpy(), 0.2 * raw / 8.0, rtol=1e-6)
    np.save(tmp_path / "t.npy", raw)
    loaded = TemplateSignal(array=str(tmp_path / "t.npy"), amplitude=0.2)
    assert torch.equal(loaded.patch(), s.patch())
    assert torch.equal(signal_from_config(loaded.to_config()).patch(), s.patch())
    for signal in SIGNALS:
        assert torch.equal(signal_from_config(signal.to_config()).patch(), signal.patch())


@pytest.mark.parametrize("signal", SIGNALS, ids=lambda s: s.kind)
@pytest.mark.parametrize("domain", ["image", "line-integral"])
def test_inserted_signal_has_exactly_the_requested_amplitude_on_a_png(png_background, signal, domain) -> None:
    x = batch_of(png_background, 3)
    pairs = make_pairs(x, ["a", "b", "c"], signal=signal, domain=domain, policy=RandomLocation(threshold=0.2),
                       seed=3, mu=MU)
    assert torch.equal(pairs.absent, x)  # the background, bit for bit
    scale = 1.0 if domain == "image" else MU
    difference = (pairs.present.double() - pairs.absent.double()) * scale
    for i in range(3):
        row, col = pairs.centers[i].tolist()
        expected = signal.render(48, (row, col))
        assert torch.equal(pairs.signals[i, 0], expected)  # the rendered signal, at the recorded centre
        # present - absent is the signal to float32 precision (one rounding of x + s or x + s / mu)
        np.testing.assert_allclose(difference[i, 0].numpy(), expected.double().numpy(), rtol=0,
                                   atol=2 * scale * float(np.finfo(np.float32).eps))
        assert float(difference[i, 0].abs().max()) == pytest.approx(signal.amplitude, rel=1e-5)
        assert float(expected.abs().max()) == pytest.approx(signal.amplitude, rel=1e-7)
        assert float(x[i, 0, row, col]) > 0.2  # the centre lies in the region
    assert float(pairs.present.min()) >= 0.0 and float(pairs.present.max()) <= 1.0
    assert pairs.locations()["sample_id"].tolist() == ["a", "b", "c"]


def test_fixed_location_defaults_to_the_centre_and_records_it(png_background) -> None:
    s = GaussianSignal(amplitude=0.2, sigma=1.0)
    pairs = make_pairs(batch_of(png_background, 2), ["a", "b"], signal=s, domain="line-integral")
    assert pairs.centers.tolist() == [[24, 24], [24, 24]]
    pairs = make_pairs(png_background, ["a"], signal=s, policy=FixedLocation(row=10, col=30))
    assert pairs.centers.tolist() == [[10, 30]]
    assert float(pairs.signals[0, 0, 10, 30]) == pytest.approx(0.2, rel=1e-7)


def test_random_locations_are_seeded_per_sample_and_independent_of_batch_order(png_background) -> None:
    x = batch_of(png_background, 5)
    ids = ["p1", "p2", "p3", "p4", "p5"]
    kwargs = dict(signal=GaussianSignal(amplitude=0.3, sigma=1.5), domain="line-integral",
                  policy=RandomLocation(threshold=0.2), seed=11)
    first = make_pairs(x, ids, **kwargs).centers
    assert torch.equal(make_pairs(x, ids, **kwargs).centers, first)  # same call, same centres
    order = [4, 2, 0, 3, 1]
    shuffled = make_pairs(x[order], [ids[i] for i in order], **kwargs).centers
    assert torch.equal(shuffled, first[order])
    alone = make_pairs(x[2:3], ids[2:3], **kwargs).centers
    assert torch.equal(alone[0], first[2])
    other = make_pairs(x, ids, **{**kwargs, "seed": 12}).centers
    assert not torch.equal(other, first)
    assert len({tuple(c) for c in first.tolist()}) > 1  # the draws vary between samples


def test_random_location_leaves_global_rng_untouched(png_background) -> None:
    states = torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    make_pairs(batch_of(png_background, 2), ["a", "b"], signal=GaussianSignal(amplitude=0.1, sigma=1.0),
               policy=RandomLocation(), seed=0)
    assert torch.equal(torch.random.get_rng_state(), states[0])
    assert np.array_equal(np.random.get_state()[1], states[1]) and random.getstate() == states[2]


def test_random_location_avoids_places_where_insertion_would_leave_the_range(png_background) -> None:
    # amplitude 1.6 in the line integral adds 0.4 to x: only places with x <= 0.6 at the peak are admissible
    s = GaussianSignal(amplitude=1.6, sigma=1.0)
    ids = [f"s{i}" for i in range(20)]
    pairs = make_pairs(png_background.expand(20, 1, 48, 48), ids, signal=s, domain="line-integral",
                       policy=RandomLocation(threshold=0.1), seed=0)
    assert float(pairs.present.max()) <= 1.0
    assert float(png_background.max()) + 0.4 > 1.0  # the centre pixel alone would have clipped
    rows, cols = pairs.centers[:, 0], pairs.centers[:, 1]
    assert bool(((rows >= s.extent) & (rows < 48 - s.extent) & (cols >= s.extent) & (cols < 48 - s.extent)).all())


def test_clipping_is_an_error_naming_sample_and_location(png_background) -> None:
    s = GaussianSignal(amplitude=2.0, sigma=1.5)  # + 0.5 at the peak, beyond 1 at the bright centre
    with pytest.raises(ValueError, match=r"sample 'bright' at \(24, 24\).*x \+ s / mu reaches .*smaller amplitude"):
        make_pairs(png_background, ["bright"], signal=s, domain="line-integral")
    with pytest.raises(ValueError, match=r"sample 'dark' at \(24, 24\).*x \+ s reaches -"):
        make_pairs(png_background, ["dark"], signal=GaussianSignal(amplitude=-0.9, sigma=1.0), domain="image")
    with pytest.raises(ValueError, match=r"sample 'edge'.*leaves the 48 x 48 image"):
        make_pairs(png_background, ["edge"], signal=s, policy=FixedLocation(row=2, col=24))
    with pytest.raises(ValueError, match=r"sample 'none' has no admissible location.*smaller amplitude"):
        make_pairs(png_background, ["none"], signal=GaussianSignal(amplitude=0.9, sigma=1.0),
                   policy=RandomLocation(threshold=0.6))


@pytest.mark.parametrize(("build", "field"), [
    (lambda: GaussianSignal(amplitude=0.1, sigma=-1.0), "'sigma'"),
    (lambda: GaussianSignal(amplitude=0.0, sigma=1.0), "'amplitude'"),
    (lambda: SpiculatedSignal(amplitude=0.1, radius=2.0, spikes=0, spike_length=1.0), "'spikes'"),
    (lambda: SpiculatedSignal(amplitude=0.1, radius=2.0, spikes=3, spike_length=-1.0), "'spike_length'"),
    (lambda: SpiculatedSignal(amplitude=0.1, radius=0.2, spikes=3, spike_length=1.0), "'radius'"),
    (lambda: TemplateSignal(array=np.ones((3, 4)), amplitude=0.1), "'array'"),
    (lambda: TemplateSignal(array=np.zeros((3, 3)), amplitude=0.1), "'array'"),
    (lambda: TemplateSignal(array="missing.npy", amplitude=0.1), "'array'"),
    (lambda: signal_from_config({"kind": "gaussian", "amplitude": 0.1, "sigma": 1, "size": 3}), "'size'"),
    (lambda: signal_from_config({"kind": "disc", "amplitude": 0.1}), "'kind'"),
    (lambda: signal_from_config({"kind": "gaussian", "amplitude": 0.1}), "'sigma'"),
    (lambda: RandomLocation(threshold=2.0), "'threshold'"),
    (lambda: FixedLocation(col=1.5), "'col'"),
    (lambda: location_from_config({"kind": "uniform"}), "'kind'"),
    (lambda: make_pairs(torch.zeros(1, 1, 8, 8), ["a"], signal=SIGNALS[0], domain="sinogram"), "'domain'"),
    (lambda: make_pairs(torch.zeros(1, 1, 8, 8), ["a"], signal=SIGNALS[0], mu=0.0), "'mu'"),
    (lambda: make_pairs(torch.zeros(2, 1, 8, 8), ["a", "a"], signal=SIGNALS[0]), "sample_ids"),
])
def test_bad_parameters_name_the_field(build, field) -> None:
    with pytest.raises(ValueError, match=field):
        build()


def test_pairs_stay_on_the_device_of_the_images_and_alias_nothing(png_background) -> None:
    x = batch_of(png_background, 2)
    pairs = make_pairs(x, ["a", "b"], signal=SIGNALS[0], domain="line-integral")
    assert pairs.absent.data_ptr() != x.data_ptr()  # a copy: editing it leaves the input alone
    pairs.absent.zero_()
    assert float(x.max()) > 0
    if torch.cuda.is_available():
        cuda = make_pairs(x.cuda(), ["a", "b"], signal=SIGNALS[0], domain="line-integral")
        assert cuda.present.device.type == cuda.absent.device.type == "cuda"
        assert torch.equal(cuda.absent.cpu(), x)
        assert torch.equal(cuda.present.cpu(), make_pairs(x, ["a", "b"], signal=SIGNALS[0],
                                                          domain="line-integral").present)
