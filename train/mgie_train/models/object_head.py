"""Dense object labels that pre-train the MLLM's vision tower (the `mllm-see` stage).

For every grid cell of the vision encoder the head classifies the object covering it (see
`data.object_grid`): its colour, shape and size, or "none". LLaVA starts from a CLIP tower that
already sees; ours starts from scratch, and the description loss alone (a few words per image, reached
through the LM) did not teach it to tell shapes apart. `mllm-ins` keeps training it beside L_ins.
Training only, never exported.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..data import COLOURS, SHAPES, SIZES


class ObjectHead(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.sizes = (1 + len(COLOURS), 1 + len(SHAPES), 1 + len(SIZES))  # class 0 = no object here
        self.out = nn.Linear(dim, sum(self.sizes))

    def logits(self, cells: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """cells [B, G*G, dim] -> (colour, shape, size) logits, each [B, G*G, classes]."""
        return self.out(cells).split(self.sizes, dim=-1)

    def loss(self, cells: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """cells [B, G*G, dim], labels [B, 3, G*G] (colour, shape, size): summed cross-entropy."""
        return sum(
            F.cross_entropy(lg.reshape(-1, lg.shape[-1]), lab.reshape(-1))
            for lg, lab in zip(self.logits(cells), labels.unbind(1))
        )
