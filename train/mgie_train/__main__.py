"""python3 -m mgie_train STAGE ...: run one training stage (see stages.py), `all` for the whole pipeline, or
a tool on a trained run (eval, eval-lm, export, bench)."""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch

from . import checkpoint, precision
from . import config as config_mod
from . import stages
from .config import Config, StagePlan
from .data import DataFormatError, SynthEditData
from .instructions import InstructionStates


@dataclass
class Run:
    """What every stage function gets: the command line, the config and the datasets."""

    args: argparse.Namespace
    argv: list[str] | None
    cfg: Config
    data: SynthEditData
    test: SynthEditData | None


# ---------------------------------------------------------------- training stages


def stage_plan(r: Run, stage: str) -> StagePlan | None:
    """The config's plan for `stage` (None for a stage not trained by steps) with this command's
    --steps, --batch and --lr."""
    if stage not in r.cfg.plan.stages():
        return None
    p, a = r.cfg.plan[stage], r.args
    return dataclasses.replace(p, steps=a.steps or p.steps, batch=a.batch or p.batch, lr=a.lr or p.lr)


def _tokenizer(r: Run, p: None) -> bool:
    stages.train_tokenizer(r.cfg, r.data, r.args.run)
    return True


def _vae(r: Run, p: StagePlan) -> bool:
    return stages.train_vae(r.cfg, r.data, r.args.run, p.steps, p.batch, r.args.seed, r.args.minutes, r.test)


def _latents(r: Run, p: None) -> bool:
    stages.encode_latents(r.cfg, r.data, r.args.run)
    return True


def _instructions(r: Run, p: None) -> bool:
    stages.encode_instruction_states(r.cfg, r.data, r.args.run)
    return True


def _vision(r: Run, p: StagePlan) -> bool:
    return stages.train_vision(r.cfg, r.data, r.args.run, p.steps, p.batch, p.lr, r.args.seed, r.args.minutes, r.test)


def _lm(stage: str) -> Callable[[Run, StagePlan], bool]:
    """mllm-see (describe the image, from the vision tower), mllm-ins (L_ins, from mllm-see) or lm-ins
    (L_ins, text only, from scratch)."""
    task = "see" if stage == "mllm-see" else "ins"
    init = {"mllm-see": "vision", "mllm-ins": "mllm-see"}.get(stage)

    def run_lm(r: Run, p: StagePlan) -> bool:
        a = r.args
        return stages.train_lm(
            r.cfg, r.data, a.run, stage, task, stage != "lm-ins", init, p.steps, p.batch, p.lr, a.seed, a.minutes
        )

    return run_lm


def _editor(r: Run, p: StagePlan) -> bool:
    return stages.train_editor(r.cfg, r.data, r.args.run, r.args.variant, p.steps, p.batch, p.lr, r.args.seed, r.args.minutes)


def _region(r: Run, p: StagePlan) -> bool:
    return stages.train_region(r.cfg, r.data, r.args.run, r.args.variant, p.steps, p.batch, p.lr, r.args.seed, r.args.minutes)


# Each training stage: (run, its plan) -> True when complete, False when paused by --minutes.
TRAINING: dict[str, Callable[[Run, StagePlan | None], bool]] = {
    "tokenizer": _tokenizer,
    "vae": _vae,
    "latents": _latents,
    "instructions": _instructions,
    "vision": _vision,
    "mllm-see": _lm("mllm-see"),
    "mllm-ins": _lm("mllm-ins"),
    "lm-ins": _lm("lm-ins"),
    "editor": _editor,
    "region": _region,
}
NEEDS_VARIANT = ("editor", "region")


def train(stage: str, r: Run) -> int:
    """One training stage. Exit status: 0 complete, 3 paused by --minutes (or no --variant), 1 an error."""
    variant = r.args.variant
    if stage in NEEDS_VARIANT and not variant:
        print(f"mgie_train: stage '{stage}' needs --variant", file=sys.stderr)
        return 3
    t0 = time.time()
    try:
        ok = TRAINING[stage](r, stage_plan(r, stage))
    except (checkpoint.CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"mgie_train: {e}", file=sys.stderr)
        return 1
    name = f"{stage} {variant}" if variant else stage
    print(f"[{name}] {'done' if ok else 'paused'} after {(time.time() - t0) / 60:.1f} min", flush=True)
    return 0 if ok else 3


# ---------------------------------------------------------------- tools on a trained run


def evaluate_editor(r: Run) -> int:
    if not r.args.variant:
        print("mgie_train: stage 'eval' needs --variant", file=sys.stderr)
        return 1
    from .evaluate import evaluate, table

    print(table(evaluate(r.cfg, r.args.run, r.args.variant, r.data, r.args.limit)))
    return 0


def evaluate_lm(r: Run) -> int:
    from .evaluate import lm_report

    report = lm_report(r.cfg, r.args.run, r.args.variant, r.data, r.args.limit)
    if report:
        print(report)
    return 0


def export_model(r: Run) -> int:
    a = r.args
    if not a.variant or not a.out:
        print("mgie_train: stage 'export' needs --variant and --out", file=sys.stderr)
        return 1
    from .export import ManifestError, export, trained_stages

    training = {
        "command": "npm run train (scripts/train.sh)",
        "config": a.config,
        "seed": a.seed,
        "data": r.data.meta,
        "stages": trained_stages(a.run),
        "plan": r.cfg.plan.to_json(),
    }
    if a.config_file:
        training["config_file"] = a.config_file
    try:
        m = export(r.cfg, a.run, a.variant, a.out, parity=a.parity, training=training, data_dir=a.data)
    except ManifestError as e:
        print(f"mgie_train: {e}", file=sys.stderr)
        return 1
    total = sum(c["bytes"] for c in m["components"].values())
    print(f"exported {a.variant} to {a.out}: {len(m['components'])} components, {total / 1e6:.1f} MB")
    return 0


def bench_editor(r: Run) -> int:
    from .pipeline import bench

    print(json.dumps(bench(r.cfg, r.args.run, r.args.variant, r.data, r.args.steps, r.args.limit)))
    return 0


# Every stage name the command line takes -> the function that runs it and returns the exit status.
STAGES: dict[str, Callable[[Run], int]] = {
    **{stage: functools.partial(train, stage) for stage in TRAINING},
    "all": lambda r: train_all(r.args, r.argv),
    "eval": evaluate_editor,
    "eval-lm": evaluate_lm,
    "export": export_model,
    "bench": bench_editor,
}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python3 -m mgie_train", description=__doc__)
    ap.add_argument("stage", choices=list(STAGES))
    ap.add_argument(
        "--variant",
        choices=stages.VARIANTS + ("mllm-see", "mllm-ins", "lm-ins"),
        help="which editor (stages editor, region, eval, export, bench); for eval-lm: mllm-see, mllm-ins or lm-ins",
    )
    ap.add_argument("--config", default="default", choices=sorted(config_mod.CONFIGS), help="the base config")
    ap.add_argument(
        "--config-file",
        help="a JSON or Python file of config overrides on top of --config (see config.py); a run's config.json is one",
    )
    ap.add_argument("--data", required=True, help="training dataset folder (mgie data generate --split train)")
    ap.add_argument("--test-data", help="test dataset folder, for the VAE's PSNR and the vision tower's accuracy")
    ap.add_argument("--run", required=True, help="folder for checkpoints of this run")
    ap.add_argument("--steps", type=int, help="override the stage's step count")
    ap.add_argument("--batch", type=int, help="override the stage's batch size")
    ap.add_argument("--lr", type=float, help="override the stage's peak learning rate")
    ap.add_argument("--minutes", type=float, help="stop (resumably) after this much wall-clock time")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--precision",
        choices=precision.CHOICES,
        default="auto",
        help="training steps' precision; auto: bfloat16 autocast where the CPU multiplies bfloat16 natively "
        "(AMX, AVX-512 BF16), else float32 (see precision.py)",
    )
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="stage 'all': stages trained at once, each with threads/jobs threads (one-thread runs side by "
        "side train faster in total than one run with all the threads; see docs/TRAINING.md)",
    )
    ap.add_argument("--limit", type=int, default=200, help="examples to evaluate (stage 'eval')")
    ap.add_argument("--out", help="model directory to write (stage 'export')")
    ap.add_argument("--parity", action="store_true", help="also write parity fixtures (stage 'export')")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    precision.use(a.precision)
    try:
        cfg = config_mod.load(a.config, a.config_file)
        data = SynthEditData(a.data)
        test = SynthEditData(a.test_data) if a.test_data else None
    except (config_mod.ConfigError, DataFormatError, OSError) as e:
        print(f"mgie_train: {e}", file=sys.stderr)
        return 1
    if data.res != cfg.res:
        name = f"{a.config!r}" + (f" with {a.config_file}" if a.config_file else "")
        print(
            f"mgie_train: the dataset is {data.res}x{data.res}, config {name} trains at {cfg.res}; "
            f"generate it with --res {cfg.res}",
            file=sys.stderr,
        )
        return 1
    os.makedirs(a.run, exist_ok=True)
    with open(os.path.join(a.run, "config.json"), "w") as f:
        f.write(config_mod.dumps(cfg))
    return STAGES[a.stage](Run(a, argv, cfg, data, test))


# What each task of `all` needs first. Tasks are started in this order whenever a slot is free and
# their inputs are done: the longest chain (vision -> mllm-see -> mllm-ins -> mgie-e2e) first. An editor needs
# the latents and the LM stage it starts from (stages.LM_INIT; InsPix2Pix only the tokenizer).
TASKS: dict[str, tuple[str, ...]] = {
    "instructions": (),
    "tokenizer": (),
    "vision": (),
    "mllm-see": ("tokenizer", "vision"),
    "vae": (),
    "latents": ("vae",),
    "mllm-ins": ("mllm-see", "instructions"),
    "lm-ins": ("tokenizer", "instructions"),
    **{
        f"editor {v}": (stages.LM_INIT[v][0] if v in stages.LM_INIT else "tokenizer", "latents", "instructions")
        for v in ("mgie-e2e", "mgie-ft", "mgie-fz", "lgie", "inspix2pix")
    },
    # The shipped model's region head (the region stage trains any seeing editor's when asked).
    "region mgie-e2e": ("editor mgie-e2e",),
}


def up_to_date(task: str, run_dir: str, data_dir: str) -> bool:
    """Caches `all` does not rebuild: the tokenizer once learned, the latents while newer than the VAE, the
    instruction states while they are the dataset's.
    (Training stages resume from their checkpoints and end at once when complete.)"""
    files = stages.paths(run_dir)
    if task == "tokenizer":
        return os.path.isfile(files["tokenizer"])
    if task == "latents":
        return os.path.isfile(files["latents"]) and os.path.getmtime(files["latents"]) > os.path.getmtime(files["vae"])
    if task == "instructions":
        try:
            InstructionStates(files["instructions"], SynthEditData(data_dir).rows)
            return True
        except (FileNotFoundError, ValueError):
            return False
    return False


def train_all(a: argparse.Namespace, argv: list[str] | None) -> int:
    """Every stage, `a.jobs` at a time as their inputs become ready, each in its own process with
    threads/jobs threads: one-thread PyTorch processes side by side train faster in total than one
    process with all the threads (see docs/TRAINING.md), and the stages that need the same input run
    side by side."""
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
            if up_to_date(task, a.run, a.data):
                done.add(task)
                continue
            # Debian's torch multiplies matrices in OpenBLAS, whose own thread pool does not follow
            # torch.set_num_threads: without this each one-thread run starts a second busy thread.
            env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads)}
            stage, *variant = task.split()
            cmd = [
                sys.executable,
                "-m",
                "mgie_train",
                stage,
                *args,
                *(["--variant", *variant] if variant else []),
                "--threads",
                str(threads),
            ]
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
        print(
            f"mgie_train: {', '.join(failed)} did not finish (paused by --minutes, or failed: see above); "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
