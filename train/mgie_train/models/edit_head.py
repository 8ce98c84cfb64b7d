"""The edit head and the InsPix2Pix text encoder: both map a token sequence to the UNet's
conditioning U [B, L, context_dim] through a transformer encoder and L learned queries (an
image-reading edit head adds one query per image cell, see `EditHead`)."""
from __future__ import annotations

import torch
from torch import nn

from ..config import EditHeadConfig, TextEncoderConfig
from .layers import POSITION_FEATURES, Block, LayerNorm, grid_features


class QueryDecoder(nn.Module):
    """L learned queries cross-attending to an encoded sequence, projected to the context width."""

    def __init__(self, dim: int, heads: int, layers: int, queries: int, context_dim: int):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(1, queries, dim) * 0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, context_dim=dim) for _ in range(layers))
        self.norm = LayerNorm(dim)
        self.out = nn.Linear(dim, context_dim)

    def forward(
        self, memory: torch.Tensor, memory_mask: torch.Tensor | None = None, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """memory [B,S,dim] -> [B, L(+E), context_dim]; `extra` [B,E,dim] are further queries, after the learned ones."""
        x = self.queries.expand(memory.shape[0], -1, -1)
        if extra is not None:
            x = torch.cat([x, extra], dim=1)
        for b in self.blocks:
            x = b(x, memory, context_mask=memory_mask)
        return self.out(self.norm(x))


class EditHead(nn.Module):
    """[IMG] hidden states (+ the [IMG] tokens' input embeddings) -> U, as in the official code.

    With `grid` > 0 (an MLLM that sees the image) the head also reads the image tokens the MLLM was
    given, one per grid cell: each becomes a query (its projected feature plus its position) that
    attends to the encoded [IMG] states, so U gains one row per cell saying what the edit does
    *there*. The UNet reads these rows as a map at its input (see UNet). Without them the 16 rows of
    U must name the edited object in words and the UNet must find it itself: every editor then barely
    performed local edits, hardly better than leaving the input (see docs/EXPERIMENTS.md)."""

    def __init__(self, cfg: EditHeadConfig, llm_dim: int, grid: int = 0):
        super().__init__()
        self.grid = grid
        self.length = cfg.queries + grid * grid  # rows of U: the learned queries, then one per image cell
        self.inp = nn.Linear(llm_dim, cfg.dim)
        self.encoder = nn.ModuleList(Block(cfg.dim, cfg.heads) for _ in range(cfg.encoder_layers))
        self.enc_norm = LayerNorm(cfg.dim)
        self.decoder = QueryDecoder(cfg.dim, cfg.heads, cfg.decoder_layers, cfg.queries, cfg.context_dim)
        if grid:
            self.cell_in = nn.Linear(llm_dim, cfg.dim)
            self.cell_pos = nn.Linear(POSITION_FEATURES, cfg.dim)

    def forward(self, img_hidden: torch.Tensor, img_embed: torch.Tensor, cells: torch.Tensor | None = None) -> torch.Tensor:
        """img_hidden [B,N,llm_dim], img_embed [N,llm_dim], cells [B,grid*grid,llm_dim] (required with grid > 0)."""
        if (cells is None) != (self.grid == 0):
            raise ValueError("the image cells are required by an edit head with a grid, and only by one")
        x = self.inp(img_hidden + img_embed)
        for b in self.encoder:
            x = b(x)
        extra = None if cells is None else self.cell_in(cells) + self.cell_pos(grid_features(self.grid, self.grid))
        return self.decoder(self.enc_norm(x), extra=extra)


class EditHeadExport(nn.Module):
    """Export wrapper with the [IMG] embeddings baked in: img_hidden [B,N,d] (and cells [B,G*G,d] with a
    grid) -> U. The null condition of guidance is this applied to zeros, as in the official code."""

    def __init__(self, head: EditHead, img_embed: torch.Tensor):
        super().__init__()
        self.head = head
        self.register_buffer("img_embed", img_embed.detach().clone())

    def forward(self, img_hidden: torch.Tensor, cells: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(img_hidden, self.img_embed, cells)


class TextEncoder(nn.Module):
    """The InsPix2Pix baseline's condition: the raw instruction as the frozen MiniLM reads it (as
    InstructPix2Pix reads it with a frozen CLIP text encoder) -> U, no language model."""

    def __init__(self, cfg: TextEncoderConfig, instruction_dim: int, queries: int, context_dim: int):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Sequential(LayerNorm(instruction_dim), nn.Linear(instruction_dim, cfg.dim))
        self.pos = nn.Parameter(torch.randn(1, cfg.max_len, cfg.dim) * 0.02)
        self.encoder = nn.ModuleList(Block(cfg.dim, cfg.heads) for _ in range(cfg.layers))
        self.enc_norm = LayerNorm(cfg.dim)
        self.decoder = QueryDecoder(cfg.dim, cfg.heads, cfg.layers, queries, context_dim)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """MiniLM states [B,T,instruction_dim] (T <= max_len), mask [B,T] bool (True = a token) -> U [B,L,context_dim]."""
        x = self.embed(states) + self.pos[:, : states.shape[1]]
        key_mask = mask[:, None, None, :]
        for b in self.encoder:
            x = b(x, mask=key_mask)
        return self.decoder(self.enc_norm(x), key_mask)
