"""The instruction as the frozen MiniLM reads it (all-MiniLM-L6-v2, models/minilm/): the last layer's
token states, [CLS] and [SEP] included. Every model reads the instruction this way, through a learned
projection (MGIE's LM blocks stay frozen too): the LMs (mllm-ins, lm-ins) as prompt positions, InsPix2Pix
as its text encoder's input. The stage `instructions` encodes a dataset's instructions once (a cache,
like the latents); training reads them from there."""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import torch

from .minilm import load_encoder
from .minilm.model_dir import DEFAULT_DIR as DEFAULT_MINILM_DIR

__all__ = ["DEFAULT_MINILM_DIR", "InstructionReader", "InstructionStates", "encode_instructions", "padded"]

BATCH = 64


class InstructionReader:
    """MiniLM on the training side: texts -> one [n_tokens, dim] float tensor each (n_tokens <= max_tokens)."""

    def __init__(self, max_tokens: int, minilm_dir: str = DEFAULT_MINILM_DIR):
        self.tokenizer, self.encoder = load_encoder(minilm_dir)
        self.encoder.eval()
        self.max_tokens = max_tokens
        self.dim = self.encoder.cfg.dim

    @torch.no_grad()
    def states(self, texts: list[str]) -> list[torch.Tensor]:
        out: list[torch.Tensor | None] = [None] * len(texts)
        # Texts of similar length share a batch, so little of each batch is padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for s in range(0, len(order), BATCH):
            chunk = order[s : s + BATCH]
            ids, mask = self.tokenizer.encode_batch([texts[i] for i in chunk], self.max_tokens)
            states = self.encoder(torch.tensor(ids), torch.tensor(mask))
            for row, i in enumerate(chunk):
                out[i] = states[row, : sum(mask[row])].clone()
        return out  # type: ignore[return-value]


def _digest(texts: list[str]) -> str:
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()


def encode_instructions(rows: list[dict], path: str, max_tokens: int, minilm_dir: str = DEFAULT_MINILM_DIR) -> None:
    """Writes the states of every row's instruction, then of the empty instruction (the null condition),
    to `path` (float16 [N+1, max_tokens, dim], zero-padded) and `path`.json (lengths and a digest of the
    texts, so that a cache of another dataset is refused)."""
    reader = InstructionReader(max_tokens, minilm_dir)
    texts = [r["instruction"] for r in rows] + [""]
    tmp = path + ".tmp.npy"
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(len(texts), max_tokens, reader.dim))
    lengths: list[int] = []
    step = 4096
    for s in range(0, len(texts), step):
        for j, st in enumerate(reader.states(texts[s : s + step])):
            out[s + j, : len(st)] = st.numpy().astype(np.float16)
            lengths.append(len(st))
        print(f"[instructions] {min(s + step, len(texts))}/{len(texts)}", flush=True)
    out.flush()
    del out
    os.replace(tmp, path)
    with open(path + ".json", "w", encoding="utf-8") as f:
        json.dump(
            {"count": len(rows), "max_tokens": max_tokens, "dim": reader.dim, "digest": _digest(texts[:-1]), "lengths": lengths},
            f,
        )


class InstructionStates:
    """The cache `encode_instructions` wrote, checked against the dataset it is used with."""

    def __init__(self, path: str, rows: list[dict]):
        if not os.path.isfile(path) or not os.path.isfile(path + ".json"):
            raise FileNotFoundError(f"no instruction states at {path}: run the 'instructions' stage first")
        with open(path + ".json", encoding="utf-8") as f:
            meta = json.load(f)
        if meta.get("count") != len(rows) or meta.get("digest") != _digest([r["instruction"] for r in rows]):
            raise ValueError(f"{path} holds the instructions of another dataset: run the 'instructions' stage again")
        self.states = np.load(path, mmap_mode="r", allow_pickle=False)
        expected = (len(rows) + 1, meta["max_tokens"], meta["dim"])
        if self.states.dtype != np.float16 or self.states.shape != expected:
            raise ValueError(f"{path}: expected float16 {expected}, found {self.states.dtype} {self.states.shape}")
        self.lengths = meta["lengths"]
        if len(self.lengths) != len(rows) + 1 or not all(1 <= n <= expected[1] for n in self.lengths):
            raise ValueError(f"{path}.json: lengths do not fit the states; run the 'instructions' stage again")
        self.dim = expected[2]

    def get(self, idx: list[int]) -> list[torch.Tensor]:
        return [torch.from_numpy(self.states[i, : self.lengths[i]].astype(np.float32)) for i in idx]

    def empty(self) -> torch.Tensor:
        """The states of the empty instruction ([CLS] [SEP])."""
        return self.get([len(self.lengths) - 1])[0]


def padded(states: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, T, dim] zero-padded states and their mask [B, T] (True = a token)."""
    width = max(len(s) for s in states)
    out = torch.zeros(len(states), width, states[0].shape[1])
    mask = torch.zeros(len(states), width, dtype=torch.bool)
    for i, s in enumerate(states):
        out[i, : len(s)] = s
        mask[i, : len(s)] = True
    return out, mask
