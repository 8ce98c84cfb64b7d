import type { RgbImage } from "../image/raster.js";

/**
 * The 8 orientations of an image (the symmetries of the square), in the order of the UNet's
 * orientation mix (train/mgie_train/models/unet.py `orientations`): the renderer applies the one the
 * model chose to the full-size photo exactly, as a permutation of its pixels.
 */
export const ORIENTATIONS = ["identity", "flip-horizontal", "flip-vertical", "rotate-180", "transpose", "rotate-90", "rotate-270", "anti-transpose"] as const;
export type Orientation = (typeof ORIENTATIONS)[number];

/** Whether orientation `k` swaps width and height (a quarter turn or a transpose). */
export function swapsSides(k: number): boolean {
  return k >= 4;
}

/** The orientation that undoes `k` (a quarter turn one way undoes the other; the rest undo themselves). */
export function inverseOrientation(k: number): number {
  return k === 5 ? 6 : k === 6 ? 5 : k;
}

/**
 * `data` (width x height pixels of `channels` interleaved values) in orientation `k`: a new array,
 * height x width when the orientation swaps the sides. Each output pixel is copied from one input
 * pixel, walking the input with a fixed step per output column and per output row.
 */
export function orient<T extends Float32Array | Uint8Array>(data: T, width: number, height: number, channels: number, k: number): T {
  if (!Number.isInteger(k) || k < 0 || k > 7) throw new RangeError(`orientation must be 0 to 7, got ${k}`);
  if (data.length !== width * height * channels)
    throw new RangeError(`expected ${width * height * channels} values for ${width}x${height}x${channels}, got ${data.length}`);
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const row = width * channels;
  const last = (height - 1) * row;
  const right = (width - 1) * channels;
  // [start, step per output column, step per output row] in the input, for each orientation.
  const walks: [number, number, number][] = [
    [0, channels, row],
    [right, -channels, row],
    [last, channels, -row],
    [last + right, -channels, -row],
    [0, row, channels],
    [last, -row, channels],
    [right, row, -channels],
    [last + right, -row, -channels],
  ];
  const [start, colStep, rowStep] = walks[k];
  const outWidth = swapsSides(k) ? height : width;
  const outHeight = swapsSides(k) ? width : height;
  let o = 0;
  for (let y = 0; y < outHeight; y++) {
    let i = start + y * rowStep;
    for (let x = 0; x < outWidth; x++, i += colStep) {
      for (let c = 0; c < channels; c++) out[o++] = data[i + c];
    }
  }
  return out;
}

/** An RGB image in orientation `k`. */
/** Square planar maps ([items, channels, side, side], as the model's pixels and latents are) each in orientation `ks[item]`. */
export function orientPlanes(data: Float32Array, channels: number, side: number, ks: readonly number[]): Float32Array {
  const plane = side * side;
  const out = new Float32Array(data.length);
  ks.forEach((k, item) => {
    for (let c = 0; c < channels; c++) {
      const at = (item * channels + c) * plane;
      out.set(orient(data.subarray(at, at + plane), side, side, 1, k), at);
    }
  });
  return out;
}

export function orientImage(img: RgbImage, k: number): RgbImage {
  const data = orient(img.data, img.width, img.height, 3, k);
  return swapsSides(k) ? { width: img.height, height: img.width, data } : { width: img.width, height: img.height, data };
}
