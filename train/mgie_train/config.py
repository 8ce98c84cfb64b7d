"""Every size of every model, the inference defaults and the training plan, in one place. `default()` is the
shipped model; `tiny()` is for CI smoke runs. Config files of overrides and a run's config.json: see `load`."""
from __future__ import annotations

import dataclasses
import json
import types
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
    max_len: int = 192  # 65 image positions, the prompt (8 + up to 48 + 1), 32 expressive tokens, the [IMG] tokens
    merges: int = 512  # BPE merges learned from the training text
    num_img_tokens: int = 8  # N [IMG] tokens, as in the paper
    max_new_tokens: int = 32  # hard cap on the expressive instruction, in tokens
    # The instruction enters as the frozen MiniLM's token states (instructions.py): their width, and the
    # most WordPiece tokens read ([CLS] and [SEP] included; longer instructions are cut).
    instruction_dim: int = 384
    instruction_tokens: int = 48


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
    """The noise schedule, what the UNet predicts and how it is trained. The sampling defaults an exported
    model carries are in InferenceDefaults."""

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
    # choice stayed near the identity for every edit (see docs/EXPERIMENTS.md).
    orientation_loss_weight: float = 0.5
    # What the UNet predicts: "sample" (x0, the clean change), "v" (sqrt(a) eps - sqrt(1 - a) x0) or
    # "epsilon". Our edits are deterministic functions of (image, instruction), so the edit is decided at
    # the highest noise levels; x0 prediction trains those as much as any other, where v with min-SNR
    # weighting gave them almost no weight and the sampler baked the untrained noise into the result.
    prediction: str = "sample"
    # Diffuse the change (target latent - input latent) instead of the target latent: leaving the image
    # alone is then the zero sample, so what the edit does not touch is kept without first having
    # to be learned; the sampler adds the input latent back at the end.
    residual: bool = True
    # With `residual` and the orientation mix: the change is taken from the input reoriented as the edit
    # needs (in training SynthEdit's exact orientation, in sampling the orientation head's choice), so a
    # flip or a rotation is a change of zero and the UNet is left only the colour part of an edit.
    oriented_residual: bool = True
    # Which latent of the turned input the change is taken from: "turned-latent", the input's latent turned
    # (what the shipped models were trained with), or "encoded", the latent of the turned input image
    # (for a flip or a rotation, the target's own latent). The VAE is not equivariant to flips and
    # rotations: a turned latent is 0.36 from the turned image's (mean |z| 0.73) and decodes 0.076 L1
    # from it against 0.040, so with "turned-latent" the UNet must learn that difference from the
    # unturned image and left ghosts of it; with "encoded" a flip or a rotation is a change of zero.
    oriented_base: str = "turned-latent"
    # Min-SNR-gamma loss weighting (Hang et al., 2023); 0 weights every timestep's x0 error the same.
    min_snr_gamma: float = 0.0


@dataclass(frozen=True)
class InferenceDefaults:
    """How an exported model samples unless the caller says otherwise: export copies this block, field
    for field, into the manifest's `diffusion` (beside the noise schedule), and the reference pipeline
    (pipeline.py) uses it too. Not used in training."""

    # Decode the change, not the latent: output = input + D(z_edited) - D(z_input). The VAE's
    # reconstruction error then cancels wherever the edit leaves the latent alone.
    residual_decode: bool = True
    # Keep the input where the decoded change is below this in every channel ([0, 1] units; full change
    # from twice this, diffusion.keep_significant_changes). Chosen on the validation split: it removes
    # most of the error outside a local edit's object (see docs/EXPERIMENTS.md).
    change_threshold: float = 0.02
    # Keep the input outside the edit's region (a model with a region head only): where the region
    # head's upsampled probability is below this the input is kept, from twice this the edit is kept
    # whole, linear between (diffusion.keep_inside_region). 0 keeps every change; the manifest of a
    # model without a region head says 0.
    region_threshold: float = 0.25
    # Sampling steps and guidance scales, chosen on the validation split: the paper's 7.5 / 1.5 and 100
    # steps suit a UNet trained on millions of pairs; ours is best near 1 and at a few steps (see
    # docs/EXPERIMENTS.md).
    steps: int = 3
    cfg_text: float = 1.25
    cfg_image: float = 1.0


@dataclass(frozen=True)
class StagePlan:
    steps: int
    batch: int
    # Peak learning rate; None for the VAE, which trains at its own fixed rate (stages.train_vae).
    lr: float | None = None


@dataclass(frozen=True)
class TrainingPlan:
    """Steps, batch size and peak learning rate of each stage trained by steps (the tokenizer and the
    latents are not). Fields are the stage names with '_' for '-'; in JSON and config files the stage
    names themselves ("mllm-see"). How long this takes and why these step counts: docs/TRAINING.md."""

    vae: StagePlan = StagePlan(steps=3000, batch=16)
    vision: StagePlan = StagePlan(steps=1800, batch=32, lr=1e-3)
    mllm_see: StagePlan = StagePlan(steps=1800, batch=32, lr=1e-3)
    mllm_ins: StagePlan = StagePlan(steps=2400, batch=32, lr=5e-4)
    lm_ins: StagePlan = StagePlan(steps=600, batch=32, lr=1e-3)
    editor: StagePlan = StagePlan(steps=2500, batch=32, lr=3e-4)
    region: StagePlan = StagePlan(steps=800, batch=64, lr=1e-3)

    def __post_init__(self):
        for stage in self.stages():
            if (self[stage].lr is None) != (stage == "vae"):
                why = "cannot be set: the VAE trains at its own fixed rate" if stage == "vae" else "must be a number"
                raise ConfigError(f"config key 'plan.{stage}.lr' {why}")

    @staticmethod
    def stages() -> tuple[str, ...]:
        return tuple(f.name.replace("_", "-") for f in dataclasses.fields(TrainingPlan))

    def __getitem__(self, stage: str) -> StagePlan:
        if stage not in self.stages():
            raise KeyError(stage)
        return getattr(self, stage.replace("-", "_"))

    def to_json(self) -> dict:
        """{stage: {steps, batch[, lr]}}, the stage names as on the command line."""
        return {s: {k: v for k, v in dataclasses.asdict(self[s]).items() if v is not None} for s in self.stages()}


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
    inference: InferenceDefaults = field(default_factory=InferenceDefaults)
    plan: TrainingPlan = field(default_factory=TrainingPlan)

    @property
    def latent_res(self) -> int:
        return self.res // 2 ** len(self.vae.channels)

    @property
    def image_grid(self) -> int:
        """Side of the MLLM's square grid of image tokens (one per pool x pool patches)."""
        return self.res // self.mllm.patch // self.mllm.pool

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "plan": self.plan.to_json()}


def default() -> Config:
    return Config()


def tiny() -> Config:
    """A model small enough to train a few steps in seconds (CI smoke runs); same code paths."""
    return Config(
        res=32,
        vae=VAEConfig(channels=(8, 16)),
        mllm=MLLMConfig(
            patch=8,
            pool=1,
            vision_dim=32,
            vision_layers=1,
            dim=32,
            layers=2,
            heads=2,
            max_len=128,
            merges=64,
            num_img_tokens=4,
            max_new_tokens=32,
        ),
        edit_head=EditHeadConfig(dim=32, heads=2, encoder_layers=1, decoder_layers=1, queries=4, context_dim=32),
        region_head=RegionHeadConfig(dim=16, heads=2, layers=1),
        text_encoder=TextEncoderConfig(dim=32, layers=1, heads=2),
        unet=UNetConfig(channels=(16, 32), attention=(False, True), res_blocks=1, heads=2, time_dim=32, cell_map_channels=4),
        # The smoke run trains and exports the newer oriented base (the default stays the shipped models').
        diffusion=DiffusionConfig(oriented_base="encoded"),
        inference=InferenceDefaults(steps=4),
    )


CONFIGS = {"default": default, "tiny": tiny}


def by_name(name: str) -> Config:
    if name not in CONFIGS:
        raise ValueError(f"unknown config {name!r}; choose one of {sorted(CONFIGS)}")
    return CONFIGS[name]()


# ---------------------------------------------------------------- config files
#
# A config file holds overrides on top of a named base config (nanoGPT's configurator, with nested
# blocks): any part of config.json's layout, e.g. {"plan": {"editor": {"steps": 5000}}, "inference":
# {"steps": 5}}. A run's config.json, complete, is one too. `python3 -m mgie_train STAGE --config tiny
# --config-file FILE` trains with it; --steps/--batch/--lr then override the stage's plan for that command.


class ConfigError(ValueError):
    """A config file or override that does not fit the config's layout; the message names the key."""


def read_file(path: str) -> dict:
    """The overrides in a config file: a JSON object (.json), or a Python file (.py) whose top-level names
    not starting with '_' are the keys, e.g.

        plan = {"editor": {"steps": 5000, "lr": 1e-4}}
        inference = {"steps": 5}
    """
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".py"):
        names: dict = {}
        exec(compile(text, path, "exec"), names)
        return {k: v for k, v in names.items() if not k.startswith("_") and not isinstance(v, types.ModuleType)}
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(d, dict):
        raise ConfigError(f"{path} must hold a JSON object of config keys")
    return d


# Fields that moved from `diffusion` to `inference` when the inference defaults got a block of their
# own (old name -> new name): config.json files written before still load.
MOVED_TO_INFERENCE = {f: f for f in ("residual_decode", "change_threshold", "region_threshold", "cfg_text", "cfg_image")}
MOVED_TO_INFERENCE["sample_steps"] = "steps"


def _upgrade(d: dict) -> dict:
    """`d` in the current layout: the old layout's inference fields moved out of `diffusion`."""
    old = d.get("diffusion")
    if not isinstance(old, dict) or not any(k in old for k in MOVED_TO_INFERENCE):
        return d
    inference = {MOVED_TO_INFERENCE[k]: v for k, v in old.items() if k in MOVED_TO_INFERENCE}
    inference.update(d.get("inference") or {})
    diffusion = {k: v for k, v in old.items() if k not in MOVED_TO_INFERENCE}
    return {**d, "diffusion": diffusion, "inference": inference}


def _value(current, value, where: str):
    """`value` checked against (and shaped like) the config's `current` value at key `where`."""
    if dataclasses.is_dataclass(current):
        return _replace(current, value, where)
    if current is None and value is None:
        return None
    if isinstance(current, tuple) and isinstance(value, (list, tuple)):
        return tuple(_value(current[0], v, f"{where}[{i}]") if current else v for i, v in enumerate(value))
    if isinstance(current, bool):
        ok = isinstance(value, bool)
    elif isinstance(current, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(current, float) or current is None:  # None: a number left unset (the VAE's learning rate)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, type(current))
    if not ok:
        want = "a list" if isinstance(current, tuple) else type(current if current is not None else 0.0).__name__
        raise ConfigError(f"config key {where!r} must be {want}, not {value!r}")
    return value


def _replace(obj, overrides, where: str):
    """The dataclass `obj` with the (possibly partial, nested) dict `overrides` applied."""
    if not isinstance(overrides, dict):
        raise ConfigError(f"config key {where!r} must be an object of keys, not {overrides!r}")
    fields = {f.name: f for f in dataclasses.fields(obj)}
    changes = {}
    for key, value in overrides.items():
        name = key.replace("-", "_")
        path = f"{where}.{key}" if where else key
        if name not in fields:
            known = ", ".join(n.replace("_", "-") if isinstance(obj, TrainingPlan) else n for n in fields)
            raise ConfigError(f"unknown config key {path!r} (known here: {known})")
        changes[name] = _value(getattr(obj, name), value, path)
    return dataclasses.replace(obj, **changes)


def apply(cfg: Config, overrides: dict) -> Config:
    """`cfg` with `overrides` (laid out as config.json, any part of it) applied. The layout from before
    InferenceDefaults (sample_steps, cfg_text, ... in `diffusion`) is read too."""
    return _replace(cfg, _upgrade(overrides), "")


def load(name: str = "default", path: str | None = None) -> Config:
    """The base config `name` with the overrides of the config file at `path`, if any."""
    cfg = by_name(name)
    return apply(cfg, read_file(path)) if path else cfg


def from_json(d: dict) -> Config:
    """A config as `dumps` writes it (a run's config.json), or in the older layout; what it leaves out is
    the default config's."""
    return apply(default(), d)


def dumps(cfg: Config) -> str:
    return json.dumps(cfg.to_json(), indent=2, sort_keys=True)
