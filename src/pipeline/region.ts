import { keepGain } from "../render/keep.js";

/**
 * Keeps the input outside the region an MGIE edit is about. `region` holds, per pixel, the region
 * head's probability that the edit changes it (its per-cell probabilities upsampled to the image):
 * below `threshold` the input is kept, from twice that the edit is kept whole, and it is scaled
 * linearly between. Matches the reference implementation (train/mgie_train/diffusion.py
 * keep_inside_region) to rounding.
 *
 * `output` and `input` are RGB batches, NCHW in [-1, 1], of `plane` pixels per channel; `region` is
 * [b, 1, plane]; `output` is updated in place and returned.
 */
export function keepInsideRegion(output: Float32Array, input: Float32Array, region: Float32Array, plane: number, threshold: number): Float32Array {
  if (output.length !== input.length || output.length !== 3 * region.length || region.length % plane !== 0) {
    throw new RangeError(
      `output (${output.length}), input (${input.length}) and region (${region.length}) must be NCHW batches of ${plane}-pixel planes, 3 channels to 1`,
    );
  }
  if (threshold <= 0) return output;
  for (let image = 0; image < region.length / plane; image++) {
    for (let p = 0; p < plane; p++) {
      const gain = keepGain(region[image * plane + p], threshold);
      for (let c = 0; c < 3; c++) {
        const q = (image * 3 + c) * plane + p;
        output[q] = input[q] + gain * (output[q] - input[q]);
      }
    }
  }
  return output;
}
