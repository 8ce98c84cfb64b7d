/**
 * An RGB image in memory: row-major, interleaved channels, float values in [0, 1].
 * Every image operation in the project works on this type; 8-bit data appears only at I/O.
 */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

export function createImage(width: number, height: number, fill: readonly [number, number, number] = [0, 0, 0]): RgbImage {
  const data = new Float32Array(width * height * 3);
  if (fill[0] !== 0 || fill[1] !== 0 || fill[2] !== 0) {
    for (let i = 0; i < data.length; i += 3) {
      data[i] = fill[0];
      data[i + 1] = fill[1];
      data[i + 2] = fill[2];
    }
  }
  return { width, height, data };
}

export function cloneImage(img: RgbImage): RgbImage {
  return { width: img.width, height: img.height, data: img.data.slice() };
}

/** Applies `f` to every pixel; `f` writes the new colour into `out`. */
export function mapPixels(img: RgbImage, f: (r: number, g: number, b: number, out: Float32Array, x: number, y: number) => void): RgbImage {
  const res = createImage(img.width, img.height);
  const px = new Float32Array(3);
  const src = img.data;
  const dst = res.data;
  let i = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++, i += 3) {
      f(src[i], src[i + 1], src[i + 2], px, x, y);
      dst[i] = clamp01(px[0]);
      dst[i + 1] = clamp01(px[1]);
      dst[i + 2] = clamp01(px[2]);
    }
  }
  return res;
}

export function clamp01(v: number): number {
  return v < 0 ? 0 : Math.min(v, 1);
}

/** Rec. 601 luma, the weights of classic grayscale conversion. */
export function luma(r: number, g: number, b: number): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

/** Rounds to 8 bits per channel (what is stored on disk). */
export function toUint8(img: RgbImage): Uint8Array {
  const src = img.data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    // Math.round(clamp01(v) * 255), exactly (v * 255 + 0.5 is exact in doubles; a Uint8Array store truncates), 2x faster.
    const x = src[i] * 255 + 0.5;
    out[i] = x <= 0 ? 0 : Math.min(x, 255);
  }
  return out;
}

export function fromUint8(width: number, height: number, bytes: Uint8Array): RgbImage {
  if (bytes.length !== width * height * 3) {
    throw new RangeError(`expected ${width * height * 3} bytes for a ${width}x${height} RGB image, got ${bytes.length}`);
  }
  const data = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) data[i] = bytes[i] / 255;
  return { width, height, data };
}

/**
 * The x, y, w x h rectangle of an image of `width` pixels per row and `channels` interleaved values
 * per pixel, as a new array of the same type.
 */
export function cropPixels<T extends Float32Array | Uint8Array>(data: T, width: number, channels: number, x: number, y: number, w: number, h: number): T {
  const out = new (data.constructor as new (n: number) => T)(w * h * channels);
  for (let r = 0; r < h; r++) out.set(data.subarray(((y + r) * width + x) * channels, ((y + r) * width + x + w) * channels), r * w * channels);
  return out;
}
