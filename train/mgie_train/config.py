"""Every size of every model, in one place. `default()` is the shipped model; `tiny()` is for CI smoke runs."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class VAEConfig:
    channels: tuple[int, ...] = (32, 64)  # one stride-2 stage per entry: 2 entries = 4x down
    latent_channels: int = 4
    kl_weight: float = 1e-6
    # Latents are multiplied by this before diffusion (SD uses 0.18215); set from data after VAE training.
    scale: float = 1.0


@dataclass(frozen=True)
class MLLMConfig:
    patch: int = 8
    # Neighbouring pool x pool patch features are concatenated before the projector (fewer LM positions).
    # 1 at 64 px: one token per 8 px cell, so a small object is one token's business (with 2, the LM
    # learned to name sizes and colours several times more slowly).
    pool: int = 1
    vision_dim: int = 128
    vision_layers: int = 2
    dim: int = 192
    layers: int = 4
    heads: int = 4
    max_len: int = 192  # 65 image positions, the prompt, 32 expressive tokens and the [IMG] tokens
    merges: int = 512  # BPE merges learned from the training text
    num_img_tokens: int = 8  # N [IMG] tokens, as in the paper
    max_new_tokens: int = 32  # hard cap on the expressive instruction, in tokens


@dataclass(frozen=True)
class EditHeadConfig:
    dim: int = 128
    heads: int = 4
    encoder_layers: int = 2
    decoder_layers: int = 2
    queries: int = 16  # L: length of the conditioning sequence U (77 in the paper)
    context_dim: int = 128  # width of U (768 in the paper)


@dataclass(frozen=True)
class RegionHeadConfig:
    """Where an MGIE edit changes the image, from the edit head's per-cell rows (models/region_head.py)."""
    dim: int = 64
    heads: int = 4
    layers: int = 1


@dataclass(frozen=True)
class TextEncoderConfig:
    """The InsPix2Pix baseline's encoder of the raw instruction (no LM)."""
    dim: int = 128
    layers: int = 2
    heads: int = 4
    max_len: int = 96


@dataclass(frozen=True)
class UNetConfig:
    channels: tuple[int, ...] = (48, 96, 96)
    attention: tuple[bool, ...] = (False, True, True)
    res_blocks: int = 1
    heads: int = 4
    time_dim: int = 256
    # Channels of the map an image-reading edit head's per-cell rows of U become at the UNet's input
    # (MGIE variants only; see UNet).
    cell_map_channels: int = 8
    # The input latent reoriented (flipped, rotated) as the condition chooses joins the input (see
    # OrientationMix): flips and rotations are otherwise out of a small UNet's reach.
    orientations: bool = True


@dataclass(frozen=True)
class DiffusionConfig:
    train_steps: int = 1000
    beta_start: float = 0.00085
    beta_end: float = 0.012
    # Condition dropout per example (as in the official code): instruction only, both, image only.
    drop_text: float = 0.05
    drop_both: float = 0.05
    drop_image: float = 0.05
    edit_loss_weight: float = 0.5
    # Weight of the orientation loss: cross-entropy of the UNet's orientation choice (OrientationMix)
    # against the orientation SynthEdit's geometric edits produce. Learned from L_edit alone, the
    # choice stayed near the identity for every edit after 2,500 steps.
    orientation_loss_weight: float = 0.1
    # Guidance and step defaults chosen on the validation split (the paper's 7.5 / 1.5 and 100 steps suit a
    # UNet trained on millions of pairs; ours, trained on 50,000 examples, is best near 1 and at a few
    # steps: MGIE-E2E's L1 on 240 validation examples is 0.0538 at 1 / 1, 0.0516 at 1.25 / 1 and 1.5 / 1,
    # 0.0525 at 1.25 / 1.2, 0.0526 at 1.25 / 1 with 5 steps).
    cfg_text: float = 1.25
    cfg_image: float = 1.0
    sample_steps: int = 3
    # What the UNet predicts: "sample" (x0, the clean change), "v" (sqrt(a) eps - sqrt(1 - a) x0) or
    # "epsilon". Our edits are deterministic functions of (image, instruction), so the edit is decided at
    # the highest noise levels; x0 prediction trains those as much as any other, where v with min-SNR
    # weighting gave them ~0.5 % of the weight and the sampler baked the untrained noise into the result.
    prediction: str = "sample"
    # Diffuse the change (target latent - input latent) instead of the target latent: leaving the image
    # alone is then the zero sample, so what the edit does not touch is kept without first having
    # to be learned; the sampler adds the input latent back at the end.
    residual: bool = True
    # Min-SNR-gamma loss weighting (Hang et al., 2023); 0 weights every timestep's x0 error the same.
    min_snr_gamma: float = 0.0
    # Decode the change, not the latent: output = input + D(z_edited) - D(z_input). The VAE's
    # reconstruction error (24 dB here) then cancels wherever the edit leaves the latent alone.
    residual_decode: bool = True
    # Keep the input where the decoded change is below this in every channel ([0, 1] units; full change
    # from twice this, diffusion.keep_significant_changes). Chosen on the validation split: MGIE-E2E's L1
    # on 400 examples is 0.0525 without, 0.0509 at 0.02 and 0.03, 0.0511 at 0.04 (global edits 0.0523,
    # 0.0525, 0.0527, 0.0534): outside a local edit's object the error drops from 0.0090 to 0.0039.
    change_threshold: float = 0.02
    # Keep the input outside the edit's region (a model with a region head only): where the region
    # head's upsampled probability is below this the input is kept, from twice this the edit is kept
    # whole, linear between (diffusion.keep_inside_region). 0 keeps every change.
    region_threshold: float = 0.25


@dataclass(frozen=True)
class Config:
    res: int = 64
    vae: VAEConfig = field(default_factory=VAEConfig)
    mllm: MLLMConfig = field(default_factory=MLLMConfig)
    edit_head: EditHeadConfig = field(default_factory=EditHeadConfig)
    region_head: RegionHeadConfig = field(default_factory=RegionHeadConfig)
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    unet: UNetConfig = field(default_factory=UNetConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)

    @property
    def latent_res(self) -> int:
        return self.res // 2 ** len(self.vae.channels)

    @property
    def image_grid(self) -> int:
        """Side of the MLLM's square grid of image tokens (one per pool x pool patches)."""
        return self.res // self.mllm.patch // self.mllm.pool

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def default() -> Config:
    return Config()


def tiny() -> Config:
    """A model small enough to train a few steps in seconds (CI smoke runs); same code paths."""
    return Config(
        res=32,
        vae=VAEConfig(channels=(8, 16)),
        mllm=MLLMConfig(patch=8, pool=1, vision_dim=32, vision_layers=1, dim=32, layers=2, heads=2, max_len=128, merges=64, num_img_tokens=4, max_new_tokens=32),
        edit_head=EditHeadConfig(dim=32, heads=2, encoder_layers=1, decoder_layers=1, queries=4, context_dim=32),
        region_head=RegionHeadConfig(dim=16, heads=2, layers=1),
        text_encoder=TextEncoderConfig(dim=32, layers=1, heads=2),
        unet=UNetConfig(channels=(16, 32), attention=(False, True), res_blocks=1, heads=2, time_dim=32, cell_map_channels=4),
        diffusion=DiffusionConfig(sample_steps=4),
    )


CONFIGS = {"default": default, "tiny": tiny}


def by_name(name: str) -> Config:
    if name not in CONFIGS:
        raise ValueError(f"unknown config {name!r}; choose one of {sorted(CONFIGS)}")
    return CONFIGS[name]()


def from_json(d: dict) -> Config:
    def tup(x):
        return {k: tuple(v) if isinstance(v, list) else v for k, v in x.items()}

    return Config(
        res=d["res"],
        vae=VAEConfig(**tup(d["vae"])),
        mllm=MLLMConfig(**d["mllm"]),
        edit_head=EditHeadConfig(**d["edit_head"]),
        region_head=RegionHeadConfig(**d.get("region_head", {})),
        text_encoder=TextEncoderConfig(**d["text_encoder"]),
        unet=UNetConfig(**tup(d["unet"])),
        diffusion=DiffusionConfig(**d["diffusion"]),
    )


def dumps(cfg: Config) -> str:
    return json.dumps(cfg.to_json(), indent=2, sort_keys=True)
