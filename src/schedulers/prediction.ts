/** What a UNet predicts: the noise, or v = sqrt(a) eps - sqrt(1 - a) x0 (Salimans & Ho, 2022). */
export type Prediction = "epsilon" | "v";

/**
 * The noise implied by a UNet output `out` at the scaled model input `xIn` whose alpha_cumprod is
 * `alpha`: eps = sqrt(a) v + sqrt(1 - a) x_in for v prediction, the output itself for epsilon.
 */
export function toEpsilon(out: Float32Array, xIn: Float32Array, alpha: number, prediction: Prediction): Float32Array {
  if (prediction === "epsilon") return out;
  if (out.length !== xIn.length) throw new RangeError(`v prediction of ${out.length} values for an input of ${xIn.length}`);
  const sa = Math.sqrt(alpha);
  const s1a = Math.sqrt(1 - alpha);
  return out.map((v, k) => sa * v + s1a * xIn[k]);
}
