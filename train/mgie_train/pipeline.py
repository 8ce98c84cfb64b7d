"""The reference editing pipeline in PyTorch: what the TypeScript runtime must reproduce, and a
quick way to look at a checkpoint's quality during training."""
from __future__ import annotations

import time

import torch

from . import stages
from .config import Config
from .data import SynthEditData
from .diffusion import Schedule, decode_edit, sample_ddim, sample_euler_ancestral
from .instructions import InstructionReader, padded
from .models.mllm import ExpressiveTrie, build_batch, generate, img_hidden
from .models.region_head import RegionHeadExport
from .models.unet import reorient
from .models.vae import VAEDecode


class ReferenceEditor:
    def __init__(self, cfg: Config, run_dir: str, variant: str, expressive: list[str] | None = None):
        """`expressive`: the instructions decoding is held to (a model's expressive.json), or None."""
        self.cfg = cfg
        self.variant = variant
        self.vae, self.scale = stages.load_vae(cfg, run_dir)
        self.models, self.tok = stages.load_editor(cfg, run_dir, variant)
        head = stages.load_region_head(cfg, run_dir, variant) if variant in stages.SEEING else None
        # The exported form: U -> the region at the image resolution, as the TypeScript pipeline reads it.
        self.region = None if head is None else RegionHeadExport(head, cfg.res)
        self.sched = Schedule(cfg.diffusion)
        self.reader = InstructionReader(cfg.mllm.instruction_tokens)
        self.trie = ExpressiveTrie(expressive, self.tok) if expressive else None

    @torch.no_grad()
    def condition(self, images: torch.Tensor, instructions: list[str], expressive: list[str] | None = None):
        """(U [B,L,d], null U [1,L,d], expressive instructions). With `expressive`, the MLLM is
        teacher-forced on it instead of generating (for debugging)."""
        read = self.reader.states(instructions)
        if self.variant == "inspix2pix":
            te = self.models["text_encoder"]
            return te(*padded(read)), te(*padded(self.reader.states([""]))), list(instructions)
        mllm, proj, head = self.models["mllm"], self.models["instruction_proj"], self.models["edit_head"]
        n = self.cfg.mllm.num_img_tokens
        texts, states, cells = [], [], []
        for i, ins in enumerate(instructions):
            img = images[i : i + 1] if mllm.vision is not None else None
            if expressive is None:
                gen = generate(mllm, proj, img, read[i], self.trie)
                text, h, c = gen.text, gen.states, gen.cells
            else:
                text = expressive[i]
                p, t, lens = stages.lm_task(mllm, proj, [{"instruction": ins, "expressive": text}], "ins", states=[read[i]])
                prefix = mllm.prefix(img, 1)
                e, _, starts = build_batch(mllm, prefix, p, t)
                h = img_hidden(mllm(e)[1], starts, lens, n)[0]
                c = mllm.image_cells(prefix)
                c = None if c is None else c[0]
            texts.append(text)
            states.append(h)
            if c is not None:
                cells.append(c)
        u = head(torch.stack(states), mllm.img_embeddings(), torch.stack(cells) if cells else None)
        return u, stages.null_condition(mllm, head), texts

    def base(self, u: torch.Tensor, z_img: torch.Tensor, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The latent and the pixels a residual model's change is added to: the input, turned as the
        orientation head chooses from U when the model has the oriented residual."""
        unet = self.models["unet"]
        if not (self.cfg.diffusion.oriented_residual and unet.orientation is not None):
            return z_img, images
        choice = unet.orientation_logits(u).argmax(dim=1)
        turned = reorient(images, choice)
        if self.cfg.diffusion.oriented_base != "encoded":
            return reorient(z_img, choice), turned
        # The encoded turned input, for the rows the head turns (DiffusionConfig.oriented_base); the
        # other rows keep the input's latent as it is, as the TypeScript pipeline does.
        z = z_img.clone()
        rows = torch.nonzero(choice != 0).flatten()
        if len(rows):
            z[rows] = self.vae.encoder(turned[rows])[0] * self.scale
        return z, turned

    @torch.no_grad()
    def edit(
        self,
        images: torch.Tensor,
        instructions: list[str],
        steps: int | None = None,
        cfg_text: float | None = None,
        cfg_image: float | None = None,
        scheduler: str = "euler-ancestral",
        seed: int = 0,
        expressive: list[str] | None = None,
        region_threshold: float | None = None,
    ) -> tuple[torch.Tensor, list[str]]:
        """Edited images in [-1, 1] and the expressive instructions. `region_threshold` (default: the
        config's when the editor has a region head, else 0) keeps the input outside the edit's region."""
        d = self.cfg.inference
        steps = steps or d.steps
        cfg_text = d.cfg_text if cfg_text is None else cfg_text
        cfg_image = d.cfg_image if cfg_image is None else cfg_image
        u, null, texts = self.condition(images, instructions, expressive)
        z_img = self.vae.encoder(images)[0] * self.scale
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(z_img.shape, generator=g)
        unet = self.models["unet"]
        base_z, base_img = self.base(u, z_img, images)
        if scheduler == "ddim":
            z = sample_ddim(unet, self.sched, z_img, u, null, steps, cfg_text, cfg_image, noise, base_z)
        else:
            step_noise = [torch.randn(z_img.shape, generator=g) for _ in range(steps)]
            z = sample_euler_ancestral(unet, self.sched, z_img, u, null, steps, cfg_text, cfg_image, noise, step_noise, base_z)
        region = None if self.region is None else self.region(u)
        if region_threshold is None:
            region_threshold = d.region_threshold if self.region is not None else 0.0
        elif region_threshold > 0 and self.region is None:
            raise ValueError(f"{self.variant} has no region head (run the 'region' stage): region_threshold must be 0")
        return (
            decode_edit(
                VAEDecode(self.vae, self.scale),
                z,
                base_z,
                base_img,
                d.residual_decode,
                d.change_threshold,
                region,
                region_threshold,
            ),
            texts,
        )


def bench(cfg: Config, run_dir: str, variant: str, data: SynthEditData, steps: int | None, runs: int) -> dict:
    """Median seconds of one edit of the dataset's first image by the reference pipeline, after a warm-up
    edit, over `runs` edits (`steps` sampling steps, default the config's)."""
    ed = ReferenceEditor(cfg, run_dir, variant)
    x = data.images([0], "input")
    steps = steps or cfg.inference.steps
    ed.edit(x, ["make the odd one out red"], steps=steps)  # warm-up
    times = []
    for r in range(max(1, runs)):
        t0 = time.time()
        ed.edit(x, ["make the odd one out red"], steps=steps, seed=r)
        times.append(time.time() - t0)
    times.sort()
    return {"seconds_per_edit": times[len(times) // 2], "runs": len(times)}
