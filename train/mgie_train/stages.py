"""The training stages of Algorithm 1, each resumable and runnable alone:

  tokenizer  byte-level BPE merges learned from the training text
  vae        the autoencoder (then frozen), its latent scale and test PSNR
  latents    encode the training set once with the frozen VAE (a cache, not a model)
  instructions  encode the training set's instructions once with the frozen MiniLM (a cache)
  vision     pre-train the MLLM's vision tower alone on dense object labels (scenes only)
  mllm-see   MLLM pre-training: describe the input image (so it "sees")
  mllm-ins   MLLM fine-tuning on L_ins (the expressive instruction + [IMG] tokens), the vision tower
             learning beside it how many objects share each one's colour and shape
  lm-ins     the LGIE baseline's text-only LM, trained on L_ins from scratch
  editor     one editing model: inspix2pix | lgie | mgie-fz | mgie-ft | mgie-e2e
  region     an MGIE editor's region head (where its edits change the image), the editor frozen
"""
from __future__ import annotations

import json
import math
import os
from collections import Counter

import numpy as np
import torch
from torch.nn import functional as F

from . import checkpoint
from .config import Config, DiffusionConfig
from .data import DESCRIBE_PROMPT, SIZES, SynthEditData, describe, object_grid, orientation_labels, shared_looks_grid
from .diffusion import Schedule, drop_conditions
from .models.edit_head import EditHead, TextEncoder
from .instructions import InstructionStates, encode_instructions, padded
from .models.mllm import (
    MLLM,
    InstructionProjector,
    VisionEncoder,
    build_batch,
    img_hidden,
    instruction_loss,
    instruction_prompt,
    text_prompt,
)
from .models.object_head import ObjectHead
from .models.region_head import RegionHead
from .models.shared_looks_head import SharedLooksHead
from .models.unet import UNet, reorient
from .models.vae import VAE
from .tokenizer import PROMPT, Tokenizer
from .train_loop import batch_indices, run, step_generator

# Slowest to train first, so that `all` (editors run in parallel) ends on the quickest.
VARIANTS = ("mgie-e2e", "lgie", "mgie-ft", "mgie-fz", "inspix2pix")
# The editors whose MLLM sees the image: their edit head has per-cell rows, which a region head reads.
SEEING = ("mgie-e2e", "mgie-ft", "mgie-fz")


def paths(run_dir: str) -> dict[str, str]:
    def p(f: str) -> str:
        return os.path.join(run_dir, f)

    return {
        "tokenizer": p("tokenizer.json"),
        "vae": p("vae.npz"),
        "vae_info": p("vae.json"),
        "latents": p("latents.npz"),
        "instructions": p("instructions.npy"),
        "vision": p("vision.npz"),
        "mllm-see": p("mllm-see.npz"),
        "mllm-ins": p("mllm-ins.npz"),
        "lm-ins": p("lm-ins.npz"),
        **{f"editor-{v}": p(f"editor-{v}.npz") for v in VARIANTS},
        **{f"region-{v}": p(f"region-{v}.npz") for v in SEEING},
    }


def adamw(params, lr: float) -> torch.optim.AdamW:
    return torch.optim.AdamW([p for p in params if p.requires_grad], lr=lr, weight_decay=0.0)


def warmup(opt: torch.optim.Optimizer, step: int, lr: float, warm: int = 100, total: int | None = None) -> None:
    """Linear warm-up, then cosine decay to 10% when `total` is given."""
    f = min(1.0, (step + 1) / warm)
    if total and step >= warm:
        f = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))
    for g in opt.param_groups:
        g["lr"] = lr * f


# ---------------------------------------------------------------- tokenizer


def train_tokenizer(cfg: Config, data: SynthEditData, run_dir: str) -> Tokenizer:
    texts = [PROMPT, DESCRIBE_PROMPT]
    for r in data.rows:
        texts += [r["instruction"], r["expressive"], describe(r, data.res)]
    tok = Tokenizer.train(texts, cfg.mllm.merges, cfg.mllm.num_img_tokens)
    tok.save(paths(run_dir)["tokenizer"])
    lens = [len(tok.encode(t)) / max(1, len(t.encode("utf-8"))) for t in texts[:2000]]
    print(
        f"[tokenizer] {len(tok.merges)} merges, vocabulary {tok.vocab_size}, {sum(lens) / len(lens):.2f} tokens per byte",
        flush=True,
    )
    return tok


def load_tokenizer(run_dir: str) -> Tokenizer:
    path = paths(run_dir)["tokenizer"]
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no tokenizer at {path}: run the 'tokenizer' stage first")
    return Tokenizer.load(path)


# ---------------------------------------------------------------- VAE


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR of images in [-1, 1], computed on [0, 1]."""
    mse = F.mse_loss((a.clamp(-1, 1) + 1) / 2, (b + 1) / 2).item()
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def train_vae(
    cfg: Config,
    data: SynthEditData,
    run_dir: str,
    steps: int,
    batch: int,
    seed: int,
    minutes: float | None,
    test: SynthEditData | None = None,
) -> bool:
    vae = VAE(cfg.vae)
    opt = adamw(vae.parameters(), 1e-3)

    def step(i: int) -> dict[str, float]:
        warmup(opt, i, 1e-3, total=steps)
        idx = batch_indices(i, batch, len(data), seed)
        x = data.images(idx, "input" if i % 2 == 0 else "target")
        loss, logs = vae.loss(x, step_generator(i, seed))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), **logs}

    done = run("vae", steps, step, {"vae": vae}, opt, paths(run_dir)["vae"], minutes=minutes, meta={"seed": seed})
    if not done:
        return False
    vae.eval()
    with torch.no_grad():
        idx = list(range(min(512, len(data))))
        lat = torch.cat([vae.encoder(data.images(idx[i : i + 64], "input"))[0] for i in range(0, len(idx), 64)])
        scale = 1.0 / float(lat.std())
        info = {"scale": scale, "seed": seed, "steps": steps}
        if test is not None:
            tidx = list(range(min(256, len(test))))
            x = test.images(tidx, "target")
            info["test_psnr"] = psnr(vae.decoder(vae.encoder(x)[0]), x)
            info["test_examples"] = len(tidx)
    with open(paths(run_dir)["vae_info"], "w") as f:
        json.dump(info, f, indent=2)
    print(
        f"[vae] latent scale {scale:.4f}" + (f", test PSNR {info['test_psnr']:.2f} dB" if "test_psnr" in info else ""), flush=True
    )
    return True


def load_vae(cfg: Config, run_dir: str) -> tuple[VAE, float]:
    vae = VAE(cfg.vae)
    checkpoint.load(paths(run_dir)["vae"], {"vae": vae}, restore_rng=False)
    with open(paths(run_dir)["vae_info"]) as f:
        scale = json.load(f)["scale"]
    vae.eval()
    for p in vae.parameters():
        p.requires_grad_(False)
    return vae, scale


def encode_latents(cfg: Config, data: SynthEditData, run_dir: str) -> None:
    """Scaled latent means of every training input and target (float16), computed once."""
    vae, scale = load_vae(cfg, run_dir)
    out = {}
    with torch.no_grad():
        for part in ("input", "target"):
            chunks = []
            for i in range(0, len(data), 128):
                idx = list(range(i, min(len(data), i + 128)))
                chunks.append((vae.encoder(data.images(idx, part))[0] * scale).half().numpy())
                if (i // 128) % 20 == 0:
                    print(f"[latents] {part} {i + len(idx)}/{len(data)}", flush=True)
            out[part] = np.concatenate(chunks)
    tmp = paths(run_dir)["latents"] + ".tmp.npz"
    np.savez(tmp, **out)
    os.replace(tmp, paths(run_dir)["latents"])


# ---------------------------------------------------------------- vision tower


def vision_modules(cfg: Config) -> dict[str, torch.nn.Module]:
    """What the `vision` stage trains and its checkpoint holds."""
    return {"vision": VisionEncoder(cfg.mllm, cfg.res), "object_head": ObjectHead(cfg.mllm.vision_dim)}


def train_vision(
    cfg: Config,
    data: SynthEditData,
    run_dir: str,
    steps: int,
    batch: int,
    lr: float,
    seed: int,
    minutes: float | None,
    test: SynthEditData | None = None,
) -> bool:
    """The vision tower and the object head alone, on scenes only, before `mllm-see` joins the LM.
    Trained inside mllm-see from scratch, the tower named the shape of small objects far less often (the
    LM's description loss pulls at it from the start, and only half its images are scenes), and the shape
    word is most of what the MLLM gets wrong on ambiguous local edits (`object_accuracy`, test scenes;
    see docs/EXPERIMENTS.md)."""
    trained = vision_modules(cfg)
    tower = trained["vision"]
    opt = adamw([q for m in trained.values() for q in m.parameters()], lr)
    scenes = data.scene_indices()
    if not scenes:
        raise ValueError("the training set has no scenes: the vision stage learns from scene objects")

    def step(i: int) -> dict[str, float]:
        warmup(opt, i, lr, total=steps)
        idx = [scenes[j] for j in batch_indices(i, batch, len(scenes), seed)]
        loss = trained["object_head"].loss(
            tower.cells(data.images(idx, "input")), object_grid([data.rows[j] for j in idx], cfg.res, tower.grid)
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    done = run("vision", steps, step, trained, opt, paths(run_dir)["vision"], minutes=minutes, meta={"seed": seed})
    if done and test is not None:
        acc = object_accuracy(cfg, tower, trained["object_head"], test)
        print("[vision] test object cells: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in acc.items()), flush=True)
    return done


@torch.no_grad()
def object_accuracy(
    cfg: Config, tower: VisionEncoder, head: ObjectHead, data: SynthEditData, limit: int = 512
) -> dict[str, float]:
    """How often the object head names the colour, shape and size of the object in a cell, over the cells
    objects cover in up to `limit` scenes; and the shape in the cells of small objects alone."""
    tower.eval()
    idx = data.scene_indices()[:limit]
    hits, counts = Counter(), Counter()
    for i in range(0, len(idx), 64):
        part = idx[i : i + 64]
        lab = object_grid([data.rows[j] for j in part], cfg.res, tower.grid)
        pred = torch.stack([lg.argmax(-1) for lg in head.logits(tower.cells(data.images(part, "input")))], 1)
        on = lab[:, 0] > 0
        small = on & (lab[:, 2] == 1 + SIZES.index("small"))
        for c, name in enumerate(("colour", "shape", "size")):
            hits[name] += int((pred[:, c] == lab[:, c])[on].sum())
            counts[name] += int(on.sum())
        hits["small shape"] += int((pred[:, 1] == lab[:, 1])[small].sum())
        counts["small shape"] += int(small.sum())
    return {k: hits[k] / max(1, counts[k]) for k in ("colour", "shape", "size", "small shape")}


# ---------------------------------------------------------------- MLLM / LM


def lm_task(
    model: MLLM,
    proj: InstructionProjector | None,
    rows: list[dict],
    task: str,
    band: float = 0.0,
    states: list[torch.Tensor] | None = None,
) -> tuple[list[torch.Tensor], list[list[int]], list[int]]:
    """(prompts as embeddings, targets, expressive lengths) for 'see' (describe the image; `band`: the pixel
    height of one row of image tokens) or 'ins' (L_ins; `states`: each row's instruction states)."""
    tok = model.tok
    if task == "see":
        prompts = [text_prompt(model, tok.encode(DESCRIBE_PROMPT) + [tok.sep]) for _ in rows]
        targets = [tok.encode(describe(r, band)) + [tok.eos] for r in rows]
        return prompts, targets, [0] * len(rows)
    prompts = [instruction_prompt(model, proj, st) for st in states]
    targets = [tok.target_ids(r["expressive"]) for r in rows]
    return prompts, targets, [len(tok.encode(r["expressive"])) for r in rows]


def encode_instruction_states(cfg: Config, data: SynthEditData, run_dir: str) -> None:
    encode_instructions(data.rows, paths(run_dir)["instructions"], cfg.mllm.instruction_tokens)


def lm_modules(cfg: Config, tok: Tokenizer, task: str, vision: bool) -> dict[str, torch.nn.Module]:
    """What an LM stage (`mllm-see`, `mllm-ins`, `lm-ins`) trains and its checkpoint holds."""
    modules: dict[str, torch.nn.Module] = {"mllm": MLLM(cfg.mllm, cfg.res, tok, vision=vision)}
    if task == "ins":
        modules["instruction_proj"] = InstructionProjector(cfg.mllm.instruction_dim, cfg.mllm.dim)
    # Seeing keeps training the vision tower on dense object labels as well as the description; fine-tuning
    # on L_ins keeps that loss (and the head), so the tower does not forget what it learned to see while
    # the LM learns to instruct.
    if vision:
        modules["object_head"] = ObjectHead(cfg.mllm.vision_dim)
    # Fine-tuning also learns how many objects share each one's looks (what finding the odd one out needs).
    if vision and task == "ins":
        modules["shared_looks_head"] = SharedLooksHead(cfg.mllm.vision_dim)
    return modules


def train_lm(
    cfg: Config,
    data: SynthEditData,
    run_dir: str,
    name: str,
    task: str,
    vision: bool,
    init: str | None,
    steps: int,
    batch: int,
    lr: float,
    seed: int,
    minutes: float | None,
) -> bool:
    trained = lm_modules(cfg, load_tokenizer(run_dir), task, vision)
    model = trained["mllm"]
    if init and not os.path.isfile(paths(run_dir)[name]):
        if not os.path.isfile(paths(run_dir)[init]):
            raise FileNotFoundError(f"no {init} checkpoint at {paths(run_dir)[init]}: run the '{init}' stage first")
        # Seeing starts from the pre-trained tower (stage 'vision'), fine-tuning from all of seeing (which
        # has no shared-looks head nor instruction projection: those are new with fine-tuning).
        start = (
            {"vision": model.vision, "object_head": trained["object_head"]}
            if init == "vision"
            else {k: m for k, m in trained.items() if k not in ("shared_looks_head", "instruction_proj")}
        )
        checkpoint.load(paths(run_dir)[init], start, restore_rng=False)
    params = [q for m in trained.values() for q in m.parameters()]
    opt = adamw(params, lr)
    states = InstructionStates(paths(run_dir)["instructions"], data.rows) if task == "ins" else None
    band = cfg.res / model.vision.grid * model.vision.pool if model.vision is not None else float(cfg.res)
    # Seeing draws scenes twice as often as photos (about half of each batch instead of a third): naming
    # several objects is the hard part, a photo's defect is one of five phrases.
    # Fine-tuning draws the ambiguous local edits three times as often, and the odd-one-out ones among them
    # five times: the hardest examples (find the object, name it in full) and only about a tenth of the data.
    pool = list(range(len(data)))
    if task == "see":
        pool += data.scene_indices()
    elif vision:
        pool += 2 * [j for j, r in enumerate(data.rows) if r["ambiguous"] and r["kind"] == "local"]
        pool += 2 * [j for j, r in enumerate(data.rows) if r["ambiguity"] in ("odd-colour", "odd-shape")]

    def step(i: int) -> dict[str, float]:
        warmup(opt, i, lr, total=steps)
        idx = [pool[j] for j in batch_indices(i, batch, len(pool), seed)]
        rows = [data.rows[j] for j in idx]
        prompts, targets, _ = lm_task(
            model, trained.get("instruction_proj"), rows, task, band, states.get(idx) if states else None
        )
        images = data.images(idx, "input") if vision else None
        logs = {}
        if "object_head" in trained:
            cells = model.vision.cells(images)
            l_obj = trained["object_head"].loss(cells, object_grid(rows, cfg.res, model.vision.grid))
            if "shared_looks_head" in trained:
                l_shared = trained["shared_looks_head"].loss(cells, shared_looks_grid(rows, cfg.res, model.vision.grid))
                l_obj = l_obj + l_shared
                logs["l_shared"] = l_shared.item()
            prefix = model.prefix_from_features(model.vision.pooled(cells), len(idx))
        else:
            prefix = model.prefix(images, len(idx))
        embeds, labels, _ = build_batch(model, prefix, prompts, targets)
        logits, _ = model(embeds)
        loss = instruction_loss(logits, labels)
        logs["l_text"] = loss.item()
        if "object_head" in trained:
            loss = loss + l_obj
            logs["l_obj"] = l_obj.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return {"loss": loss.item(), **logs}

    return run(name, steps, step, trained, opt, paths(run_dir)[name], minutes=minutes, meta={"seed": seed, "task": task})


# ---------------------------------------------------------------- editors


def editor_models(cfg: Config, variant: str, tok: Tokenizer) -> dict[str, torch.nn.Module]:
    """The modules one editing model consists of (what its checkpoint holds)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown editor {variant!r}; choose one of {VARIANTS}")
    ctx = cfg.edit_head.context_dim
    sees = variant not in ("inspix2pix", "lgie")
    grid = cfg.image_grid if sees else 0
    models: dict[str, torch.nn.Module] = {"unet": UNet(cfg.unet, cfg.vae.latent_channels, ctx, grid=grid)}
    if variant == "inspix2pix":
        models["text_encoder"] = TextEncoder(cfg.text_encoder, cfg.mllm.instruction_dim, cfg.edit_head.queries, ctx)
    else:
        models["mllm"] = MLLM(cfg.mllm, cfg.res, tok, vision=sees)
        models["instruction_proj"] = InstructionProjector(cfg.mllm.instruction_dim, cfg.mllm.dim)
        models["edit_head"] = EditHead(cfg.edit_head, cfg.mllm.dim, grid=grid)
    return models


def saved_modules(models: dict[str, torch.nn.Module], variant: str) -> dict[str, torch.nn.Module]:
    """What an editor's checkpoint stores: only what the variant trains. The frozen LM is read from
    its own stage's checkpoint; E2E variants add their trained token embeddings and LM head. The
    instruction projection is the LM stage's for MGIE-FT, and trained with the editor otherwise (MGIE-FZ
    starts from an only-pre-trained MLLM, which has none)."""
    out = {k: m for k, m in models.items() if k != "mllm" and not (k == "instruction_proj" and variant == "mgie-ft")}
    if variant in LM_INIT and LM_INIT[variant][1]:
        out["lm_embed"] = models["mllm"].embed
        out["lm_head"] = models["mllm"].head
    return out


def load_editor(cfg: Config, run_dir: str, variant: str) -> tuple[dict[str, torch.nn.Module], Tokenizer]:
    """A trained editor, ready for inference (eval mode, no gradients)."""
    p = paths(run_dir)
    tok = load_tokenizer(run_dir)
    models = editor_models(cfg, variant, tok)
    if variant in LM_INIT:
        checkpoint.load(p[LM_INIT[variant][0]], lm_start(models, variant), restore_rng=False)
    checkpoint.load(p[f"editor-{variant}"], saved_modules(models, variant), restore_rng=False)
    for m in models.values():
        m.eval()
        for q in m.parameters():
            q.requires_grad_(False)
    return models, tok


# Which LM checkpoint each variant starts from, and whether its LM takes part in training (E2E).
LM_INIT = {
    "lgie": ("lm-ins", True),
    "mgie-fz": ("mllm-see", False),
    "mgie-ft": ("mllm-ins", False),
    "mgie-e2e": ("mllm-ins", True),
}


def lm_start(models: dict, variant: str) -> dict[str, torch.nn.Module]:
    """What an editor takes from the LM stage it starts from: the LM, and its instruction projection
    where that stage has one (mllm-ins and lm-ins; not mllm-see)."""
    start = {"mllm": models["mllm"]}
    if LM_INIT[variant][0] != "mllm-see":
        start["instruction_proj"] = models["instruction_proj"]
    return start


def condition(models: dict, data: SynthEditData, states: InstructionStates, idx: list[int], lm_trainable: bool):
    """U for a batch (teacher-forced on the ground-truth expressive instruction), the null U, and L_ins."""
    rows = [data.rows[j] for j in idx]
    if "text_encoder" in models:
        te = models["text_encoder"]
        empty, empty_mask = padded([states.empty()])
        return te(*padded(states.get(idx))), te(empty, empty_mask), None
    mllm, proj, head = models["mllm"], models["instruction_proj"], models["edit_head"]
    images = data.images(idx, "input") if mllm.vision is not None else None
    with torch.set_grad_enabled(lm_trainable or any(q.requires_grad for q in proj.parameters())):
        prompts, targets, lens = lm_task(mllm, proj, rows, "ins", states=states.get(idx))
        prefix = mllm.prefix(images, len(idx))
        embeds, labels, starts = build_batch(mllm, prefix, prompts, targets)
        logits, hidden = mllm(embeds)
    l_ins = instruction_loss(logits, labels) if lm_trainable else None
    img_emb = mllm.img_embeddings()
    u = head(img_hidden(hidden, starts, lens, mllm.cfg.num_img_tokens), img_emb, mllm.image_cells(prefix))
    return u, null_condition(mllm, head), l_ins


def null_condition(mllm: MLLM, head: EditHead) -> torch.Tensor:
    """The "no instruction" U of guidance: the edit head on zero [IMG] states (as in the official code)
    and zero image cells, so that it depends only on the model."""
    n, d = mllm.cfg.num_img_tokens, mllm.cfg.dim
    cells = torch.zeros(1, head.grid * head.grid, d) if head.grid else None
    return head(torch.zeros(1, n, d), mllm.img_embeddings(), cells)


def oriented_base(d: DiffusionConfig, z_in: torch.Tensor, z_tgt: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The latent a training example's change is taken from with the oriented residual (see
    DiffusionConfig.oriented_base): the input latent turned as SynthEdit's orientation `labels` say, or,
    with "encoded", the latent of the turned input image, which for a flip or a rotation (label not 0)
    is the target's own latent: SynthEdit's geometric edits turn the input and change nothing else."""
    if d.oriented_base == "turned-latent":
        return reorient(z_in, labels)
    if d.oriented_base == "encoded":
        return torch.where((labels != 0)[:, None, None, None], z_tgt, z_in)
    raise ValueError(f"diffusion.oriented_base {d.oriented_base!r}: use 'turned-latent' or 'encoded'")


def train_editor(
    cfg: Config,
    data: SynthEditData,
    run_dir: str,
    variant: str,
    steps: int,
    batch: int,
    lr: float,
    seed: int,
    minutes: float | None,
) -> bool:
    p = paths(run_dir)
    tok = load_tokenizer(run_dir)
    models = editor_models(cfg, variant, tok)
    lm_trainable = False
    if variant != "inspix2pix":
        init, lm_trainable = LM_INIT[variant]
        # The LM starts from its stage; on resume, the trained parts are then overwritten from the editor checkpoint.
        checkpoint.load(p[init], lm_start(models, variant), restore_rng=False)
        mllm = models["mllm"]
        # Parameter-efficient, as in the paper: the LM's blocks, vision tower and projector stay frozen;
        # E2E trains the token embeddings and the LM head (the [IMG] path) with the edit head and UNet.
        for name, prm in mllm.named_parameters():
            prm.requires_grad_(lm_trainable and (name.startswith("embed.") or name.startswith("head.")))
        for prm in models["instruction_proj"].parameters():
            prm.requires_grad_(variant != "mgie-ft")
    states = InstructionStates(p["instructions"], data.rows)
    lat = np.load(p["latents"], allow_pickle=False)
    z_in_all, z_tgt_all = lat["input"], lat["target"]
    if len(z_in_all) != len(data):
        raise ValueError(f"{p['latents']} holds {len(z_in_all)} examples, the dataset {len(data)}: run the latents stage again")
    sched = Schedule(cfg.diffusion)
    params = [q for m in models.values() for q in m.parameters()]
    opt = adamw(params, lr)

    def step(i: int) -> dict[str, float]:
        warmup(opt, i, lr, total=steps)
        if "mllm" in models and not lm_trainable:
            models["mllm"].eval()
        idx = batch_indices(i, batch, len(data), seed)
        g = step_generator(i, seed)
        z_in = torch.from_numpy(z_in_all[idx].astype(np.float32))
        z_tgt = torch.from_numpy(z_tgt_all[idx].astype(np.float32))
        u, null, l_ins = condition(models, data, states, idx, lm_trainable)
        unet = models["unet"]
        l_orient = None
        base = z_in
        if unet.orientation is not None:
            labels = orientation_labels([data.rows[j] for j in idx])
            l_orient = F.cross_entropy(unet.orientation_logits(u), labels)
            if cfg.diffusion.oriented_residual:
                base = oriented_base(cfg.diffusion, z_in, z_tgt, labels)
        keep_text, keep_image = drop_conditions(len(idx), cfg.diffusion, g)
        u = torch.where(keep_text[:, None, None], u, null.expand_as(u))
        x0 = sched.diffused(z_tgt, base)
        z_in = z_in * keep_image[:, None, None, None].float()
        t = torch.randint(0, cfg.diffusion.train_steps, (len(idx),), generator=g)
        noise = torch.randn(x0.shape, generator=g)
        pred = unet(torch.cat([sched.add_noise(x0, noise, t), z_in], 1), t.float(), u)
        l_edit = (sched.loss_weight(t) * ((pred - sched.target(x0, noise, t)) ** 2).mean(dim=(1, 2, 3))).mean()
        loss = l_edit if l_ins is None else l_ins + cfg.diffusion.edit_loss_weight * l_edit
        if l_orient is not None:
            loss = loss + cfg.diffusion.orientation_loss_weight * l_orient
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        logs = {"loss": loss.item(), "l_edit": l_edit.item()}
        if l_ins is not None:
            logs["l_ins"] = l_ins.item()
        if l_orient is not None:
            logs["l_orient"] = l_orient.item()
        return logs

    return run(
        f"editor-{variant}",
        steps,
        step,
        saved_modules(models, variant),
        opt,
        p[f"editor-{variant}"],
        minutes=minutes,
        meta={"seed": seed, "variant": variant},
    )


# ---------------------------------------------------------------- region head


def region_head(cfg: Config, variant: str) -> RegionHead:
    if variant not in SEEING:
        raise ValueError(
            f"only an MGIE editor whose MLLM sees the image ({', '.join(SEEING)}) has a region head, not {variant!r}"
        )
    return RegionHead(cfg.region_head, cfg.edit_head.context_dim, cfg.image_grid)


def load_region_head(cfg: Config, run_dir: str, variant: str) -> RegionHead | None:
    """The variant's trained region head, or None when the `region` stage has not been run for it."""
    path = paths(run_dir).get(f"region-{variant}")
    if path is None or not os.path.isfile(path):
        return None
    head = region_head(cfg, variant)
    checkpoint.load(path, {"region_head": head}, restore_rng=False)
    head.eval()
    for q in head.parameters():
        q.requires_grad_(False)
    return head


def train_region(
    cfg: Config,
    data: SynthEditData,
    run_dir: str,
    variant: str,
    steps: int,
    batch: int,
    lr: float,
    seed: int,
    minutes: float | None,
) -> bool:
    """The region head on the frozen, trained editor's U (teacher-forced, as the editor was trained)."""
    head = region_head(cfg, variant)
    if not os.path.isfile(paths(run_dir)[f"editor-{variant}"]):
        raise FileNotFoundError(
            f"no {variant} editor at {paths(run_dir)[f'editor-{variant}']}: run 'editor --variant {variant}' first"
        )
    models, _ = load_editor(cfg, run_dir, variant)
    states = InstructionStates(paths(run_dir)["instructions"], data.rows)
    opt = adamw(head.parameters(), lr)

    def step(i: int) -> dict[str, float]:
        warmup(opt, i, lr, total=steps)
        idx = batch_indices(i, batch, len(data), seed)
        with torch.no_grad():
            u, _, _ = condition(models, data, states, idx, lm_trainable=False)
        loss, acc = head.loss(u, data.masks(idx))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "cell_acc": acc}

    return run(
        f"region-{variant}",
        steps,
        step,
        {"region_head": head},
        opt,
        paths(run_dir)[f"region-{variant}"],
        minutes=minutes,
        meta={"seed": seed, "variant": variant},
    )
