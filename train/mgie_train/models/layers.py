"""Attention and transformer blocks shared by every model here.

Attention is written with plain matmul + softmax (no fused kernels) so that it exports to ONNX
opset 14 and runs the same in onnxruntime-node.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class LayerNorm(nn.LayerNorm):
    """nn.LayerNorm computed in float32: under bfloat16 autocast (precision.py) its input may be bfloat16
    while its weights stay float32, which PyTorch 1.13's CPU kernel refuses. No cast in float32 (export)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x if x.dtype == torch.float32 else x.float())


class GroupNorm(nn.GroupNorm):
    """nn.GroupNorm computed in float32, for the same reason as LayerNorm."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x if x.dtype == torch.float32 else x.float())


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, context_dim: int | None = None):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.head_dim = dim // heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(context_dim or dim, dim)
        self.v = nn.Linear(context_dim or dim, dim)
        self.out = nn.Linear(dim, dim)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.reshape(b, t, self.heads, self.head_dim).transpose(1, 2)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """q [B,H,T,D], k/v [B,H,S,D], mask broadcastable to [B,H,T,S] (True = may attend)."""
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        out = torch.matmul(scores.softmax(-1), v)
        b, h, t, d = out.shape
        return self.out(out.transpose(1, 2).reshape(b, t, h * d))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        ctx = x if context is None else context
        return self.attend(self.split(self.q(x)), self.split(self.k(ctx)), self.split(self.v(ctx)), mask)


class MLP(nn.Module):
    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim * mult)
        self.fc2 = nn.Linear(dim * mult, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: self-attention, optional cross-attention, MLP."""

    def __init__(self, dim: int, heads: int, context_dim: int | None = None):
        super().__init__()
        self.norm1 = LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.cross = context_dim is not None
        if self.cross:
            self.norm_c = LayerNorm(dim)
            self.cross_attn = Attention(dim, heads, context_dim)
        self.norm2 = LayerNorm(dim)
        self.mlp = MLP(dim)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), mask=mask)
        if self.cross:
            x = x + self.cross_attn(self.norm_c(x), context, context_mask)
        return x + self.mlp(self.norm2(x))

    def forward_cached(
        self, x: torch.Tensor, past_k: torch.Tensor, past_v: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Causal self-attention over past keys/values plus the new positions; returns the new cache."""
        h = self.norm1(x)
        a = self.attn
        k = torch.cat([past_k, a.split(a.k(h))], dim=2)
        v = torch.cat([past_v, a.split(a.v(h))], dim=2)
        x = x + a.attend(a.split(a.q(h)), k, v, mask)
        return x + self.mlp(self.norm2(x)), k, v


def causal_mask(new: int, past: int | torch.Tensor, device=None) -> torch.Tensor:
    """[1,1,new,past+new] boolean: position i of the new ones sees all past and new positions <= i."""
    q = torch.arange(new, device=device).unsqueeze(1) + past
    k = torch.arange(past + new, device=device).unsqueeze(0)
    return (k <= q).unsqueeze(0).unsqueeze(0)


def sinusoidal(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Timestep embedding of diffusion models: [B] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float().unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


POSITION_FEATURES = 16


def grid_features(h: int, w: int) -> torch.Tensor:
    """[h*w, POSITION_FEATURES] sines and cosines of each pixel's row and column (fixed)."""
    n = POSITION_FEATURES // 4
    freqs = math.pi * 2.0 ** torch.arange(n, dtype=torch.float32)
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w
    fy = (ys[:, None] * freqs[None]).repeat_interleave(w, dim=0)
    fx = (xs[:, None] * freqs[None]).repeat(h, 1)
    return torch.cat([fy.sin(), fy.cos(), fx.sin(), fx.cos()], dim=1)
