"""The region head: where in the image an MGIE edit will change something.

It reads the edit head's per-cell rows of U (one per image cell: what the edit does *there*, see
`EditHead`) and gives each cell the probability that the edit changes it, trained on the SynthEdit
masks (every cell for a global edit, the object's cells for a local one). The pipeline keeps the input
outside that region (`diffusion.keep_inside_region`): the sampler otherwise leaves small changes all
over the photo, and on local edits every editor's output was further from the target than the
unedited input. Only a model whose MLLM sees the image has per-cell rows; the baselines cannot have it.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..config import RegionHeadConfig
from .layers import Block, LayerNorm


class RegionHead(nn.Module):
    def __init__(self, cfg: RegionHeadConfig, context_dim: int, grid: int):
        super().__init__()
        if grid <= 0:
            raise ValueError("the region head reads per-cell rows of U: it needs an edit head with a grid")
        self.grid = grid
        self.inp = nn.Linear(context_dim, cfg.dim)
        # Self-attention across cells: a move's destination is decided by where the object is now.
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads) for _ in range(cfg.layers))
        self.norm = LayerNorm(cfg.dim)
        self.out = nn.Linear(cfg.dim, 1)

    def logits(self, u: torch.Tensor) -> torch.Tensor:
        """U [B, L + grid*grid, context_dim] -> one logit per cell [B, grid*grid], row-major."""
        x = self.inp(u[:, -self.grid * self.grid :])
        for b in self.blocks:
            x = b(x)
        return self.out(self.norm(x)).squeeze(-1)

    def loss(self, u: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Binary cross-entropy against `cell_labels(masks)`; also the share of cells classified right."""
        labels = cell_labels(masks, self.grid)
        lg = self.logits(u)
        return F.binary_cross_entropy_with_logits(lg, labels), float(((lg > 0).float() == labels).float().mean())


def cell_labels(masks: torch.Tensor, grid: int) -> torch.Tensor:
    """Pixel masks [B, H, W] (1 where the edit may change the image) -> [B, grid*grid]: 1 for a cell
    with any such pixel."""
    b = masks.shape[0]
    return (F.adaptive_max_pool2d(masks[:, None].float(), grid) > 0.5).float().reshape(b, grid * grid)


class RegionHeadExport(nn.Module):
    """U -> the edit's region at the image resolution [B, 1, res, res]: each cell's probability,
    bilinearly upsampled (half-pixel centres) so that the region's border is soft."""

    def __init__(self, head: RegionHead, res: int):
        super().__init__()
        self.head = head
        self.res = res

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        g = self.head.grid
        p = torch.sigmoid(self.head.logits(u)).reshape(-1, 1, g, g)
        return F.interpolate(p, size=(self.res, self.res), mode="bilinear", align_corners=False)
