"""Checkpoints as .npz (numpy arrays + a JSON header): no pickle anywhere, so loading one never runs code.

A checkpoint holds model weights (by model name), optimizer state, the step, torch's RNG state and
free-form JSON metadata. Writes go to a temporary file first, so an interrupted save leaves the
previous checkpoint intact.
"""
from __future__ import annotations

import json
import os

import numpy as np
import torch
from torch import nn


class CheckpointError(ValueError):
    pass


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, np.ndarray], dict]:
    sd = opt.state_dict()
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, dict] = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                arrays[f"opt/{pid}/{k}"] = v.detach().cpu().numpy()
            else:
                scalars.setdefault(str(pid), {})[k] = v
    return arrays, {"param_groups": sd["param_groups"], "scalars": scalars}


def save(
    path: str,
    models: dict[str, nn.Module],
    optimizer: torch.optim.Optimizer | None,
    step: int,
    meta: dict | None = None,
    half: bool = False,
) -> None:
    """`half` stores float weights as float16 (a finished stage: the ONNX export rounds to float16 anyway)."""
    arrays: dict[str, np.ndarray] = {}
    for name, m in models.items():
        for k, v in m.state_dict().items():
            a = v.detach().cpu().numpy()
            arrays[f"model/{name}/{k}"] = a.astype(np.float16) if half and a.dtype == np.float32 else a
    header = {"format": "mgie-checkpoint-1", "step": step, "models": sorted(models), "meta": meta or {}}
    if optimizer is not None:
        opt_arrays, opt_header = _flatten_optimizer(optimizer)
        arrays.update(opt_arrays)
        header["optimizer"] = opt_header
    arrays["rng"] = torch.get_rng_state().numpy()
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load(
    path: str, models: dict[str, nn.Module], optimizer: torch.optim.Optimizer | None = None, restore_rng: bool = True
) -> dict:
    """Loads weights into `models` (every name must be present, shapes must match) and returns the header."""
    if not os.path.isfile(path):
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        data = np.load(path, allow_pickle=False)
        header = json.loads(bytes(data["header"]).decode("utf-8"))
    except Exception as e:  # zip errors, missing header, bad JSON
        raise CheckpointError(f"{path} is not an mgie checkpoint ({e})") from e
    if header.get("format") != "mgie-checkpoint-1":
        raise CheckpointError(f"{path}: unknown checkpoint format {header.get('format')!r}")
    for name, m in models.items():
        if name not in header["models"]:
            raise CheckpointError(f"{path} has no model {name!r} (it has {header['models']})")
        own = m.state_dict()
        loaded = {}
        for k, v in own.items():
            key = f"model/{name}/{k}"
            if key not in data.files:
                raise CheckpointError(f"{path}: {name} lacks weight {k}")
            arr = data[key]
            if tuple(arr.shape) != tuple(v.shape):
                raise CheckpointError(f"{path}: {name}.{k} has shape {tuple(arr.shape)}, the model expects {tuple(v.shape)}")
            if arr.dtype not in (np.float32, np.float16, np.int64):
                raise CheckpointError(f"{path}: {name}.{k} is stored as {arr.dtype}, not float32, float16 or int64")
            loaded[k] = torch.from_numpy(np.array(arr)).to(v.dtype)
        m.load_state_dict(loaded)
    if optimizer is not None and "optimizer" in header:
        oh = header["optimizer"]
        state: dict = {}
        for key in data.files:
            if key.startswith("opt/"):
                _, pid, k = key.split("/", 2)
                state.setdefault(int(pid), {})[k] = torch.from_numpy(np.array(data[key]))
        for pid, sc in oh["scalars"].items():
            state.setdefault(int(pid), {}).update(sc)
        optimizer.load_state_dict({"state": state, "param_groups": oh["param_groups"]})
    if restore_rng:
        torch.set_rng_state(torch.from_numpy(np.array(data["rng"])))
    return header
