"""Shared fixtures: keep torch to one thread per test process (2-core machines)."""

from __future__ import annotations

import torch

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
