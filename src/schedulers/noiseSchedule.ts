/**
 * The training noise schedule of the diffusion model: "scaled linear" betas (linear in sqrt(beta))
 * as in Stable Diffusion, and their cumulative alpha products. Computed in double precision.
 */
export interface NoiseScheduleConfig {
  trainSteps: number;
  betaStart: number;
  betaEnd: number;
}

export function alphasCumprod(cfg: NoiseScheduleConfig): Float64Array {
  const out = new Float64Array(cfg.trainSteps);
  const a = Math.sqrt(cfg.betaStart);
  const b = Math.sqrt(cfg.betaEnd);
  let prod = 1;
  for (let i = 0; i < cfg.trainSteps; i++) {
    const s = cfg.trainSteps === 1 ? a : a + ((b - a) * i) / (cfg.trainSteps - 1);
    prod *= 1 - s * s;
    out[i] = prod;
  }
  return out;
}

/** `steps` values evenly spaced from `start` down to `end` inclusive. */
export function linspace(start: number, end: number, steps: number): number[] {
  if (steps === 1) return [start];
  return Array.from({ length: steps }, (_, i) => start + ((end - start) * i) / (steps - 1));
}
