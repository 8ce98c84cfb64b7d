"""A small KL-regularised autoencoder, as in latent diffusion: image [-1,1] <-> latent (4 channels)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..config import VAEConfig
from .layers import GroupNorm


def norm(ch: int) -> GroupNorm:
    return GroupNorm(min(8, ch), ch)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a skip. With an embedding (the UNet's timestep + condition), it sets a
    per-channel scale and shift of the second normalisation (ADM's scale-shift norm), so the
    condition reaches every block and not only those with cross-attention."""

    def __init__(self, cin: int, cout: int, temb: int | None = None):
        super().__init__()
        self.n1 = norm(cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(temb, 2 * cout) if temb else None
        self.n2 = norm(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        h = self.n2(self.c1(F.silu(self.n1(x))))
        if self.t is not None and t is not None:
            scale, shift = self.t(F.silu(t))[:, :, None, None].chunk(2, dim=1)
            h = h * (1 + scale) + shift
        h = self.c2(F.silu(h))
        return self.skip(x) + h


class Encoder(nn.Module):
    """Each stage halves the resolution (strided conv) then refines (residual block); the decoder
    mirrors it with a residual block at full resolution, where reconstruction detail is made."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        ch = cfg.channels
        self.conv_in = nn.Conv2d(3, ch[0], 3, padding=1)
        blocks: list[nn.Module] = []
        cin = ch[0]
        for c in ch:
            blocks += [nn.Conv2d(cin, c, 3, stride=2, padding=1), ResBlock(c, c)]
            cin = c
        self.blocks = nn.Sequential(*blocks)
        self.out_norm = norm(cin)
        self.conv_out = nn.Conv2d(cin, 2 * cfg.latent_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv_out(F.silu(self.out_norm(self.blocks(self.conv_in(x)))))
        mean, logvar = h.chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)


class Decoder(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        ch = list(reversed(cfg.channels))
        self.conv_in = nn.Conv2d(cfg.latent_channels, ch[0], 3, padding=1)
        blocks: list[nn.Module] = [ResBlock(ch[0], ch[0])]
        cin = ch[0]
        for c in ch:
            blocks += [nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(cin, c, 3, padding=1), ResBlock(c, c)]
            cin = c
        self.blocks = nn.Sequential(*blocks)
        self.out_norm = norm(cin)
        self.conv_out = nn.Conv2d(cin, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.conv_out(F.silu(self.out_norm(self.blocks(self.conv_in(z)))))


class VAE(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        mean, logvar = self.encoder(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=generator)
        rec = self.decoder(z)
        l1 = (rec - x).abs().mean()
        mse = F.mse_loss(rec, x)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=(1, 2, 3)).mean()
        total = l1 + mse + self.cfg.kl_weight * kl
        return total, {"l1": l1.item(), "mse": mse.item(), "kl": kl.item()}


class VAEEncode(nn.Module):
    """Export wrapper: image [-1,1] -> scaled latent mean (the editor's input-image condition)."""

    def __init__(self, vae: VAE, scale: float):
        super().__init__()
        self.encoder = vae.encoder
        self.scale = scale

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.encoder(image)[0] * self.scale


class VAEDecode(nn.Module):
    """Export wrapper: scaled latent -> image [-1,1]."""

    def __init__(self, vae: VAE, scale: float):
        super().__init__()
        self.decoder = vae.decoder
        self.scale = scale

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.decoder(latent / self.scale).clamp(-1.0, 1.0)
