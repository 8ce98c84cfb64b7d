import { keepGain } from "../render/keep.js";

/**
 * Keeps the input where an edit barely changed it. The sampler leaves a little change all over the
 * photo, even far from the object a local edit is about. Per pixel, with m its largest change over
 * the channels (in [0, 1] units): below `threshold` the input is kept, from twice that the change
 * is kept whole, and it is scaled linearly between, so the result is continuous in the change and
 * matches the reference implementation (train/mgie_train/diffusion.py) to rounding.
 *
 * `output` and `input` are RGB batches, NCHW in [-1, 1], of `plane` pixels per channel; `output`
 * is updated in place and returned.
 */
export function keepSignificantChanges(output: Float32Array, input: Float32Array, plane: number, threshold: number): Float32Array {
  if (output.length !== input.length || output.length % (3 * plane) !== 0) {
    throw new RangeError(`output (${output.length}) and input (${input.length}) must be the same NCHW RGB batch of ${plane}-pixel planes`);
  }
  if (threshold <= 0) return output;
  for (let image = 0; image < output.length; image += 3 * plane) {
    for (let p = image; p < image + plane; p++) {
      let m = 0;
      for (let c = 0; c < 3; c++) m = Math.max(m, Math.abs(output[p + c * plane] - input[p + c * plane]));
      const gain = keepGain(m / 2, threshold);
      for (let c = 0; c < 3; c++) {
        const q = p + c * plane;
        output[q] = input[q] + gain * (output[q] - input[q]);
      }
    }
  }
  return output;
}
