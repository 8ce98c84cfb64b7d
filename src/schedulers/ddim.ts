import { alphasCumprod, linspace, type NoiseScheduleConfig } from "./noiseSchedule.js";
import type { Scheduler } from "./scheduler.js";

/**
 * Deterministic DDIM (eta = 0): integer timesteps evenly spaced from T-1 to 0, each step
 * x' = sqrt(a') x0 + sqrt(1 - a') eps with x0 = (x - sqrt(1 - a) eps) / sqrt(a); the last step
 * goes to a' = 1 (the clean latent).
 */
export class DDIMScheduler implements Scheduler {
  static readonly schedulerName = "ddim";
  readonly name = DDIMScheduler.schedulerName;
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  readonly stochastic = false;
  private readonly ac: Float64Array;

  constructor(cfg: NoiseScheduleConfig, steps: number) {
    this.ac = alphasCumprod(cfg);
    this.timesteps = linspace(cfg.trainSteps - 1, 0, steps).map((t) => Math.round(t));
  }

  scaleModelInput(x: Float32Array): Float32Array {
    return x;
  }

  alphaCumprod(i: number): number {
    return this.ac[this.timesteps[i]];
  }

  step(eps: Float32Array, i: number, x: Float32Array): Float32Array {
    const a = this.alphaCumprod(i);
    const aPrev = i + 1 < this.timesteps.length ? this.alphaCumprod(i + 1) : 1;
    const sa = Math.sqrt(a);
    const s1a = Math.sqrt(1 - a);
    const saPrev = Math.sqrt(aPrev);
    const s1aPrev = Math.sqrt(1 - aPrev);
    const out = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) {
      const x0 = (x[k] - s1a * eps[k]) / sa;
      out[k] = saPrev * x0 + s1aPrev * eps[k];
    }
    return out;
  }
}
