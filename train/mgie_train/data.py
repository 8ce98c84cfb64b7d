"""Reads a SynthEdit dataset folder (written by `mgie data generate`; format in docs/DATA.md) with numpy alone."""
from __future__ import annotations

import json
import os

import numpy as np
import torch


class DataFormatError(ValueError):
    pass


class SynthEditData:
    def __init__(self, root: str):
        meta_path = os.path.join(root, "dataset.json")
        if not os.path.isfile(meta_path):
            raise DataFormatError(f"{root} is not a SynthEdit dataset (no dataset.json); make one with 'mgie data generate'")
        with open(meta_path, encoding="utf-8") as f:
            self.meta = json.load(f)
        if self.meta.get("format") != "synthedit-dataset-1":
            raise DataFormatError(f"{meta_path}: unknown format {self.meta.get('format')!r}")
        with open(os.path.join(root, "index.jsonl"), encoding="utf-8") as f:
            self.rows = [json.loads(line) for line in f if line.strip()]
        if len(self.rows) != self.meta["count"]:
            raise DataFormatError(f"{root}/index.jsonl has {len(self.rows)} rows, dataset.json says {self.meta['count']}")
        self.res = int(self.meta["res"])
        self.shards: dict[str, dict[str, np.ndarray]] = {}
        for s in self.meta["shards"]:
            parts = {}
            for part, shape in (("input", (s["count"], self.res, self.res, 3)), ("target", (s["count"], self.res, self.res, 3)), ("mask", (s["count"], self.res, self.res))):
                path = os.path.join(root, "shards", f"{s['name']}-{part}.npy")
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
                if arr.dtype != np.uint8 or arr.shape != shape:
                    raise DataFormatError(f"{path}: expected uint8 {shape}, found {arr.dtype} {arr.shape}")
                parts[part] = arr
            self.shards[s["name"]] = parts

    def __len__(self) -> int:
        return len(self.rows)

    def images(self, idx: list[int], part: str) -> torch.Tensor:
        """uint8 HWC -> float NCHW in [-1, 1]."""
        arr = np.stack([self.shards[self.rows[i]["shard"]][part][self.rows[i]["row"]] for i in idx])
        return torch.from_numpy(arr.astype(np.float32) / 127.5 - 1.0).permute(0, 3, 1, 2).contiguous()

    def masks(self, idx: list[int]) -> torch.Tensor:
        arr = np.stack([self.shards[self.rows[i]["shard"]]["mask"][self.rows[i]["row"]] for i in idx])
        return torch.from_numpy(arr.astype(np.float32))


def describe(row: dict) -> str:
    """What is in the input image, in words: the target of the MLLM's "seeing" pre-training.
    Objects are listed left to right; photos are described by the defect they were given."""
    src = row["source"]
    if src["type"] == "scene":
        objs = sorted(src["objects"], key=lambda o: o["cx"])
        return "shapes: " + ", ".join(f"{o['size']} {o['color']} {o['shape']}" for o in objs)
    op = row["op"]
    if op == "fix-underexposure":
        return "a dark, underexposed photo"
    if op == "fix-overexposure":
        return "a bright, overexposed photo"
    if op == "remove-cast":
        return f"a photo with a {row['params']['cast']} colour cast"
    if op == "boost-dull":
        return "a dull, flat photo"
    return "a well exposed photo"


DESCRIBE_PROMPT = "describe the image"
