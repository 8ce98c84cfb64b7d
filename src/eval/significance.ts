import { Rng } from "../core/rng.js";

/** The mean of a[i] - b[i] and a confidence interval for it. */
export interface PairedDifference {
  mean: number;
  lo: number;
  hi: number;
}

/** How `mgie eval` draws its intervals (the report states them). */
export const BOOTSTRAP = { resamples: 2000, level: 0.95, seed: 0 } as const;

/**
 * The mean per-example difference between two models scored on the same examples, with a
 * percentile-bootstrap interval: examples are resampled with replacement and each keeps both its
 * scores, so what the examples have in common (an easy photo, a hard edit) cancels. Seeded, so a
 * report is reproducible.
 */
export function pairedBootstrap(a: readonly number[], b: readonly number[], o: { resamples?: number; level?: number; seed?: number } = {}): PairedDifference {
  if (a.length !== b.length) throw new RangeError(`paired scores differ in length: ${a.length} vs ${b.length}`);
  if (a.length === 0) return { mean: NaN, lo: NaN, hi: NaN };
  const resamples = o.resamples ?? BOOTSTRAP.resamples;
  const level = o.level ?? BOOTSTRAP.level;
  const d = a.map((x, i) => x - b[i]);
  const n = d.length;
  const rng = new Rng(o.seed ?? BOOTSTRAP.seed);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[Math.floor(rng.next() * n)];
    means[r] = s / n;
  }
  means.sort();
  const tail = (1 - level) / 2;
  const at = (q: number) => means[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))];
  return { mean: d.reduce((s, x) => s + x, 0) / n, lo: at(tail), hi: at(1 - tail) };
}

/** Whether a difference in a metric is a win for the first model, a loss, or within the interval's noise. */
export function verdict(diff: PairedDifference, lowerIsBetter: boolean): "better" | "worse" | "within noise" {
  const better = lowerIsBetter ? diff.hi < 0 : diff.lo > 0;
  const worse = lowerIsBetter ? diff.lo > 0 : diff.hi < 0;
  return better ? "better" : worse ? "worse" : "within noise";
}
