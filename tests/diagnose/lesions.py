"""Lesion images and small CNNs trained outside reconfair, in plain torch (the user's side of "bring your own").

Image ``k`` (32 x 32, values in [0, 1]): a smooth background ``0.3 + 0.2 x/31``
plus seeded noise (sd 0.03); when ``k`` is positive (``k % 2 == 0``) a
Gaussian blob of amplitude 0.35 and sd 1.5 pixels at a seeded centre in
[6, 26)^2, whose mask is the disc of radius 3 around that centre.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

SIZE = 32
RADIUS = 3.0


def lesion(k: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int] | None]:
    """Image ``k`` (float64 in [0, 1]), its mask (uint8 0/1) and the blob's centre (row, col) or ``None``."""
    rng = np.random.default_rng(1000 + k)
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    image = 0.3 + 0.2 * x / (SIZE - 1) + rng.normal(0.0, 0.03, (SIZE, SIZE))
    mask = np.zeros((SIZE, SIZE), dtype=np.uint8)
    centre = None
    if k % 2 == 0:
        centre = (int(rng.integers(6, 26)), int(rng.integers(6, 26)))
        r2 = (y - centre[0]) ** 2 + (x - centre[1]) ** 2
        image += 0.35 * np.exp(-r2 / (2 * 1.5**2))
        mask[r2 <= RADIUS**2] = 1
    return np.clip(image, 0.0, 1.0), mask, centre


def batch(ks) -> tuple[torch.Tensor, torch.Tensor, list]:
    """Images N x 1 x 32 x 32 (float32), labels N x 1 and centres of the ``ks``."""
    made = [lesion(k) for k in ks]
    images = torch.tensor(np.stack([m[0] for m in made])[:, None], dtype=torch.float32)
    labels = torch.tensor([[float(k % 2 == 0)] for k in ks])
    return images, labels, [m[2] for m in made]


def write_folder(base: Path, n: int = 60, name: str = "lesions") -> Path:
    """``base/<name>/index.csv`` with 16-bit PNG images (exact to 1/65535) and 8-bit PNG masks."""
    root = base / name
    (root / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(n):
        image, mask, _ = lesion(k)
        Image.fromarray(np.round(image * 65535).astype(np.uint16)).save(root / f"img/L{k:03d}.png")
        Image.fromarray(mask * 255).save(root / f"img/L{k:03d}_mask.png")
        rows.append({"path": f"img/L{k:03d}.png", "patient_id": f"P{k:03d}", "sex": "F" if k % 4 < 2 else "M",
                     "age": 30 + k, "lesion": int(k % 2 == 0), "mask": f"img/L{k:03d}_mask.png"})
    pd.DataFrame(rows).to_csv(root / "index.csv", index=False)
    return root


def read_png(path: Path) -> torch.Tensor:
    """A 16-bit PNG as reconfair reads it (divided by 65535): 1 x 1 x H x W float32."""
    return torch.tensor(np.asarray(Image.open(path), dtype=np.float64)[None, None] / 65535.0, dtype=torch.float32)


class SmallCNN(torch.nn.Module):
    """Two convolutions at full resolution, global max pooling, one logit: localises what it detects."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.LeakyReLU(0.1),
            torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.LeakyReLU(0.1),
        )
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.amax(self.features(x - 0.5), dim=(2, 3)))


def train(network: torch.nn.Module, n: int = 120, steps: int = 120, seed: int = 0) -> torch.nn.Module:
    """Plain-torch training on lesion images ``100..100+n`` (disjoint from the folder's), BCE with logits."""
    torch.manual_seed(seed)
    images, labels, _ = batch(range(100, 100 + n))
    optimiser = torch.optim.Adam(network.parameters(), lr=3e-3)
    network.train()
    for step in range(steps):  # full batch: no sampling noise
        loss = torch.nn.functional.binary_cross_entropy_with_logits(network(images), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return network.eval()
