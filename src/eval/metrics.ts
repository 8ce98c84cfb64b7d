import type { RgbImage } from "../image/raster.js";

/**
 * Image metrics of the paper's experiments that can be computed without a pretrained network:
 * L1, PSNR and SSIM on [0, 1] pixels, and, since SynthEdit knows which pixels an edit must change,
 * the error inside that mask (did the edit happen?) and outside it (was the rest preserved?).
 */

function sameSize(a: RgbImage, b: RgbImage): void {
  if (a.width !== b.width || a.height !== b.height) throw new RangeError(`images differ in size: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
}

/** Mean absolute difference over all pixels and channels. */
export function l1(a: RgbImage, b: RgbImage): number {
  sameSize(a, b);
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += Math.abs(a.data[i] - b.data[i]);
  return s / a.data.length;
}

/** Peak signal-to-noise ratio in dB (peak 1); Infinity for identical images. */
export function psnr(a: RgbImage, b: RgbImage): number {
  sameSize(a, b);
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += (a.data[i] - b.data[i]) ** 2;
  const mse = s / a.data.length;
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
}

/** Mean absolute difference inside (mask = 1) and outside (mask = 0) the mask; NaN for an empty side. */
export function maskedL1(a: RgbImage, b: RgbImage, mask: Uint8Array): { inside: number; outside: number } {
  sameSize(a, b);
  if (mask.length !== a.width * a.height) throw new RangeError(`mask has ${mask.length} values for ${a.width * a.height} pixels`);
  const sum = [0, 0];
  const n = [0, 0];
  for (let p = 0; p < mask.length; p++) {
    const side = mask[p] ? 0 : 1;
    for (let c = 0; c < 3; c++) sum[side] += Math.abs(a.data[p * 3 + c] - b.data[p * 3 + c]);
    n[side] += 3;
  }
  return { inside: n[0] ? sum[0] / n[0] : NaN, outside: n[1] ? sum[1] / n[1] : NaN };
}

const SSIM_C1 = 0.01 ** 2;
const SSIM_C2 = 0.03 ** 2;

function gaussianWindow(size: number, sigma: number): Float64Array {
  const w = new Float64Array(size);
  const r = (size - 1) / 2;
  let s = 0;
  for (let i = 0; i < size; i++) {
    w[i] = Math.exp(-((i - r) ** 2) / (2 * sigma * sigma));
    s += w[i];
  }
  return w.map((v) => v / s);
}

/** Separable "valid" filtering of one channel plane with a 1-D window (no padding). */
function filterValid(plane: Float64Array, w: number, h: number, win: Float64Array): { data: Float64Array; w: number; h: number } {
  const k = win.length;
  const ow = w - k + 1;
  const oh = h - k + 1;
  const tmp = new Float64Array(ow * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += plane[y * w + x + i] * win[i];
      tmp[y * ow + x] = s;
    }
  const out = new Float64Array(ow * oh);
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += tmp[(y + i) * ow + x] * win[i];
      out[y * ow + x] = s;
    }
  return { data: out, w: ow, h: oh };
}

/**
 * SSIM (Wang et al. 2004) with the standard 11x11 Gaussian window (sigma 1.5), K1 = 0.01,
 * K2 = 0.03, data range 1, computed per channel over the valid region and averaged.
 * Images smaller than the window use a window as large as the smaller side (odd).
 */
export function ssim(a: RgbImage, b: RgbImage): number {
  sameSize(a, b);
  const { width: w, height: h } = a;
  let size = Math.min(11, w, h);
  if (size % 2 === 0) size -= 1;
  const win = gaussianWindow(size, 1.5);
  let total = 0;
  for (let c = 0; c < 3; c++) {
    const pa = new Float64Array(w * h);
    const pb = new Float64Array(w * h);
    for (let p = 0; p < w * h; p++) {
      pa[p] = a.data[p * 3 + c];
      pb[p] = b.data[p * 3 + c];
    }
    const prod = (x: Float64Array, y: Float64Array) => x.map((v, i) => v * y[i]);
    const mu1 = filterValid(pa, w, h, win);
    const mu2 = filterValid(pb, w, h, win);
    const s11 = filterValid(prod(pa, pa), w, h, win).data;
    const s22 = filterValid(prod(pb, pb), w, h, win).data;
    const s12 = filterValid(prod(pa, pb), w, h, win).data;
    let sum = 0;
    for (let i = 0; i < mu1.data.length; i++) {
      const m1 = mu1.data[i];
      const m2 = mu2.data[i];
      const v1 = s11[i] - m1 * m1;
      const v2 = s22[i] - m2 * m2;
      const cov = s12[i] - m1 * m2;
      sum += ((2 * m1 * m2 + SSIM_C1) * (2 * cov + SSIM_C2)) / ((m1 * m1 + m2 * m2 + SSIM_C1) * (v1 + v2 + SSIM_C2));
    }
    total += sum / mu1.data.length;
  }
  return total / 3;
}

/** The mean of the finite values (a mask-restricted error is NaN where the mask is empty); NaN if none. */
export function finiteMean(v: readonly number[]): number {
  const f = v.filter(Number.isFinite);
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
}
