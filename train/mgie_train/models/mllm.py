"""The multimodal LM: a patch ViT + linear projector into a causal byte-level transformer LM.

Sequence: [BOS] [image features] [prompt] [SEP] [expressive bytes] [IMG0..IMG(N-1)] [EOS], where the
instruction's prompt is "what will this image be like if " in bytes followed by the instruction as the
frozen MiniLM reads it (its token states through InstructionProjector: instructions.py).
With `vision=False` the same LM reads text only: that is the LGIE baseline.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..config import MLLMConfig
from ..tokenizer import PROMPT, Tokenizer
from .layers import Block, GroupNorm, LayerNorm, causal_mask


class VisionEncoder(nn.Module):
    """A convolutional stem down to a grid of patch x patch cells, then transformer blocks over the grid.
    The output groups pool x pool neighbouring cells into one feature vector.

    Convolutions rather than a linear patch embedding: at 64 px a small object spans one or two 8 px
    patches, and a ViT trained from scratch on our data never learned to tell its shape (its
    descriptions named shapes at chance); a CNN's locality prior learns edges and corners quickly."""

    def __init__(self, cfg: MLLMConfig, res: int):
        super().__init__()
        if cfg.patch < 2 or cfg.patch & (cfg.patch - 1):
            raise ValueError(f"patch {cfg.patch} must be a power of two (one stride-2 convolution stage per halving)")
        if res % (cfg.patch * cfg.pool):
            raise ValueError(f"resolution {res} is not a multiple of patch {cfg.patch} x pool {cfg.pool}")
        self.grid = res // cfg.patch
        self.pool = cfg.pool
        self.dim = cfg.vision_dim
        stages = cfg.patch.bit_length() - 1
        layers: list[nn.Module] = []
        c = 3
        for i in range(stages):
            w = cfg.vision_dim >> (stages - 1 - i)
            layers += [
                nn.Conv2d(c, w, 3, stride=2, padding=1),
                GroupNorm(8, w),
                nn.SiLU(),
                nn.Conv2d(w, w, 3, padding=1),
                GroupNorm(8, w),
                nn.SiLU(),
            ]
            c = w
        self.stem = nn.Sequential(*layers)
        self.pos = nn.Parameter(torch.randn(1, self.grid * self.grid, cfg.vision_dim) * 0.02)
        self.blocks = nn.ModuleList(Block(cfg.vision_dim, cfg.heads) for _ in range(cfg.vision_layers))
        self.norm = LayerNorm(cfg.vision_dim)

    @property
    def num_tokens(self) -> int:
        return (self.grid // self.pool) ** 2

    def cells(self, image: torch.Tensor) -> torch.Tensor:
        """image [B,3,H,W] in [-1,1] -> one feature per grid cell, row-major: [B, grid*grid, vision_dim]"""
        x = self.stem(image).flatten(2).transpose(1, 2) + self.pos
        for b in self.blocks:
            x = b(x)
        return self.norm(x)

    def pooled(self, cells: torch.Tensor) -> torch.Tensor:
        """[B, grid*grid, d] -> [B, num_tokens, pool*pool*d], the LM's image tokens in row-major order."""
        b, _, d = cells.shape
        g, p = self.grid, self.pool
        x = cells.reshape(b, g // p, p, g // p, p, d).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(b, (g // p) * (g // p), p * p * d)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.pooled(self.cells(image))


class InstructionProjector(nn.Module):
    """MiniLM's token states [.., instruction_dim] -> LM input embeddings [.., dim] (LayerNorm, then linear)."""

    def __init__(self, instruction_dim: int, dim: int):
        super().__init__()
        self.norm = LayerNorm(instruction_dim)
        self.proj = nn.Linear(instruction_dim, dim)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.proj(self.norm(states))


class MLLM(nn.Module):
    def __init__(self, cfg: MLLMConfig, res: int, tokenizer: Tokenizer, vision: bool = True):
        super().__init__()
        self.cfg = cfg
        self.tok = tokenizer
        self.vocab = tokenizer.vocab_size
        self.vision = VisionEncoder(cfg, res) if vision else None
        self.projector = nn.Linear(cfg.pool * cfg.pool * cfg.vision_dim, cfg.dim) if vision else None
        self.num_prefix = 1 + (self.vision.num_tokens if self.vision is not None else 0)
        self.embed = nn.Embedding(self.vocab, cfg.dim)
        self.pos = nn.Parameter(torch.randn(cfg.max_len, cfg.dim) * 0.02)
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads) for _ in range(cfg.layers))
        self.norm = LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, self.vocab, bias=False)
        nn.init.normal_(self.embed.weight, std=0.02)

    def prefix(self, image: torch.Tensor | None, batch: int) -> torch.Tensor:
        """[BOS] followed by the projected image features: [B, num_prefix, dim]."""
        return self.prefix_from_features(self.vision(image) if self.vision is not None else None, batch)

    def prefix_from_features(self, features: torch.Tensor | None, batch: int) -> torch.Tensor:
        """The prefix from the vision encoder's output (None for a text-only LM)."""
        bos = self.embed(torch.full((batch, 1), self.tok.bos, dtype=torch.long))
        if features is None:
            return bos
        return torch.cat([bos, self.projector(features)], dim=1)

    def image_cells(self, prefix: torch.Tensor) -> torch.Tensor | None:
        """The image tokens of a prefix ([B, grid*grid, dim], row-major), or None for a text-only LM."""
        return prefix[:, 1:] if self.vision is not None else None

    def img_embeddings(self) -> torch.Tensor:
        """Input embeddings of the [IMG] tokens: [N, dim]."""
        return self.embed.weight[self.tok.img0 : self.tok.img0 + self.cfg.num_img_tokens]

    def forward(self, embeds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced pass over whole sequences: -> (logits [B,T,V], last-layer hidden [B,T,dim])."""
        t = embeds.shape[1]
        if t > self.cfg.max_len:
            raise ValueError(f"sequence of {t} positions exceeds max_len {self.cfg.max_len}")
        x = embeds + self.pos[:t]
        mask = causal_mask(t, 0)
        for b in self.blocks:
            x = b(x, mask=mask)
        h = self.norm(x)
        return self.head(h), h

    def forward_cached(
        self, embeds: torch.Tensor, past_k: torch.Tensor, past_v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Incremental pass. past_k/past_v: [layers, B, heads, P, head_dim] (P may be 0).
        Returns logits [B,T,V], hidden [B,T,dim] and the caches extended by the T new positions."""
        t = embeds.shape[1]
        past = past_k.shape[3]
        x = embeds + self.pos[torch.arange(t) + past]
        mask = causal_mask(t, past)
        ks, vs = [], []
        for i, b in enumerate(self.blocks):
            x, k, v = b.forward_cached(x, past_k[i], past_v[i], mask)
            ks.append(k)
            vs.append(v)
        h = self.norm(x)
        return self.head(h), h, torch.stack(ks), torch.stack(vs)

    def empty_cache(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (self.cfg.layers, batch, self.cfg.heads, 0, self.cfg.dim // self.cfg.heads)
        return torch.zeros(shape), torch.zeros(shape)


def instruction_prompt(model: MLLM, proj: InstructionProjector, states: torch.Tensor) -> torch.Tensor:
    """The prompt of L_ins as embeddings [P, dim]: PROMPT's tokens, the projected instruction states, SEP."""
    tok = model.tok
    return torch.cat([model.embed(torch.tensor(tok.encode(PROMPT))), proj(states), model.embed(torch.tensor([tok.sep]))])


def text_prompt(model: MLLM, ids: list[int]) -> torch.Tensor:
    """A prompt given as token ids (e.g. "describe the image" SEP), as embeddings [P, dim]."""
    return model.embed(torch.tensor(ids))


def build_batch(model: MLLM, prefix: torch.Tensor, prompts: list[torch.Tensor], targets: list[list[int]]):
    """Teacher-forcing batch after `prefix` (model.prefix(...), [B, num_prefix, dim]) of prompts given as
    embeddings ([P_i, dim] each): embeddings [B,T,dim], label ids [B,T] (-100 = no loss), and the start
    index of each target. Sequences are right-padded, so the causal mask alone keeps pads unseen."""
    b = len(prompts)
    width = max(len(p) + len(t) for p, t in zip(prompts, targets))
    rows = []
    labels = torch.full((b, model.num_prefix + width), -100, dtype=torch.long)
    starts = []
    for i, (p, t) in enumerate(zip(prompts, targets)):
        pad = [model.tok.pad] * (width - len(p) - len(t))
        rows.append(torch.cat([p, model.embed(torch.tensor(t + pad, dtype=torch.long))]))
        s = model.num_prefix + len(p)
        # Position j predicts token j+1: the label of position s-1 is the first target token.
        labels[i, s - 1 : s - 1 + len(t)] = torch.tensor(t)
        starts.append(s)
    embeds = torch.cat([prefix, torch.stack(rows)], dim=1)
    return embeds, labels, starts


def instruction_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_ins: cross-entropy on the target tokens (expressive instruction, [IMG] tokens, EOS)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def img_hidden(hidden: torch.Tensor, starts: list[int], expressive_lens: list[int], n: int) -> torch.Tensor:
    """The visual imagination: hidden states at the N positions that predict [IMG0..IMG(N-1)]."""
    rows = []
    for i, (s, e) in enumerate(zip(starts, expressive_lens)):
        first = s + e  # index of IMG0 in the sequence
        rows.append(hidden[i, first - 1 : first - 1 + n])
    return torch.stack(rows)


class _TrieNode:
    def __init__(self):
        self.next: dict[int, _TrieNode] = {}
        self.end = False


class ExpressiveTrie:
    """The expressive instructions a model may give (its expressive.json), as a trie of their tokens, for
    constrained decoding."""

    def __init__(self, texts: list[str], tok: Tokenizer):
        self.root = _TrieNode()
        for text in texts:
            node = self.root
            for i in tok.encode(text):
                node = node.next.setdefault(i, _TrieNode())
            node.end = True


@dataclass
class Generated:
    ids: list[int]  # the expressive instruction's tokens
    text: str
    states: torch.Tensor  # [N, dim]: the visual imagination
    cells: torch.Tensor | None  # [P, dim]: the image tokens the LM read (None for a text-only LM)


@torch.no_grad()
def generate(
    model: MLLM, proj: InstructionProjector, image: torch.Tensor | None, states: torch.Tensor, trie: ExpressiveTrie | None = None
) -> Generated:
    """Greedy decoding with the KV cache, one example (`states`: the instruction's MiniLM states), held to
    the instructions of `trie` when given (as the TypeScript runtime decodes). Stops at [IMG0], EOS or the
    token cap, then feeds the [IMG] tokens to collect the hidden states of the positions that predict them."""
    tok = model.tok
    n = model.cfg.num_img_tokens
    prefix = model.prefix(image, 1)
    embeds = torch.cat([prefix, instruction_prompt(model, proj, states)[None]], dim=1)
    k, v = model.empty_cache(1)
    logits, hidden, k, v = model.forward_cached(embeds, k, v)
    out: list[int] = []
    last_hidden = hidden[:, -1:]
    node = trie.root if trie is not None else None
    while len(out) < model.cfg.max_new_tokens:
        if node is None:
            nxt = int(logits[0, -1].argmax())
        else:
            allowed = sorted(node.next) + ([tok.img0, tok.eos] if node.end else [])
            # The first of the highest: ties go to the smaller id, as in the TypeScript runtime.
            nxt = allowed[int(logits[0, -1, allowed].argmax())]
        if nxt == tok.img0 or nxt == tok.eos:
            break
        out.append(nxt)
        if node is not None:
            node = node.next[nxt]
        logits, last_hidden, k, v = model.forward_cached(model.embed(torch.tensor([[nxt]])), k, v)
    # The position that predicts IMG0 is the last one fed; then IMG0..IMG(N-2) are fed in turn.
    states = [last_hidden[0, -1]]
    for j in range(n - 1):
        _, h, k, v = model.forward_cached(model.embed(torch.tensor([[tok.img0 + j]])), k, v)
        states.append(h[0, -1])
    cells = model.image_cells(prefix)
    return Generated(out, tok.decode(out), torch.stack(states), None if cells is None else cells[0])


@torch.no_grad()
def greedy(model: MLLM, image: torch.Tensor | None, prompt: list[int], max_new: int) -> str:
    """Greedy decoding of one answer to `prompt` (token ids) until EOS: the text."""
    embeds = torch.cat([model.prefix(image, 1), model.embed(torch.tensor([prompt]))], dim=1)
    k, v = model.empty_cache(1)
    logits, _, k, v = model.forward_cached(embeds, k, v)
    out: list[int] = []
    while len(out) < max_new:
        nxt = int(logits[0, -1].argmax())
        if nxt == model.tok.eos:
            break
        out.append(nxt)
        logits, _, k, v = model.forward_cached(model.embed(torch.tensor([[nxt]])), k, v)
    return model.tok.decode(out)
