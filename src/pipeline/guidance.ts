/**
 * Dual classifier-free guidance (InstructPix2Pix, MGIE). `eps` holds the predictions stacked on the
 * batch axis, each of `size` values: (image, instruction), (image, null), (null, null):
 *   eps(null,null) + cfgImage * (eps(V,null) - eps(null,null)) + cfgText * (eps(V,U) - eps(V,null)).
 * At cfgImage = 1 the (null, null) term cancels, and `eps` may hold only the first two.
 */
export function dualGuidance(eps: Float32Array, size: number, cfgText: number, cfgImage: number): Float32Array {
  const groups = eps.length / size;
  if (groups !== 3 && !(groups === 2 && cfgImage === 1)) {
    throw new RangeError(`dual guidance needs 3 x ${size} values (2 x ${size} at cfgImage 1), got ${eps.length}`);
  }
  const out = new Float32Array(size);
  for (let k = 0; k < size; k++) {
    const full = eps[k];
    const image = eps[size + k];
    const none = groups === 3 ? eps[2 * size + k] : image;
    out[k] = none + cfgImage * (image - none) + cfgText * (full - image);
  }
  return out;
}

/**
 * How many UNet passes a guided step needs: at cfgText = cfgImage = 1 dual guidance is exactly
 * eps(V,U), so one pass on (image, instruction) replaces the three; at cfgImage = 1 alone,
 * (image, instruction) and (image, null) suffice.
 */
export function guidanceGroups(cfgText: number, cfgImage: number): 1 | 2 | 3 {
  if (cfgImage !== 1) return 3;
  return cfgText === 1 ? 1 : 2;
}
