"""Diffusion maths shared by training and the reference sampler: the scaled-linear noise schedule,
the training target (noise, v or the clean sample, of the target latent or of the change), condition dropout, dual
classifier-free guidance, and the DDIM and Euler-ancestral samplers (the TypeScript runtime
implements the same ones; parity is tested)."""
from __future__ import annotations

import math
from typing import Callable

import torch

from .config import DiffusionConfig


class Schedule:
    def __init__(self, cfg: DiffusionConfig):
        self.cfg = cfg
        betas = torch.linspace(math.sqrt(cfg.beta_start), math.sqrt(cfg.beta_end), cfg.train_steps, dtype=torch.float64) ** 2
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)

    def _alphas(self, t: torch.Tensor) -> torch.Tensor:
        """alpha_cumprod at each example's timestep, shaped to broadcast over [B, C, h, w]."""
        return self.alphas_cumprod[t].float()[:, None, None, None]

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ac = self._alphas(t)
        return ac.sqrt() * x0 + (1.0 - ac).sqrt() * noise

    def diffused(self, target_latent: torch.Tensor, image_latent: torch.Tensor) -> torch.Tensor:
        """The variable the model diffuses: the change from the input latent, or the target latent itself."""
        return target_latent - image_latent if self.cfg.residual else target_latent

    def edited(self, sample: torch.Tensor, image_latent: torch.Tensor) -> torch.Tensor:
        """The edited image's latent from a finished sample (inverse of `diffused`)."""
        return sample + image_latent if self.cfg.residual else sample

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """What the UNet learns to predict at timestep t."""
        if self.cfg.prediction == "epsilon":
            return noise
        if self.cfg.prediction == "sample":
            return x0
        ac = self._alphas(t)
        return ac.sqrt() * noise - (1.0 - ac).sqrt() * x0

    def loss_weight(self, t: torch.Tensor) -> torch.Tensor:
        """Per-example weight of the denoising loss at timesteps t (min-SNR-gamma, expressed for the target)."""
        g = self.cfg.min_snr_gamma
        if g <= 0:
            return torch.ones(t.shape)
        ac = self.alphas_cumprod[t].float()
        snr = ac / (1.0 - ac)
        if self.cfg.prediction == "sample":
            return snr.clamp(max=g)
        return snr.clamp(max=g) / (snr + 1.0 if self.cfg.prediction == "v" else snr)

    def to_eps(self, out: torch.Tensor, x_in: torch.Tensor, alpha: float) -> torch.Tensor:
        """The noise implied by the UNet's output at the (scaled) input x_in, whose alpha_cumprod is alpha."""
        if self.cfg.prediction == "epsilon":
            return out
        if self.cfg.prediction == "sample":
            return (x_in - math.sqrt(alpha) * out) / math.sqrt(1.0 - alpha)
        return math.sqrt(alpha) * out + math.sqrt(1.0 - alpha) * x_in


def drop_conditions(batch: int, cfg: DiffusionConfig, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example condition dropout (InstructPix2Pix): returns (keep_text, keep_image) booleans.
    drop_text: instruction only; drop_both: both; drop_image: image only."""
    r = torch.rand(batch, generator=generator)
    a, b, c = cfg.drop_text, cfg.drop_text + cfg.drop_both, cfg.drop_text + cfg.drop_both + cfg.drop_image
    keep_text = ~(r < b)
    keep_image = ~((r >= a) & (r < c))
    return keep_text, keep_image


# eps(latent_in [3B, 2C, h, w], t [3B] float, context [3B, L, d]) -> noise [3B, C, h, w]
Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def dual_guidance(eps: torch.Tensor, cfg_text: float, cfg_image: float) -> torch.Tensor:
    """eps holds the batch [(V,U), (V,null), (null,null)] stacked on dim 0:
    eps(null,null) + a_V (eps(V,null) - eps(null,null)) + a_X (eps(V,U) - eps(V,null))."""
    full, image_only, uncond = eps.chunk(3)
    return uncond + cfg_image * (image_only - uncond) + cfg_text * (full - image_only)


def single_pass(cfg_text: float, cfg_image: float) -> bool:
    """At a_X = a_V = 1 dual guidance is exactly eps(V, U): one UNet pass per step instead of three."""
    return cfg_text == 1.0 and cfg_image == 1.0


def guided_eps(
    unet: Denoiser,
    sched: Schedule,
    x: torch.Tensor,
    t: float,
    alpha: float,
    image_latent: torch.Tensor,
    cond: torch.Tensor,
    null: torch.Tensor,
    cfg_text: float,
    cfg_image: float,
) -> torch.Tensor:
    """One batched UNet call for the three guidance terms (guidance is affine with weights summing to
    one, so guiding the UNet's output and converting equals converting each term and guiding eps)."""
    b = x.shape[0]
    if single_pass(cfg_text, cfg_image):
        out = unet(torch.cat([x, image_latent], 1), torch.full((b,), float(t)), cond)
        return sched.to_eps(out, x, alpha)
    lat = torch.cat(
        [torch.cat([x, image_latent], 1), torch.cat([x, image_latent], 1), torch.cat([x, torch.zeros_like(image_latent)], 1)]
    )
    ctx = torch.cat([cond, null.expand(b, -1, -1), null.expand(b, -1, -1)])
    out = dual_guidance(unet(lat, torch.full((3 * b,), float(t)), ctx), cfg_text, cfg_image)
    return sched.to_eps(out, x, alpha)


def euler_ancestral_timesteps(sched: Schedule, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Timesteps spaced evenly from T-1 to 0 and their sigmas (interpolated), plus a final sigma 0."""
    T = sched.cfg.train_steps
    ts = torch.linspace(T - 1, 0, steps, dtype=torch.float64)
    all_sigmas = ((1 - sched.alphas_cumprod) / sched.alphas_cumprod).sqrt()
    lo = ts.floor().long()
    hi = (lo + 1).clamp(max=T - 1)
    w = ts - lo
    sigmas = all_sigmas[lo] * (1 - w) + all_sigmas[hi] * w
    return ts, torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)])


def sample_euler_ancestral(
    unet: Denoiser,
    sched: Schedule,
    image_latent: torch.Tensor,
    cond: torch.Tensor,
    null: torch.Tensor,
    steps: int,
    cfg_text: float,
    cfg_image: float,
    noise: torch.Tensor,
    step_noise: list[torch.Tensor],
    base: torch.Tensor | None = None,
) -> torch.Tensor:
    """k-diffusion's Euler ancestral in sigma space; `noise` starts it, `step_noise[i]` is the fresh
    noise of step i (given, so that two implementations can be compared exactly). A residual model's
    sample is added to `base` (default: the image latent; see DiffusionConfig.oriented_residual)."""
    ts, sigmas = euler_ancestral_timesteps(sched, steps)
    x = noise * math.sqrt(float(sigmas[0]) ** 2 + 1.0)
    for i in range(steps):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        eps = guided_eps(
            unet,
            sched,
            x / math.sqrt(s * s + 1.0),
            float(ts[i]),
            1.0 / (s * s + 1.0),
            image_latent,
            cond,
            null,
            cfg_text,
            cfg_image,
        )
        s_up = math.sqrt(s_next**2 * (s**2 - s_next**2) / s**2)
        s_down = math.sqrt(s_next**2 - s_up**2)
        # x - denoised = s * eps, so the Euler step along d = eps is:
        x = x + eps * (s_down - s)
        if s_next > 0:
            x = x + step_noise[i] * s_up
    return sched.edited(x, image_latent if base is None else base)


def decode_edit(
    decode: Callable[[torch.Tensor], torch.Tensor],
    z_edit: torch.Tensor,
    z_image: torch.Tensor,
    image: torch.Tensor,
    residual: bool,
    change_threshold: float,
    region: torch.Tensor | None,
    region_threshold: float,
) -> torch.Tensor:
    """Pixels of the edited latent in [-1, 1]; with `residual`, input + D(z_edit) - D(z_image), which
    cancels the VAE's reconstruction error where the edit leaves the latent alone. `decode` is the
    exported decoder (its output clamped to [-1, 1]), as the TypeScript pipeline runs it. Then
    `keep_significant_changes` with `change_threshold` and, given the region head's `region`,
    `keep_inside_region` with `region_threshold`."""
    if not residual:
        out = decode(z_edit).clamp(-1, 1)
    else:
        both = decode(torch.cat([z_edit, z_image]))
        edited, rec = both.chunk(2)
        out = (image + edited - rec).clamp(-1, 1)
    out = keep_significant_changes(out, image, change_threshold)
    return out if region is None else keep_inside_region(out, image, region, region_threshold)


def keep_significant_changes(out: torch.Tensor, image: torch.Tensor, threshold: float) -> torch.Tensor:
    """Keeps the input where the edit barely changed it. The sampler leaves a little change all over the
    photo, even far from the object a local edit is about; per pixel, with m its largest change over the
    channels (in [0, 1] units): below `threshold` the input is kept, from twice that the change is kept
    whole, and it is scaled linearly between (continuous, so two implementations agree to rounding)."""
    if threshold <= 0:
        return out
    change = out - image
    m = change.abs().amax(dim=1, keepdim=True) / 2  # [-1, 1] pixels -> [0, 1] units
    gain = ((m - threshold) / threshold).clamp(0, 1)
    return image + gain * change


def keep_inside_region(out: torch.Tensor, image: torch.Tensor, region: torch.Tensor, threshold: float) -> torch.Tensor:
    """Keeps the input outside the edit's region: `region` [B,1,H,W] is the region head's probability
    per pixel; below `threshold` the input is kept, from twice that the edit is kept whole, linear between."""
    if threshold <= 0:
        return out
    gain = ((region - threshold) / threshold).clamp(0, 1)
    return image + gain * (out - image)


def ddim_timesteps(sched: Schedule, steps: int) -> torch.Tensor:
    T = sched.cfg.train_steps
    return torch.linspace(T - 1, 0, steps, dtype=torch.float64).round().long()


def sample_ddim(
    unet: Denoiser,
    sched: Schedule,
    image_latent: torch.Tensor,
    cond: torch.Tensor,
    null: torch.Tensor,
    steps: int,
    cfg_text: float,
    cfg_image: float,
    noise: torch.Tensor,
    base: torch.Tensor | None = None,
) -> torch.Tensor:
    """Deterministic DDIM (eta = 0) over integer timesteps; the last step goes to alpha_cumprod = 1. A
    residual model's sample is added to `base` (default: the image latent)."""
    ts = ddim_timesteps(sched, steps)
    ac = sched.alphas_cumprod
    x = noise
    for i, t in enumerate(ts.tolist()):
        a = float(ac[t])
        a_prev = float(ac[ts[i + 1]]) if i + 1 < steps else 1.0
        eps = guided_eps(unet, sched, x, float(t), a, image_latent, cond, null, cfg_text, cfg_image)
        x0 = (x - math.sqrt(1 - a) * eps) / math.sqrt(a)
        x = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps
    return sched.edited(x, image_latent if base is None else base)
