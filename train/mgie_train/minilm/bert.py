"""A BERT encoder (post-LayerNorm, GELU with erf), sized for all-MiniLM-L6-v2: 6 layers, 384 wide, 12 heads.

`forward(input_ids, attention_mask)` gives the last layer's token states [B,T,dim]; padded positions
(mask 0) are never attended to, so a text's states do not depend on the padding around it.
`sentence_embedding` pools them as sentence-transformers does for this model: the mean over the
text's tokens, L2-normalised.

Parameter names are this module's own; build.py maps the original checkpoint's names onto them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int = 30522
    dim: int = 384
    layers: int = 6
    heads: int = 12
    ffn_dim: int = 1536
    max_positions: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12


class SelfAttention(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.heads = cfg.heads
        self.head_dim = cfg.dim // cfg.heads
        self.query = nn.Linear(cfg.dim, cfg.dim)
        self.key = nn.Linear(cfg.dim, cfg.dim)
        self.value = nn.Linear(cfg.dim, cfg.dim)
        self.out = nn.Linear(cfg.dim, cfg.dim)

    def forward(self, x: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + mask_bias
        y = scores.softmax(-1) @ v
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class EncoderLayer(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.attention = SelfAttention(cfg)
        self.attention_norm = nn.LayerNorm(cfg.dim, eps=cfg.layer_norm_eps)
        self.ffn_in = nn.Linear(cfg.dim, cfg.ffn_dim)
        self.ffn_out = nn.Linear(cfg.ffn_dim, cfg.dim)
        self.ffn_norm = nn.LayerNorm(cfg.dim, eps=cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
        x = self.attention_norm(x + self.attention(x, mask_bias))
        return self.ffn_norm(x + self.ffn_out(F.gelu(self.ffn_in(x))))


class Embeddings(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.word = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.position = nn.Embedding(cfg.max_positions, cfg.dim)
        self.token_type = nn.Embedding(cfg.type_vocab_size, cfg.dim)
        self.norm = nn.LayerNorm(cfg.dim, eps=cfg.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        t = input_ids.shape[1]
        # Every token is of segment 0 (one sentence), so its embedding is the same for all positions.
        x = self.word(input_ids) + self.position.weight[:t] + self.token_type.weight[0]
        return self.norm(x)


class BertEncoder(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.cfg = cfg
        self.embeddings = Embeddings(cfg)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.layers))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids and mask (1 for a token, 0 for padding), int64 [B,T] -> last layer's states [B,T,dim]."""
        # The most negative float: a padded key's weight after the softmax is exactly 0.
        mask_bias = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        x = self.embeddings(input_ids)
        for layer in self.layers:
            x = layer(x, mask_bias)
        return x

    def sentence_embedding(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The L2-normalised mean of each text's token states [B,dim] (padding left out of the mean)."""
        states = self(input_ids, attention_mask)
        mask = attention_mask[:, :, None].float()
        mean = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return F.normalize(mean, p=2, dim=1)

    def load_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Copies every parameter from `weights` (this module's names); raises ValueError naming each tensor
        that is missing or of the wrong shape. Names not of this module are an error too."""
        params = dict(self.named_parameters())
        problems = [f"{name} is missing" for name in params if name not in weights]
        problems += [
            f"{name} has shape {list(weights[name].shape)}, expected {list(p.shape)}"
            for name, p in params.items()
            if name in weights and tuple(weights[name].shape) != tuple(p.shape)
        ]
        problems += [f"{name} is not a parameter of this encoder" for name in weights if name not in params]
        if problems:
            raise ValueError(
                "the weights do not fit the encoder: " + "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
            )
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(torch.from_numpy(np.array(weights[name], dtype=np.float32)))
