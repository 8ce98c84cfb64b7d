"""Byte-level BPE tokenizer: text is UTF-8 bytes (ids 0-255), merged by learned byte-pair merges.
Any text a user types encodes without loss: a word the merges never saw stays as its bytes.

Ids: 0-255 bytes, 256.. one per merge, then BOS, EOS, PAD, SEP and the N [IMG] tokens. Words are
split before merging at each space (the space belongs to the word after it), as in GPT-2.
The TypeScript runtime implements the same encoding from the same JSON (tested for parity).
"""
from __future__ import annotations

import json
import re
from collections import Counter

PROMPT = "what will this image be like if "
_WORDS = re.compile(r" ?[^ ]+| +")


class Tokenizer:
    def __init__(self, merges: list[tuple[int, int]], num_img_tokens: int):
        self.merges = [tuple(m) for m in merges]
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.num_img_tokens = num_img_tokens
        base = 256 + len(self.merges)
        self.bos, self.eos, self.pad, self.sep = base, base + 1, base + 2, base + 3
        self.img0 = base + 4
        self.vocab_size = self.img0 + num_img_tokens
        self._pieces: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for i, (a, b) in enumerate(self.merges):
            self._pieces[256 + i] = self._pieces[a] + self._pieces[b]
        self._cache: dict[bytes, list[int]] = {}

    @staticmethod
    def train(texts: list[str], num_merges: int, num_img_tokens: int) -> "Tokenizer":
        """Learns merges from a corpus, most frequent pair first (ties broken by the smaller pair)."""
        words = Counter(w.encode("utf-8") for t in texts for w in _WORDS.findall(t))
        seqs = {w: list(w) for w in words}
        merges: list[tuple[int, int]] = []
        for k in range(num_merges):
            pairs: Counter = Counter()
            for w, s in seqs.items():
                for p in zip(s, s[1:]):
                    pairs[p] += words[w]
            if not pairs:
                break
            best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
            new = 256 + k
            merges.append(best)
            for w, s in seqs.items():
                seqs[w] = _merge(s, best, new)
        return Tokenizer(merges, num_img_tokens)

    def _word(self, w: bytes) -> list[int]:
        hit = self._cache.get(w)
        if hit is not None:
            return hit
        s = list(w)
        while len(s) > 1:
            ranked = [(self.ranks[p], p) for p in zip(s, s[1:]) if p in self.ranks]
            if not ranked:
                break
            r, p = min(ranked)
            s = _merge(s, p, 256 + r)
        if len(self._cache) < 100_000:
            self._cache[w] = s
        return s

    def encode(self, text: str) -> list[int]:
        return [i for w in _WORDS.findall(text) for i in self._word(w.encode("utf-8"))]

    def decode(self, ids: list[int]) -> str:
        return b"".join(self._pieces[i] for i in ids if i in self._pieces).decode("utf-8", errors="replace")

    def img_tokens(self) -> list[int]:
        return [self.img0 + k for k in range(self.num_img_tokens)]

    def prompt_ids(self, instruction: str) -> list[int]:
        """The text after the image (BOS and the image features come first)."""
        return self.encode(PROMPT + instruction.strip()) + [self.sep]

    def target_ids(self, expressive: str) -> list[int]:
        """What the MLLM learns to generate: the expressive instruction, the [IMG] tokens, EOS."""
        return self.encode(expressive) + self.img_tokens() + [self.eos]

    def to_json(self) -> dict:
        return {
            "format": "mgie-bpe-1",
            "merges": [list(m) for m in self.merges],
            "num_img_tokens": self.num_img_tokens,
            "special": {"bos": self.bos, "eos": self.eos, "pad": self.pad, "sep": self.sep, "img0": self.img0},
            "vocab_size": self.vocab_size,
            "prompt": PROMPT,
        }

    @staticmethod
    def from_json(d: dict) -> "Tokenizer":
        if d.get("format") != "mgie-bpe-1":
            raise ValueError(f"not an mgie tokenizer (format {d.get('format')!r})")
        merges = d["merges"]
        for i, m in enumerate(merges):
            if len(m) != 2 or not all(isinstance(x, int) and 0 <= x < 256 + i for x in m):
                raise ValueError(f"tokenizer merge {i} is malformed: {m!r}")
        return Tokenizer([tuple(m) for m in merges], int(d["num_img_tokens"]))

    def save(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f)

    @staticmethod
    def load(path: str) -> "Tokenizer":
        with open(path, encoding="utf-8") as f:
            return Tokenizer.from_json(json.load(f))


def _merge(s: list[int], pair: tuple[int, int], new: int) -> list[int]:
    out: list[int] = []
    i = 0
    while i < len(s):
        if i + 1 < len(s) and s[i] == pair[0] and s[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(s[i])
            i += 1
    return out
