import { alphasCumprod, linspace, type NoiseScheduleConfig } from "./noiseSchedule.js";
import type { Scheduler } from "./scheduler.js";

/**
 * Euler ancestral sampling in sigma space (k-diffusion; the official MGIE default). sigma(t) =
 * sqrt((1 - a_t) / a_t), interpolated at fractional timesteps evenly spaced from T-1 to 0, then 0.
 * Each step moves to sigma_down along the noise direction and adds fresh noise of size sigma_up,
 * where sigma_up^2 = s'^2 (s^2 - s'^2) / s^2 and sigma_down^2 = s'^2 - sigma_up^2.
 */
export class EulerAncestralScheduler implements Scheduler {
  static readonly schedulerName = "euler-ancestral";
  readonly name = EulerAncestralScheduler.schedulerName;
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  readonly initNoiseSigma: number;
  readonly stochastic = true;

  constructor(cfg: NoiseScheduleConfig, steps: number) {
    const ac = alphasCumprod(cfg);
    const all = Array.from(ac, (a) => Math.sqrt((1 - a) / a));
    this.timesteps = linspace(cfg.trainSteps - 1, 0, steps);
    const sig = this.timesteps.map((t) => {
      const lo = Math.floor(t);
      const hi = Math.min(lo + 1, cfg.trainSteps - 1);
      const w = t - lo;
      return all[lo] * (1 - w) + all[hi] * w;
    });
    this.sigmas = [...sig, 0];
    this.initNoiseSigma = Math.sqrt(this.sigmas[0] ** 2 + 1);
  }

  scaleModelInput(x: Float32Array, i: number): Float32Array {
    const k = 1 / Math.sqrt(this.sigmas[i] ** 2 + 1);
    return x.map((v) => v * k);
  }

  alphaCumprod(i: number): number {
    return 1 / (this.sigmas[i] ** 2 + 1);
  }

  step(eps: Float32Array, i: number, x: Float32Array, noise?: Float32Array): Float32Array {
    const s = this.sigmas[i];
    const next = this.sigmas[i + 1];
    const up = Math.sqrt((next * next * (s * s - next * next)) / (s * s));
    const down = Math.sqrt(next * next - up * up);
    const out = new Float32Array(x.length);
    // The denoised estimate is x - s * eps, so the Euler step along d = eps moves x by eps * (down - s).
    for (let k = 0; k < x.length; k++) out[k] = x[k] + eps[k] * (down - s);
    if (next > 0) {
      if (!noise || noise.length !== x.length) throw new RangeError("Euler ancestral needs fresh noise of the latent's size at every step but the last");
      for (let k = 0; k < x.length; k++) out[k] += noise[k] * up;
    }
    return out;
  }
}
