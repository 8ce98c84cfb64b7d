"""Quick quality check of a trained editor on a dataset (the full evaluation is `mgie eval`, in TypeScript):
L1 to the target per edit kind (and for the unedited input), and exact-match of the expressive instruction."""
from __future__ import annotations

from collections import defaultdict

import torch

from .config import Config
from .data import SynthEditData
from .pipeline import ReferenceEditor


def evaluate(cfg: Config, run_dir: str, variant: str, data: SynthEditData, limit: int, batch: int = 16, steps: int | None = None) -> dict:
    ed = ReferenceEditor(cfg, run_dir, variant)
    l1: dict[str, list[float]] = defaultdict(list)
    base: dict[str, list[float]] = defaultdict(list)
    exact: dict[str, list[float]] = defaultdict(list)
    n = min(limit, len(data))
    for s in range(0, n, batch):
        idx = list(range(s, min(n, s + batch)))
        rows = [data.rows[i] for i in idx]
        x, y = data.images(idx, "input"), data.images(idx, "target")
        out, texts = ed.edit(x, [r["instruction"] for r in rows], steps=steps, seed=s)
        err = ((out - y).abs().mean(dim=(1, 2, 3)) / 2).tolist()
        err0 = ((x - y).abs().mean(dim=(1, 2, 3)) / 2).tolist()
        for r, e, e0, t in zip(rows, err, err0, texts):
            for key in (r["kind"], "all") + (("ambiguous",) if r["ambiguous"] else ()):
                l1[key].append(e)
                base[key].append(e0)
                exact[key].append(float(t.strip() == r["expressive"]))
        print(f"[eval {variant}] {idx[-1] + 1}/{n}", flush=True)
    mean = lambda v: sum(v) / max(1, len(v))  # noqa: E731
    return {k: {"n": len(l1[k]), "l1": mean(l1[k]), "l1_input": mean(base[k]), "exact": mean(exact[k])} for k in sorted(l1)}


def table(results: dict) -> str:
    lines = ["| subset | n | L1 output | L1 input | expressive exact |", "|---|---|---|---|---|"]
    for k, r in results.items():
        lines.append(f"| {k} | {r['n']} | {r['l1']:.4f} | {r['l1_input']:.4f} | {100 * r['exact']:.1f}% |")
    return "\n".join(lines)
