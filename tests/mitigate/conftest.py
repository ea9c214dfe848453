"""Small shared pieces for the mitigation tests: a frozen classifier and a labelled batch."""

import pytest
import torch

from reconfair.diagnose import DiagnosticModel
from reconfair.seeding import seeded_torch_global


@pytest.fixture
def classifier():
    """An untrained (seeded) two-label CPU classifier for 32 x 32 images."""
    with seeded_torch_global(0, "mitigate-test-classifier"):
        return DiagnosticModel(kind="classification", targets=("nodule", "effusion"), preset="cpu-small",
                               image_size=32)


@pytest.fixture
def batch():
    """Eight 32 x 32 images, both labels with both classes in both sex groups, and the info tensor."""
    generator = torch.Generator().manual_seed(0)
    y = torch.rand(8, 1, 32, 32, generator=generator) * 0.8 + 0.1
    labels = torch.tensor([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0], [0, 1], [1, 1], [0, 0]], dtype=torch.float32)
    sex = torch.tensor([[0], [0], [0], [0], [1], [1], [1], [1]])
    return y, labels, sex
