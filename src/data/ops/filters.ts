import { createImage, luma, mapPixels, type RgbImage } from "../../image/raster.js";
import { ORIENTATIONS, orientImage } from "../../render/orientation.js";

/**
 * Pixel filters with exact definitions: the Photoshop-style edits of SynthEdit and the building
 * blocks of its photo degradations. Each returns a new image; inputs are never modified.
 */

/** Multiplies every channel by (1 + amount). */
export function brightness(img: RgbImage, amount: number): RgbImage {
  const k = 1 + amount;
  return mapPixels(img, (r, g, b, o) => {
    o[0] = r * k;
    o[1] = g * k;
    o[2] = b * k;
  });
}

/** Scales the distance from mid-grey by (1 + amount). */
export function contrast(img: RgbImage, amount: number): RgbImage {
  const k = 1 + amount;
  return mapPixels(img, (r, g, b, o) => {
    o[0] = (r - 0.5) * k + 0.5;
    o[1] = (g - 0.5) * k + 0.5;
    o[2] = (b - 0.5) * k + 0.5;
  });
}

/** Scales the distance from each pixel's luma by (1 + amount); -1 gives grayscale. */
export function saturation(img: RgbImage, amount: number): RgbImage {
  const k = 1 + amount;
  return mapPixels(img, (r, g, b, o) => {
    const l = luma(r, g, b);
    o[0] = l + (r - l) * k;
    o[1] = l + (g - l) * k;
    o[2] = l + (b - l) * k;
  });
}

export function grayscale(img: RgbImage): RgbImage {
  return saturation(img, -1);
}

/** Rotates hue by `degrees` around the grey axis (the luminance-preserving hue-rotation matrix). */
export function hueShift(img: RgbImage, degrees: number): RgbImage {
  const a = (degrees * Math.PI) / 180;
  const c = Math.cos(a);
  const s = Math.sin(a);
  const m = [
    0.213 + c * 0.787 - s * 0.213,
    0.715 - c * 0.715 - s * 0.715,
    0.072 - c * 0.072 + s * 0.928,
    0.213 - c * 0.213 + s * 0.143,
    0.715 + c * 0.285 + s * 0.14,
    0.072 - c * 0.072 - s * 0.283,
    0.213 - c * 0.213 - s * 0.787,
    0.715 - c * 0.715 + s * 0.715,
    0.072 + c * 0.928 + s * 0.072,
  ];
  return colorMatrix(img, m);
}

/** The classic sepia-tone matrix. */
export function sepia(img: RgbImage): RgbImage {
  return colorMatrix(img, [0.393, 0.769, 0.189, 0.349, 0.686, 0.168, 0.272, 0.534, 0.131]);
}

export function colorMatrix(img: RgbImage, m: readonly number[]): RgbImage {
  return mapPixels(img, (r, g, b, o) => {
    o[0] = m[0] * r + m[1] * g + m[2] * b;
    o[1] = m[3] * r + m[4] * g + m[5] * b;
    o[2] = m[6] * r + m[7] * g + m[8] * b;
  });
}

export function invert(img: RgbImage): RgbImage {
  return mapPixels(img, (r, g, b, o) => {
    o[0] = 1 - r;
    o[1] = 1 - g;
    o[2] = 1 - b;
  });
}

/** Mixes a flat colour over the image with the given strength (a colour wash). */
export function tint(img: RgbImage, color: readonly [number, number, number], strength: number): RgbImage {
  const k = 1 - strength;
  return mapPixels(img, (r, g, b, o) => {
    o[0] = r * k + color[0] * strength;
    o[1] = g * k + color[1] * strength;
    o[2] = b * k + color[2] * strength;
  });
}

/** Per-channel gains, e.g. a colour cast. */
export function channelGains(img: RgbImage, gains: readonly [number, number, number]): RgbImage {
  return mapPixels(img, (r, g, b, o) => {
    o[0] = r * gains[0];
    o[1] = g * gains[1];
    o[2] = b * gains[2];
  });
}

/** Per-channel power curve x^gamma (gamma > 1 darkens the mid-tones). */
export function gammaCurve(img: RgbImage, gamma: number): RgbImage {
  return mapPixels(img, (r, g, b, o) => {
    // biome-ignore-start lint/style/useExponentiationOperator: SynthEdit's bytes are fixed; keep the exact call its examples were made with
    o[0] = Math.pow(r, gamma);
    o[1] = Math.pow(g, gamma);
    o[2] = Math.pow(b, gamma);
    // biome-ignore-end lint/style/useExponentiationOperator: see above
  });
}

/** Darkens towards the corners: factor 1 - strength * (d / dmax)^2, d the distance from the centre. */
export function vignette(img: RgbImage, strength: number): RgbImage {
  const cx = (img.width - 1) / 2;
  const cy = (img.height - 1) / 2;
  const d2max = cx * cx + cy * cy;
  return mapPixels(img, (r, g, b, o, x, y) => {
    const f = 1 - (strength * ((x - cx) * (x - cx) + (y - cy) * (y - cy))) / d2max;
    o[0] = r * f;
    o[1] = g * f;
    o[2] = b * f;
  });
}

/** Separable Gaussian blur with edge clamping; the kernel reaches 3 sigma. */
export function gaussianBlur(img: RgbImage, sigma: number): RgbImage {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    kernel[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
    sum += kernel[i + radius];
  }
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  const { width: w, height: h } = img;
  const tmp = createImage(w, h);
  const out = createImage(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let r = 0,
        g = 0,
        b = 0;
      for (let k = -radius; k <= radius; k++) {
        const xx = Math.min(w - 1, Math.max(0, x + k));
        const i = (y * w + xx) * 3;
        const kv = kernel[k + radius];
        r += img.data[i] * kv;
        g += img.data[i + 1] * kv;
        b += img.data[i + 2] * kv;
      }
      const o = (y * w + x) * 3;
      tmp.data[o] = r;
      tmp.data[o + 1] = g;
      tmp.data[o + 2] = b;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let r = 0,
        g = 0,
        b = 0;
      for (let k = -radius; k <= radius; k++) {
        const yy = Math.min(h - 1, Math.max(0, y + k));
        const i = (yy * w + x) * 3;
        const kv = kernel[k + radius];
        r += tmp.data[i] * kv;
        g += tmp.data[i + 1] * kv;
        b += tmp.data[i + 2] * kv;
      }
      const o = (y * w + x) * 3;
      out.data[o] = r;
      out.data[o + 1] = g;
      out.data[o + 2] = b;
    }
  }
  return out;
}

/** Unsharp mask: x + amount * (x - blur(x)). */
export function sharpen(img: RgbImage, sigma: number, amount: number): RgbImage {
  const blurred = gaussianBlur(img, sigma);
  const out = createImage(img.width, img.height);
  for (let i = 0; i < out.data.length; i++) {
    const v = img.data[i] + amount * (img.data[i] - blurred.data[i]);
    out.data[i] = v < 0 ? 0 : Math.min(v, 1);
  }
  return out;
}

export type Geometric = "flip-horizontal" | "flip-vertical" | "rotate-90" | "rotate-180" | "rotate-270";

/** Flips and rotations by multiples of 90 degrees (clockwise). Rotating a non-square image swaps its sides. */
export function geometric(img: RgbImage, op: Geometric): RgbImage {
  return orientImage(img, ORIENTATIONS.indexOf(op));
}
