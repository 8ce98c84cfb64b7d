"""The resumable training loop every stage uses: checkpoint every few steps, resume from the last,
a progress line with loss and ETA, and an optional wall-clock budget so a long stage can be split
across sessions (run the same command again to continue)."""
from __future__ import annotations

import os
import sys
import time
from typing import Callable

import torch
from torch import nn

from . import checkpoint, precision


def run(
    name: str,
    total_steps: int,
    step_fn: Callable[[int], dict[str, float]],
    models: dict[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    ckpt_path: str,
    save_every: int = 100,
    log_every: int = 10,
    minutes: float | None = None,
    meta: dict | None = None,
) -> bool:
    """Runs steps [resumed step, total_steps). Returns True when the stage is complete."""
    start = 0
    # The precision of each stretch of steps, [[first step, "float32" | "bfloat16"], ...], kept in the
    # checkpoint's meta (and so in an exported manifest); checkpoints from before it was kept were float32.
    stretches: list[list] = []
    if os.path.isfile(ckpt_path):
        header = checkpoint.load(ckpt_path, models, optimizer)
        start = header["step"]
        stretches = header.get("meta", {}).get("precision", [[0, "float32"]] if start > 0 else [])
        print(f"[{name}] resuming from step {start} ({ckpt_path})", flush=True)
    if start >= total_steps:
        print(f"[{name}] already complete ({start}/{total_steps} steps)", flush=True)
        return True
    if not stretches or stretches[-1][1] != precision.name():
        stretches.append([start, precision.name()])
    meta = {**(meta or {}), "precision": stretches}
    deadline = time.time() + minutes * 60 if minutes else None
    print(f"[{name}] training steps in {precision.name()}", flush=True)
    t0 = time.time()
    avg: dict[str, float] = {}
    step = start
    for step in range(start, total_steps):
        for m in models.values():
            m.train()
        with precision.training_step():
            logs = step_fn(step)
        for k, v in logs.items():
            avg[k] = v if k not in avg else 0.9 * avg[k] + 0.1 * v
        done = step + 1
        if done % log_every == 0 or done == total_steps:
            rate = (done - start) / max(time.time() - t0, 1e-9)
            eta = (total_steps - done) / rate
            losses = " ".join(f"{k} {v:.4f}" for k, v in avg.items())
            print(f"[{name}] step {done}/{total_steps} {losses} | {rate:.2f} step/s | ETA {eta / 60:.1f} min", flush=True)
        out_of_time = deadline is not None and time.time() > deadline
        if done == total_steps:
            # A finished stage keeps its weights only, in float16 (a sixth of the size): nothing resumes it.
            checkpoint.save(ckpt_path, models, None, done, meta, half=True)
        elif done % save_every == 0 or out_of_time:
            checkpoint.save(ckpt_path, models, optimizer, done, meta)
        if out_of_time and done < total_steps:
            print(f"[{name}] time budget reached at step {done}/{total_steps}; run again to continue", flush=True)
            return False
    return True


def batch_indices(step: int, batch: int, n: int, seed: int) -> list[int]:
    """The examples of a step depend only on (seed, step), so a resumed run sees the same data."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return torch.randint(0, n, (batch,), generator=g).tolist()


def step_generator(step: int, seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 7_919 + step + 1)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
