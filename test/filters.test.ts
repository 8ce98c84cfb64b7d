import { describe, expect, it } from "vitest";
import { Rng } from "../src/core/rng.js";
import * as f from "../src/data/ops/filters.js";
import { createImage, type RgbImage } from "../src/image/raster.js";

function randomImage(w: number, h: number, seed = 1): RgbImage {
  const rng = new Rng(seed);
  const img = createImage(w, h);
  for (let i = 0; i < img.data.length; i++) img.data[i] = rng.next();
  return img;
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 3;
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
}

describe("filters", () => {
  const one = createImage(1, 1, [0.2, 0.4, 0.6]);

  it("brightness, contrast and saturation follow their formulas", () => {
    expect(pixel(f.brightness(one, 0.5), 0, 0).map((v) => +v.toFixed(5))).toEqual([0.3, 0.6, 0.9]);
    expect(pixel(f.contrast(one, 1), 0, 0).map((v) => +v.toFixed(5))).toEqual([0, 0.3, 0.7]);
    const l = 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6;
    const s = pixel(f.saturation(one, 1), 0, 0);
    expect(s[0]).toBeCloseTo(l + 2 * (0.2 - l), 5);
    expect(s[2]).toBeCloseTo(l + 2 * (0.6 - l), 5);
  });

  it("grayscale gives equal channels at the Rec. 601 luma", () => {
    const g = pixel(f.grayscale(one), 0, 0);
    const l = 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6;
    for (const v of g) expect(v).toBeCloseTo(l, 5);
  });

  it("clamps to [0, 1]", () => {
    const b = f.brightness(createImage(2, 2, [0.9, 0.9, 0.9]), 0.6);
    expect(Math.max(...b.data)).toBe(1);
  });

  it("invert twice and hue shifts summing to 360 degrees give back the image", () => {
    const img = randomImage(5, 4);
    const twice = f.invert(f.invert(img));
    for (let i = 0; i < img.data.length; i++) expect(twice.data[i]).toBeCloseTo(img.data[i], 6);
    const mid = createImage(3, 3, [0.3, 0.5, 0.45]);
    const round = f.hueShift(f.hueShift(mid, 120), 240);
    for (let i = 0; i < mid.data.length; i++) expect(round.data[i]).toBeCloseTo(mid.data[i], 2);
  });

  it("hue shift leaves greys grey", () => {
    const grey = pixel(f.hueShift(createImage(1, 1, [0.4, 0.4, 0.4]), 90), 0, 0);
    for (const v of grey) expect(v).toBeCloseTo(0.4, 5);
  });

  it("blur keeps a flat image flat and smooths an edge", () => {
    const flat = f.gaussianBlur(createImage(9, 9, [0.3, 0.6, 0.9]), 2);
    for (let i = 0; i < flat.data.length; i += 3) expect(flat.data[i]).toBeCloseTo(0.3, 5);
    const edge = createImage(10, 1);
    for (let x = 5; x < 10; x++) edge.data[x * 3] = 1;
    const b = f.gaussianBlur(edge, 1);
    expect(b.data[4 * 3]).toBeGreaterThan(0.1);
    expect(b.data[5 * 3]).toBeLessThan(0.9);
  });

  it("rotations compose and flips are involutions", () => {
    const img = randomImage(4, 3);
    const r = f.geometric(img, "rotate-90");
    expect([r.width, r.height]).toEqual([3, 4]);
    expect(pixel(r, 2, 0)).toEqual(pixel(img, 0, 0));
    const four = f.geometric(f.geometric(f.geometric(r, "rotate-90"), "rotate-90"), "rotate-90");
    expect(Array.from(four.data)).toEqual(Array.from(img.data));
    expect(Array.from(f.geometric(f.geometric(img, "rotate-90"), "rotate-270").data)).toEqual(Array.from(img.data));
    expect(Array.from(f.geometric(f.geometric(img, "flip-horizontal"), "flip-horizontal").data)).toEqual(Array.from(img.data));
    expect(pixel(f.geometric(img, "flip-vertical"), 1, 0)).toEqual(pixel(img, 1, 2));
  });

  it("vignette keeps the centre and darkens the corners", () => {
    const v = f.vignette(createImage(5, 5, [1, 1, 1]), 0.7);
    expect(pixel(v, 2, 2)[0]).toBeCloseTo(1, 5);
    expect(pixel(v, 0, 0)[0]).toBeCloseTo(0.3, 5);
  });
});
