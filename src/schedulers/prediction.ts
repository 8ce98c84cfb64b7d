/**
 * What a UNet predicts: the noise, v = sqrt(a) eps - sqrt(1 - a) x0 (Salimans & Ho, 2022), or the
 * clean sample x0 itself.
 */
export type Prediction = "epsilon" | "v" | "sample";

/**
 * The noise implied by a UNet output `out` at the scaled model input `xIn` whose alpha_cumprod is
 * `alpha`: the output itself for epsilon, sqrt(a) v + sqrt(1 - a) x_in for v, and
 * (x_in - sqrt(a) x0) / sqrt(1 - a) for the clean sample.
 */
export function toEpsilon(out: Float32Array, xIn: Float32Array, alpha: number, prediction: Prediction): Float32Array {
  if (prediction === "epsilon") return out;
  if (out.length !== xIn.length) throw new RangeError(`${prediction} prediction of ${out.length} values for an input of ${xIn.length}`);
  const sa = Math.sqrt(alpha);
  const s1a = Math.sqrt(1 - alpha);
  if (prediction === "sample") return out.map((x0, k) => (xIn[k] - sa * x0) / s1a);
  return out.map((v, k) => sa * v + s1a * xIn[k]);
}
