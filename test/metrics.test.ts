import { describe, expect, it } from "vitest";
import { Rng } from "../src/core/rng.js";
import { l1, maskedL1, psnr, ssim } from "../src/eval/metrics.js";
import { createImage, type RgbImage } from "../src/image/raster.js";

function noise(w: number, h: number, seed: number): RgbImage {
  const img = createImage(w, h);
  const r = new Rng(seed);
  for (let i = 0; i < img.data.length; i++) img.data[i] = r.next();
  return img;
}

describe("metrics", () => {
  const a = createImage(2, 1, [0.2, 0.4, 0.6]);
  const b = createImage(2, 1, [0.3, 0.4, 0.2]);

  it("L1 and PSNR by hand", () => {
    expect(l1(a, b)).toBeCloseTo((0.1 + 0 + 0.4) / 3, 6);
    const mse = (0.01 + 0 + 0.16) / 3;
    expect(psnr(a, b)).toBeCloseTo(10 * Math.log10(1 / mse), 4);
    expect(psnr(a, a)).toBe(Infinity);
  });

  it("splits the error by the mask", () => {
    const r = maskedL1(a, b, Uint8Array.of(1, 0));
    expect(r.inside).toBeCloseTo(0.5 / 3, 6);
    expect(r.outside).toBeCloseTo(0.5 / 3, 6);
    const c = createImage(2, 1);
    c.data.set([0.3, 0.4, 0.2], 0);
    c.data.set([0.2, 0.4, 0.6], 3);
    const m = maskedL1(a, c, Uint8Array.of(1, 0));
    expect(m.inside).toBeCloseTo(0.5 / 3, 6);
    expect(m.outside).toBe(0);
    expect(Number.isNaN(maskedL1(a, b, Uint8Array.of(0, 0)).inside)).toBe(true);
  });

  it("SSIM is 1 for identical images, symmetric, and matches the closed form on flat images", () => {
    const x = noise(16, 16, 1);
    expect(ssim(x, x)).toBeCloseTo(1, 10);
    const y = noise(16, 16, 2);
    expect(ssim(x, y)).toBeCloseTo(ssim(y, x), 12);
    expect(ssim(x, y)).toBeLessThan(0.2);
    // Flat images: variances and covariance vanish, SSIM = (2 m1 m2 + C1) / (m1^2 + m2^2 + C1).
    const f1 = createImage(12, 12, [0.5, 0.5, 0.5]);
    const f2 = createImage(12, 12, [0.3, 0.3, 0.3]);
    const c1 = 0.0001;
    expect(ssim(f1, f2)).toBeCloseTo((2 * 0.5 * 0.3 + c1) / (0.25 + 0.09 + c1), 6);
  });

  it("refuses images of different sizes", () => {
    expect(() => l1(a, createImage(1, 2))).toThrow(/differ in size/);
  });
});
