/**
 * Dual classifier-free guidance (InstructPix2Pix, MGIE). `eps` holds three predictions stacked on
 * the batch axis, each of `size` values: (image, instruction), (image, null), (null, null):
 *   eps(null,null) + cfgImage * (eps(V,null) - eps(null,null)) + cfgText * (eps(V,U) - eps(V,null)).
 */
export function dualGuidance(eps: Float32Array, size: number, cfgText: number, cfgImage: number): Float32Array {
  if (eps.length !== 3 * size) throw new RangeError(`dual guidance needs 3 x ${size} values, got ${eps.length}`);
  const out = new Float32Array(size);
  for (let k = 0; k < size; k++) {
    const full = eps[k];
    const image = eps[size + k];
    const none = eps[2 * size + k];
    out[k] = none + cfgImage * (image - none) + cfgText * (full - image);
  }
  return out;
}

/**
 * How many UNet passes a guided step needs: at cfgText = cfgImage = 1 dual guidance is exactly
 * eps(V,U), so one pass on (image, instruction) replaces the three.
 */
export function guidanceGroups(cfgText: number, cfgImage: number): 1 | 3 {
  return cfgText === 1 && cfgImage === 1 ? 1 : 3;
}
