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


def orientations(x: torch.Tensor) -> list[torch.Tensor]:
    """The 8 orientations of a square map [B, C, h, h] (the symmetries of the square): as it is, flipped
    left-right, top-bottom, both (rotated 180 degrees), transposed, and the transpose flipped each way
    (rotated 90 degrees either way) and both (the other diagonal)."""
    t = x.transpose(2, 3)
    return [x, x.flip(3), x.flip(2), x.flip((2, 3)), t, t.flip(3), t.flip(2), t.flip((2, 3))]


def reorient(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Each map of x [B, C, h, h] in the orientation `index` [B] (an index into `orientations`) names."""
    return torch.stack([orientations(x[i : i + 1])[int(k)][0] for i, k in enumerate(index)])


class OrientationMix(nn.Module):
    """The input image's latent in each of its 8 orientations, mixed by weights the condition chooses
    (a softmax over logits, see UNet.orientation_logits), joins the UNet's input. Convolutions keep content where
    it is, and before this every editor left flips and rotations undone, hardly better than the unedited
    input (see docs/EXPERIMENTS.md): moving each pixel to its mirrored place was beyond a few attention
    layers at low resolution. Here the orientation is a choice the condition makes, for every editor."""

    def __init__(self, context_dim: int):
        super().__init__()
        self.logits = nn.Linear(context_dim, 8)
        # Starts as the even mix of all 8; training moves the weight to the one each edit needs.
        nn.init.zeros_(self.logits.weight)
        nn.init.zeros_(self.logits.bias)

    def forward(self, image_latent: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """image_latent [B, C, h, h], logits [B, 8] -> [B, C, h, h]."""
        # (Not while tracing for ONNX: there the shapes are fixed and the check would be a constant.)
        if not torch.jit.is_tracing() and image_latent.shape[2] != image_latent.shape[3]:
            raise ValueError(f"orientations need a square latent, not {image_latent.shape[2]}x{image_latent.shape[3]}")
        w = torch.softmax(logits, dim=-1)
        views = torch.stack(orientations(image_latent), dim=1)
        return (w[:, :, None, None, None] * views).sum(dim=1)


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
        # Noisy latent and input-image latent are concatenated on channels (8 in, 4 out), then the
        # reoriented input latent and the cell map.
        self.orientation = OrientationMix(context_dim) if cfg.orientations else None
        self.cell_map = nn.Linear(context_dim, cfg.cell_map_channels) if grid else None
        extra = (latent_channels if cfg.orientations else 0) + (cfg.cell_map_channels if grid else 0)
        self.conv_in = nn.Conv2d(2 * latent_channels + extra, ch[0], 3, padding=1)
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
        self.mid = nn.ModuleList(
            [ResBlock(cin, cin, cfg.time_dim), SpatialTransformer(cin, cfg.heads, context_dim), ResBlock(cin, cin, cfg.time_dim)]
        )
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

    def orientation_logits(self, context: torch.Tensor) -> torch.Tensor:
        """context U [B, L, d] -> [B, 8]: the orientation chosen from the mean of U's learned-query rows only.
        The per-cell rows say where the edit acts; pooling them in too (and training the choice through
        them) made MGIE-E2E's local edits worse on validation (see docs/EXPERIMENTS.md)."""
        queries = context.shape[1] - self.grid * self.grid
        return self.orientation.logits(context[:, :queries].mean(dim=1))

    def forward(self, latent: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """latent [B, 2C, h, w] (noisy (+) image), timestep [B], context U [B, L, d] -> prediction [B, C, h, w]."""
        t = self.time_mlp(sinusoidal(timestep, self.cfg.channels[0])) + self.context_proj(context.mean(dim=1))
        if self.orientation is not None:
            image = latent[:, latent.shape[1] // 2 :]
            latent = torch.cat([latent, self.orientation(image, self.orientation_logits(context))], dim=1)
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
