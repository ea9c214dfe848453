"""Saliency of a classifier's score: Grad-CAM on CNNs, input gradients as the fallback.

Grad-CAM (Selvaraju et al., 2017) for target ``c`` at a convolution with
activations ``A`` (K channels, h×w): the channel weights are the spatially
averaged gradients ``α_k = mean_ij ∂y_c/∂A_kij`` of the target's logit
``y_c``; the map is ``ReLU(Σ_k α_k A_k)``, upsampled bilinearly to the image
size and divided by its maximum (an all-zero map stays zero).  The layer is
the one named (``model.saliency_layer``) or the ``Conv2d`` that runs last in
a forward pass (in a residual block, the main path's rather than the skip
connection's).

The input gradient ``|∂y_c/∂x|``, divided by its maximum, is used when the
network has no convolution that a hook can reach (a TorchScript model's
layers cannot be hooked).  ONNX models have no gradients: no saliency.

Examples
--------
>>> import torch
>>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.Flatten(), torch.nn.LazyLinear(1))
>>> maps, method = saliency_maps(net, torch.rand(2, 1, 8, 8), target=0)
>>> maps.shape, method
((2, 8, 8), 'grad-cam (layer 0)')
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["GRADIENT_METHOD", "grad_cam", "input_gradient", "saliency_maps"]

GRADIENT_METHOD = "input gradient"


def saliency_maps(network: torch.nn.Module | None, images: torch.Tensor, target: int, *, layer: str | None = None
                  ) -> tuple[np.ndarray | None, str]:
    """Maps N×H×W in [0, 1] (float16) of ``network``'s logit ``target``, and the method used.

    ``network`` ``None`` (an ONNX model) gives ``(None, "none (ONNX model: no gradients)")``.
    """
    if network is None:
        return None, "none (ONNX model: no gradients)"
    from reconfair.diagnose.supplied import last_executed_conv, resolve_layer

    network = network.to("cpu").eval()
    if _scripted(network):
        found = None
    elif layer is not None:
        found = resolve_layer(network, layer)
    else:
        found = last_executed_conv(network, images[:1].float())
    if found is None:
        reason = " (TorchScript: layers cannot be hooked)" if _scripted(network) else " (no convolution found)"
        return input_gradient(network, images, target), GRADIENT_METHOD + reason
    name, module = found
    return grad_cam(network, images, target, module), f"grad-cam (layer {name.removeprefix('model.')})"


def grad_cam(network: torch.nn.Module, images: torch.Tensor, target: int, layer: torch.nn.Module) -> np.ndarray:
    """Grad-CAM maps (N×H×W float16 in [0, 1]) of logit ``target`` at ``layer`` (a module of ``network``)."""
    captured: list[torch.Tensor] = []

    def keep(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        captured.append(output)

    handle = layer.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            x = images.detach().clone().float().requires_grad_(True)  # so the graph exists with frozen weights
            logits = network(x)[:, target]
            (activations,) = captured
            (gradient,) = torch.autograd.grad(logits.sum(), activations)
    finally:
        handle.remove()
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activations).sum(1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=tuple(images.shape[-2:]), mode="bilinear", align_corners=False)[:, 0]
    return _scaled(cam)


def input_gradient(network: torch.nn.Module, images: torch.Tensor, target: int) -> np.ndarray:
    """``|∂ logit_target / ∂ image|`` per pixel, each map divided by its maximum (N×H×W float16)."""
    x = images.detach().clone().float().requires_grad_(True)
    with torch.enable_grad():
        logits = network(x)[:, target]
        (gradient,) = torch.autograd.grad(logits.sum(), x)
    return _scaled(gradient.abs()[:, 0])


def _scaled(maps: torch.Tensor) -> np.ndarray:
    peak = maps.flatten(1).amax(1).clamp(min=1e-12)[:, None, None]
    return (maps / peak).numpy().astype(np.float16)


def _scripted(network: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.jit.ScriptModule) for m in network.modules())
