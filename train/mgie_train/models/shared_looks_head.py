"""How many objects share each object's colour and shape: dense labels that teach the vision tower to
compare objects (the `mllm-ins` stage, beside L_ins and the object head).

"Make the odd colour match the rest" or "paint the odd shape red" name no object: the MLLM must find the
one whose colour (or shape) no other object has. The object head teaches each cell what it shows, not how
it compares with the rest of the scene; trained on L_ins alone, the MLLM picked the odd one out at chance.
For every grid cell this head predicts how many of the scene's objects have the colour, and the shape,
of the object there (see `data.shared_looks_grid`): every object of every scene is a label, where "is it
the odd one" labels one object in a few scenes. Training only, never exported.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..data import MAX_SHARED


class SharedLooksHead(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.classes = 1 + MAX_SHARED  # class 0 = no object here
        self.out = nn.Linear(dim, 2 * self.classes)

    def loss(self, cells: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """cells [B, G*G, dim], labels [B, 2, G*G] (objects sharing the colour, the shape): summed cross-entropy."""
        logits = self.out(cells).split(self.classes, dim=-1)
        return sum(F.cross_entropy(lg.reshape(-1, self.classes), lab.reshape(-1)) for lg, lab in zip(logits, labels.unbind(1)))
