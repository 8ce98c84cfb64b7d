"""Counts the multiply-add FLOPs (2 per MAC) of one call of a module: convolutions, linear layers and
attention products, the operations that dominate every model here. The benchmark divides these by
measured time to report how much of the machine's peak each stage reaches."""
from __future__ import annotations

import torch
from torch import nn

from .models.layers import Attention


def count(module: nn.Module, *args) -> int:
    total = 0
    hooks = []

    def conv(m: nn.Conv2d, inp, out):
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        total += 2 * k * out.numel()

    def linear(m: nn.Linear, inp, out):
        nonlocal total
        total += 2 * m.in_features * out.numel()

    def attention(m: Attention, inp, out):
        nonlocal total
        x = inp[0]
        ctx = inp[1] if len(inp) > 1 and inp[1] is not None else x
        b, t, d = x.shape
        total += 2 * 2 * b * t * ctx.shape[1] * d  # q.k^T and attn.v

    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear))
        elif isinstance(m, Attention):
            hooks.append(m.register_forward_hook(attention))
    try:
        with torch.no_grad():
            module(*args)
    finally:
        for h in hooks:
            h.remove()
    return total
