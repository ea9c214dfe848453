"""Network presets for diagnostic models (MONAI), sized for CPU by default.

``cpu-small`` trains in seconds on 64x64 images; ``cpu-medium`` is wider and
deeper; ``large`` is the paper-scale choice (DenseNet-121 classifier, a
five-level U-Net segmenter) meant for a GPU.

>>> net = build_network({"kind": "classification", "preset": "cpu-small", "n_outputs": 3, "image_size": 64})
>>> import torch
>>> tuple(net(torch.zeros(2, 1, 64, 64)).shape)
(2, 3)
"""

from __future__ import annotations

from typing import Any

import torch
from monai.networks.nets import Classifier, DenseNet121, UNet

PRESETS = ("cpu-small", "cpu-medium", "large")
KINDS = ("classification", "segmentation")


def build_network(spec: dict[str, Any]) -> torch.nn.Module:
    """Build the network described by ``spec`` (kind, preset, n_outputs, image_size).

    The spec is what a checkpoint's JSON stores, so a saved model is rebuilt
    from plain data and never from a pickled object.
    """
    kind, preset = spec.get("kind"), spec.get("preset")
    if kind not in KINDS:
        raise ValueError(f"network kind {kind!r} is not one of {', '.join(KINDS)}")
    if preset not in PRESETS:
        raise ValueError(f"network preset {preset!r} is not one of {', '.join(PRESETS)}")
    n_outputs, size = int(spec["n_outputs"]), int(spec["image_size"])
    if kind == "classification":
        if preset == "large":
            return DenseNet121(spatial_dims=2, in_channels=1, out_channels=n_outputs)
        channels = (16, 32, 64, 128) if preset == "cpu-small" else (32, 64, 128, 256)
        return Classifier(
            in_shape=(1, size, size),
            classes=n_outputs,
            channels=channels,
            strides=(2,) * len(channels),
            num_res_units=1 if preset == "cpu-small" else 2,
            norm="batch",
            dropout=0.1,
        )
    seg_channels = {
        "cpu-small": (16, 32, 64),
        "cpu-medium": (32, 64, 128, 256),
        "large": (64, 128, 256, 512, 1024),
    }[preset]
    return UNet(
        spatial_dims=2,
        in_channels=1,
        out_channels=n_outputs,
        channels=seg_channels,
        strides=(2,) * (len(seg_channels) - 1),
        num_res_units=1 if preset == "cpu-small" else 2,
        norm="batch",
    )
