"""InstructPix2Pix-style UNet: input = noisy latent (+) input-image latent, timestep embedding,
cross-attention to the conditioning sequence U, output = the prediction (x0, v or noise)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..config import UNetConfig
from .layers import POSITION_FEATURES, Block, grid_features, sinusoidal
from .vae import ResBlock, norm


class SpatialTransformer(nn.Module):
    """A transformer block over the pixels of a feature map, cross-attending to the context. Each
    pixel's position is added to it (a learned projection of fixed sinusoids): attention alone is
    blind to position, and flips and rotations have to move content to a mirrored place."""

    def __init__(self, ch: int, heads: int, context_dim: int):
        super().__init__()
        self.norm = norm(ch)
        self.proj_in = nn.Linear(ch, ch)
        self.pos = nn.Linear(POSITION_FEATURES, ch)
        self.block = Block(ch, heads, context_dim)
        self.proj_out = nn.Linear(ch, ch)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        t = self.proj_in(self.norm(x).reshape(b, c, h * w).transpose(1, 2)) + self.pos(grid_features(h, w))
        t = self.proj_out(self.block(t, context))
        return x + t.transpose(1, 2).reshape(b, c, h, w)


class UNet(nn.Module):
    """With `grid` > 0 the last grid*grid rows of U are the edit head's per-cell rows (one per image
    cell, row-major): each is projected to `cell_map_channels` values, and the resulting map, upsampled
    to the latent's size, joins the latents at the input. What the edit should do at each place then
    reaches the convolutions where that place is, instead of having to be found by attention."""

    def __init__(self, cfg: UNetConfig, latent_channels: int, context_dim: int, grid: int = 0):
        super().__init__()
        self.cfg = cfg
        self.grid = grid
        ch = cfg.channels
        self.time_mlp = nn.Sequential(nn.Linear(ch[0], cfg.time_dim), nn.SiLU(), nn.Linear(cfg.time_dim, cfg.time_dim))
        # The mean of U joins the timestep embedding, which sets every residual block's scale and shift.
        self.context_proj = nn.Linear(context_dim, cfg.time_dim)
        # Noisy latent and input-image latent are concatenated on channels (8 in, 4 out), and the cell map.
        self.cell_map = nn.Linear(context_dim, cfg.cell_map_channels) if grid else None
        self.conv_in = nn.Conv2d(2 * latent_channels + (cfg.cell_map_channels if grid else 0), ch[0], 3, padding=1)
        self.down = nn.ModuleList()
        skips = [ch[0]]
        cin = ch[0]
        for i, c in enumerate(ch):
            for _ in range(cfg.res_blocks):
                self.down.append(self._level(cin, c, cfg.attention[i], context_dim))
                cin = c
                skips.append(c)
            if i < len(ch) - 1:
                self.down.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skips.append(c)
        self.mid = nn.ModuleList([ResBlock(cin, cin, cfg.time_dim), SpatialTransformer(cin, cfg.heads, context_dim), ResBlock(cin, cin, cfg.time_dim)])
        self.up = nn.ModuleList()
        for i, c in reversed(list(enumerate(ch))):
            for _ in range(cfg.res_blocks + 1):
                self.up.append(self._level(cin + skips.pop(), c, cfg.attention[i], context_dim))
                cin = c
            if i > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(c, c, 3, padding=1)))
        self.out_norm = norm(cin)
        self.conv_out = nn.Conv2d(cin, latent_channels, 3, padding=1)

    def cells_as_map(self, context: torch.Tensor, size: int) -> torch.Tensor:
        """The last grid*grid rows of U (row-major cells) -> [B, cell_map_channels, size, size]."""
        g = self.grid
        cells = self.cell_map(context[:, context.shape[1] - g * g :]).transpose(1, 2).reshape(context.shape[0], -1, g, g)
        return F.interpolate(cells, size=(size, size), mode="nearest")

    def _level(self, cin: int, cout: int, attention: bool, context_dim: int) -> nn.ModuleList:
        mods: list[nn.Module] = [ResBlock(cin, cout, self.cfg.time_dim)]
        if attention:
            mods.append(SpatialTransformer(cout, self.cfg.heads, context_dim))
        return nn.ModuleList(mods)

    def _run(self, mods: nn.ModuleList, x: torch.Tensor, t: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        for m in mods:
            x = m(x, t) if isinstance(m, ResBlock) else m(x, ctx)
        return x

    def forward(self, latent: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """latent [B, 2C, h, w] (noisy (+) image), timestep [B], context U [B, L, d] -> prediction [B, C, h, w]."""
        t = self.time_mlp(sinusoidal(timestep, self.cfg.channels[0])) + self.context_proj(context.mean(dim=1))
        if self.cell_map is not None:
            latent = torch.cat([latent, self.cells_as_map(context, latent.shape[-1])], dim=1)
        x = self.conv_in(latent)
        hs = [x]
        for m in self.down:
            x = self._run(m, x, t, context) if isinstance(m, nn.ModuleList) else m(x)
            hs.append(x)
        x = self._run(self.mid, x, t, context)
        for m in self.up:
            if isinstance(m, nn.ModuleList):
                x = self._run(m, torch.cat([x, hs.pop()], dim=1), t, context)
            else:
                x = m(x)
        return self.conv_out(F.silu(self.out_norm(x)))
