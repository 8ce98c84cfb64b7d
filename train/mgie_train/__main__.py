"""python3 -m mgie_train STAGE ...: run one training stage (see stages.py), `all` for the whole pipeline."""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch

from . import checkpoint
from . import config as config_mod
from . import stages
from .data import DataFormatError, SynthEditData

# Steps and batch sizes of each stage for the default config (about 2 h 45 min on two CPU cores; the
# editors train 2,500 steps: at 1,500, under one epoch, every editor was still learning, most on
# Photoshop-style edits; see the README).
PLAN = {
    "vae": dict(steps=3000, batch=16),
    "vision": dict(steps=1800, batch=32, lr=1e-3),
    "mllm-see": dict(steps=1800, batch=32, lr=1e-3),
    "mllm-ins": dict(steps=2400, batch=32, lr=5e-4),
    "lm-ins": dict(steps=600, batch=32, lr=1e-3),
    "editor": dict(steps=2500, batch=32, lr=3e-4),
    "region": dict(steps=800, batch=64, lr=1e-3),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m mgie_train", description=__doc__)
    ap.add_argument("stage", choices=["tokenizer", "vae", "latents", "vision", "mllm-see", "mllm-ins", "lm-ins", "editor", "region", "all", "eval", "eval-lm", "export", "bench"])
    ap.add_argument("--variant", choices=stages.VARIANTS + ("mllm-see", "mllm-ins", "lm-ins"), help="which editor (stages editor, region, eval, export, bench); for eval-lm: mllm-see, mllm-ins or lm-ins")
    ap.add_argument("--config", default="default", choices=sorted(config_mod.CONFIGS))
    ap.add_argument("--data", required=True, help="training dataset folder (mgie data generate --split train)")
    ap.add_argument("--test-data", help="test dataset folder, for the VAE's PSNR and the vision tower's accuracy")
    ap.add_argument("--run", required=True, help="folder for checkpoints of this run")
    ap.add_argument("--steps", type=int, help="override the stage's step count")
    ap.add_argument("--batch", type=int, help="override the stage's batch size")
    ap.add_argument("--lr", type=float, help="override the stage's peak learning rate")
    ap.add_argument("--minutes", type=float, help="stop (resumably) after this much wall-clock time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="stage 'all': stages trained at once, each with threads/jobs threads (two one-thread runs on two "
                         "cores train 2.3x faster in total than one two-thread run)")
    ap.add_argument("--limit", type=int, default=200, help="examples to evaluate (stage 'eval')")
    ap.add_argument("--out", help="model directory to write (stage 'export')")
    ap.add_argument("--parity", action="store_true", help="also write parity fixtures (stage 'export')")
    a = ap.parse_args(argv)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = config_mod.by_name(a.config)
    try:
        data = SynthEditData(a.data)
        test = SynthEditData(a.test_data) if a.test_data else None
    except (DataFormatError, OSError) as e:
        print(f"mgie_train: {e}", file=sys.stderr)
        return 1
    if data.res != cfg.res:
        print(f"mgie_train: the dataset is {data.res}x{data.res}, config {a.config!r} trains at {cfg.res}; "
              f"generate it with --res {cfg.res}", file=sys.stderr)
        return 1
    os.makedirs(a.run, exist_ok=True)
    with open(os.path.join(a.run, "config.json"), "w") as f:
        f.write(config_mod.dumps(cfg))

    def plan(stage: str) -> dict:
        p = dict(PLAN[stage])
        if a.steps:
            p["steps"] = a.steps
        if a.batch:
            p["batch"] = a.batch
        if a.lr:
            p["lr"] = a.lr
        return p

    def one(stage: str, variant: str | None = None) -> bool:
        t0 = time.time()
        p = plan(stage) if stage in PLAN else {}
        if stage == "tokenizer":
            stages.train_tokenizer(cfg, data, a.run)
            ok = True
        elif stage == "vae":
            ok = stages.train_vae(cfg, data, a.run, p["steps"], p["batch"], a.seed, a.minutes, test)
        elif stage == "latents":
            stages.encode_latents(cfg, data, a.run)
            ok = True
        elif stage == "vision":
            ok = stages.train_vision(cfg, data, a.run, p["steps"], p["batch"], p["lr"], a.seed, a.minutes, test)
        elif stage in ("mllm-see", "mllm-ins", "lm-ins"):
            task = "see" if stage == "mllm-see" else "ins"
            init = {"mllm-see": "vision", "mllm-ins": "mllm-see"}.get(stage)
            ok = stages.train_lm(cfg, data, a.run, stage, task, stage != "lm-ins", init, p["steps"], p["batch"], p["lr"], a.seed, a.minutes)
        else:
            if not variant:
                print(f"mgie_train: stage '{stage}' needs --variant", file=sys.stderr)
                return False
            train = stages.train_region if stage == "region" else stages.train_editor
            ok = train(cfg, data, a.run, variant, p["steps"], p["batch"], p["lr"], a.seed, a.minutes)
        print(f"[{stage}{' ' + variant if variant else ''}] {'done' if ok else 'paused'} after {(time.time() - t0) / 60:.1f} min", flush=True)
        return ok

    if a.stage == "eval-lm":
        from .evaluate import evaluate_lm, evaluate_see

        if a.variant == "mllm-see":
            r = evaluate_see(cfg, a.run, data, a.limit)
            print(f"mllm-see: {r['scenes']} scenes described, {100 * r['exact']:.1f}% exactly; objects named right: "
                  + ", ".join(f"{k} {100 * v:.1f}%" for k, v in r["attributes"].items()))
            return 0
        name = a.variant if a.variant == "lm-ins" else "mllm-ins"
        for k, r in evaluate_lm(cfg, a.run, name, data, a.limit).items():
            print(f"{name} {k}: {100 * r['exact']:.1f}% exact of {r['n']}")
        return 0
    if a.stage == "bench":
        import json
        import time as _time

        from .pipeline import ReferenceEditor

        ed = ReferenceEditor(cfg, a.run, a.variant)
        x = data.images([0], "input")
        ed.edit(x, ["make the odd one out red"], steps=a.steps or cfg.diffusion.sample_steps)  # warm-up
        times = []
        for r in range(max(1, a.limit)):
            t0 = _time.time()
            ed.edit(x, ["make the odd one out red"], steps=a.steps or cfg.diffusion.sample_steps, seed=r)
            times.append(_time.time() - t0)
        times.sort()
        print(json.dumps({"seconds_per_edit": times[len(times) // 2], "runs": len(times)}))
        return 0
    if a.stage == "export":
        if not a.variant or not a.out:
            print("mgie_train: stage 'export' needs --variant and --out", file=sys.stderr)
            return 1
        from .export import export

        import json as _json

        import numpy as _np

        trained = {}
        for name, path in stages.paths(a.run).items():
            if path.endswith(".npz") and name != "latents" and os.path.isfile(path):
                header = _json.loads(bytes(_np.load(path, allow_pickle=False)["header"]).decode("utf-8"))
                trained[name] = {"steps": header["step"], **header.get("meta", {})}
        training = {"command": "npm run train (scripts/train.sh)", "config": a.config, "seed": a.seed, "data": data.meta,
                    "stages": trained, "plan": PLAN}
        m = export(cfg, a.run, a.variant, a.out, parity=a.parity, training=training)
        total = sum(c["bytes"] for c in m["components"].values())
        print(f"exported {a.variant} to {a.out}: {len(m['components'])} components, {total / 1e6:.1f} MB")
        return 0
    if a.stage == "eval":
        if not a.variant:
            print("mgie_train: stage 'eval' needs --variant", file=sys.stderr)
            return 1
        from .evaluate import evaluate, table

        print(table(evaluate(cfg, a.run, a.variant, data, a.limit)))
        return 0
    if a.stage != "all":
        try:
            return 0 if one(a.stage, a.variant) else 3
        except (checkpoint.CheckpointError, FileNotFoundError, ValueError) as e:
            print(f"mgie_train: {e}", file=sys.stderr)
            return 1
    return train_all(a, argv)


# What each task of `all` needs first. Tasks are started in this order whenever a slot is free and
# their inputs are done: the longest chain (vision -> mllm-see -> mllm-ins -> mgie-e2e) first. An editor needs
# the latents and the LM stage it starts from (stages.LM_INIT; InsPix2Pix only the tokenizer).
TASKS: dict[str, tuple[str, ...]] = {
    "tokenizer": (),
    "vision": (),
    "mllm-see": ("tokenizer", "vision"),
    "vae": (),
    "latents": ("vae",),
    "mllm-ins": ("mllm-see",),
    "lm-ins": ("tokenizer",),
    **{f"editor {v}": (stages.LM_INIT[v][0] if v in stages.LM_INIT else "tokenizer", "latents")
       for v in ("mgie-e2e", "mgie-ft", "mgie-fz", "lgie", "inspix2pix")},
    # The shipped model's region head (the region stage trains any seeing editor's when asked).
    "region mgie-e2e": ("editor mgie-e2e",),
}


def up_to_date(task: str, run_dir: str) -> bool:
    """Caches `all` does not rebuild: the tokenizer once learned, the latents while newer than the VAE.
    (Training stages resume from their checkpoints and end at once when complete.)"""
    files = stages.paths(run_dir)
    if task == "tokenizer":
        return os.path.isfile(files["tokenizer"])
    if task == "latents":
        return os.path.isfile(files["latents"]) and os.path.getmtime(files["latents"]) > os.path.getmtime(files["vae"])
    return False


def train_all(a: argparse.Namespace, argv: list[str] | None) -> int:
    """Every stage, `a.jobs` at a time as their inputs become ready, each in its own process with
    threads/jobs threads: two one-thread PyTorch processes train 2.3x faster in total than one
    two-thread process on two cores, and the stages that need the same input run side by side."""
    import subprocess

    jobs = max(1, a.jobs)
    threads = max(1, a.threads // jobs)
    args = list(sys.argv[1:] if argv is None else argv)
    for flag in ("--threads", "--jobs"):
        while flag in args:
            del args[args.index(flag) : args.index(flag) + 2]
    del args[args.index("all")]
    t0 = time.time()
    pending, running, done, failed = list(TASKS), [], set(), []
    while running or (pending and not failed):
        for task in [t for t in pending if all(d in done for d in TASKS[t])]:
            if failed or len(running) >= jobs:
                break
            pending.remove(task)
            if up_to_date(task, a.run):
                done.add(task)
                continue
            # Debian's torch multiplies matrices in OpenBLAS, whose own thread pool does not follow
            # torch.set_num_threads: without this each one-thread run starts a second busy thread.
            env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads)}
            stage, *variant = task.split()
            cmd = [sys.executable, "-m", "mgie_train", stage, *args, *(["--variant", *variant] if variant else []), "--threads", str(threads)]
            running.append((task, subprocess.Popen(cmd, env=env)))
        time.sleep(0.2)
        for task, proc in list(running):
            if proc.poll() is not None:
                running.remove((task, proc))
                if proc.returncode == 0:
                    done.add(task)
                else:
                    failed.append(task)
    print(f"[all] {len(done)} of {len(TASKS)} stages done after {(time.time() - t0) / 60:.1f} min", flush=True)
    if failed:
        print(f"mgie_train: {', '.join(failed)} did not finish (paused by --minutes, or failed: see above); "
              "run the same command again to resume", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
