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
            for part, shape in (
                ("input", (s["count"], self.res, self.res, 3)),
                ("target", (s["count"], self.res, self.res, 3)),
                ("mask", (s["count"], self.res, self.res)),
            ):
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

    def scene_indices(self) -> list[int]:
        """The examples whose input is a rendered scene of objects (not a photo)."""
        return [i for i, r in enumerate(self.rows) if r["source"]["type"] == "scene"]

    def masks(self, idx: list[int]) -> torch.Tensor:
        arr = np.stack([self.shards[self.rows[i]["shard"]]["mask"][self.rows[i]["row"]] for i in idx])
        return torch.from_numpy(arr.astype(np.float32))


# The scene vocabulary of src/data/scene/objects.ts (class indices of the object head).
COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "white")
SHAPES = ("circle", "square", "triangle", "star", "hexagon")
SIZES = ("small", "large")


def _covered(o: dict, cx: torch.Tensor, cy: torch.Tensor, grid: int, cell: float) -> torch.Tensor:
    """The grid cells (row-major, bool) labelled with object `o`: those whose centre it covers (within 0.8
    of its radius, inside every shape) and the one holding its centre, so that even a small object has one."""
    covered = ((cx - o["cx"]) ** 2 + (cy - o["cy"]) ** 2 < (0.8 * o["r"]) ** 2).flatten()
    covered[min(grid - 1, int(o["cy"] / cell)) * grid + min(grid - 1, int(o["cx"] / cell))] = True
    return covered


def _paint_objects(rows: list[dict], res: int, grid: int, channels: int, label) -> torch.Tensor:
    """[B, channels, grid*grid] class indices, row-major: each scene object's `label(row, object)` (one
    index per channel) in the cells `_covered` gives it, 0 elsewhere. Objects are painted in list order,
    so a later one overwrites an earlier one; photos have none."""
    cell = res / grid
    centres = (torch.arange(grid, dtype=torch.float32) + 0.5) * cell
    cy, cx = torch.meshgrid(centres, centres, indexing="ij")
    out = torch.zeros(len(rows), channels, grid * grid, dtype=torch.long)
    for b, r in enumerate(rows):
        if r["source"]["type"] != "scene":
            continue
        for o in r["source"]["objects"]:
            out[b][:, _covered(o, cx, cy, grid, cell)] = torch.tensor(label(r, o))[:, None]
    return out


def object_grid(rows: list[dict], res: int, grid: int) -> torch.Tensor:
    """Labels of the object head: [B, 3, grid*grid] class indices (colour, shape, size; 0 = none), row-major.
    Labelling every cell an object covers rather than only its centre cell spares the head guessing which
    of two neighbouring cells a centre near their border falls in."""

    def label(r: dict, o: dict) -> list[int]:
        for name, vocab in (("color", COLOURS), ("shape", SHAPES), ("size", SIZES)):
            if o[name] not in vocab:
                raise DataFormatError(f"example {r.get('id')}: unknown object {name} {o[name]!r} (known: {', '.join(vocab)})")
        return [1 + COLOURS.index(o["color"]), 1 + SHAPES.index(o["shape"]), 1 + SIZES.index(o["size"])]

    return _paint_objects(rows, res, grid, 3, label)


MAX_SHARED = 5  # a scene holds at most five objects


def shared_looks_grid(rows: list[dict], res: int, grid: int) -> torch.Tensor:
    """Labels of the shared-looks head: [B, 2, grid*grid] counts, for the object in each cell (the cells
    `object_grid` gives it), of the scene's objects that have its colour (row 0) and its shape (row 1),
    itself included: 1 for the odd one out; 0 where no object is."""

    def label(r: dict, o: dict) -> list[int]:
        objs = r["source"]["objects"]
        if len(objs) > MAX_SHARED:
            raise DataFormatError(f"example {r.get('id')}: {len(objs)} objects, at most {MAX_SHARED} expected")
        return [sum(p[a] == o[a] for p in objs) for a in ("color", "shape")]

    return _paint_objects(rows, res, grid, 2, label)


def describe(row: dict, band: float) -> str:
    """What is in the input image, in words: the target of the MLLM's "seeing" pre-training.
    Objects are listed in reading order, row band by row band of `band` pixels (the height of one
    image token), left to right within a band: the order in which the LM reads the image tokens, so
    that naming the next object is a scan forward, not a sort. Photos are described by their defect."""
    src = row["source"]
    if src["type"] == "scene":
        objs = sorted(src["objects"], key=lambda o: (int(o["cy"] // band), o["cx"]))
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

# Which of models.unet.orientations turns a geometric edit's input into its target (SynthEdit's
# flips and rotations are exact); every other edit keeps the orientation (index 0).
ORIENTATION_OF_OP = {"flip-horizontal": 1, "flip-vertical": 2, "rotate-180": 3, "rotate-90": 5, "rotate-270": 6}


def orientation_labels(rows: list[dict]) -> torch.Tensor:
    """[B] index into models.unet.orientations of each example's target orientation."""
    return torch.tensor([ORIENTATION_OF_OP.get(r["op"], 0) if r["kind"] == "photoshop" else 0 for r in rows])
