import { describe, expect, it } from "vitest";
import { Rng } from "../src/core/rng.js";
import { ImageProcessor } from "../src/image/processor.js";
import type { RgbImage } from "../src/image/raster.js";
import { sharpImages } from "../src/platform/sharpImages.js";
import { ColorGrid } from "../src/render/colorGrid.js";
import { inverseOrientation, ORIENTATIONS, orient, orientImage } from "../src/render/orientation.js";
import { type RenderInput, renderEdit } from "../src/render/renderer.js";

const RES = 16;

function noise(width: number, height: number, seed: number): RgbImage {
  const rng = new Rng(seed);
  return { width, height, data: Float32Array.from({ length: width * height * 3 }, () => rng.next()) };
}

/** A photo with structure (a gradient and a bright square) and fine texture, as a renderer sees one. */
function photo(width: number, height: number): RgbImage {
  const rng = new Rng(7);
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inSquare = x > width / 3 && x < width / 2 && y > height / 3 && y < (2 * height) / 3;
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = Math.min(1, (inSquare ? 0.8 : 0.2 + (0.4 * x) / width) + 0.05 * c + 0.04 * rng.next());
    }
  }
  return { width, height, data };
}

async function modelPair(img: RgbImage, edit: (v: number, c: number) => number) {
  const view = await new ImageProcessor(sharpImages, RES).toModel(img);
  const output = { ...view.image, data: view.image.data.map((v, i) => edit(v, i % 3)) };
  return { modelInput: view.image, modelOutput: output, view: view.view };
}

function base(img: RgbImage, pair: Awaited<ReturnType<typeof modelPair>>): RenderInput {
  return { photo: img, ...pair, orientation: 0, region: null, changeThreshold: 0, mask: null };
}

describe("orient", () => {
  it("matches the UNet's 8 orientations and undoes each with its inverse", () => {
    // A 2x3 image of 1 channel: values are their index.
    const img = Float32Array.from([0, 1, 2, 3, 4, 5]);
    const want = [
      [0, 1, 2, 3, 4, 5],
      [2, 1, 0, 5, 4, 3],
      [3, 4, 5, 0, 1, 2],
      [5, 4, 3, 2, 1, 0],
      [0, 3, 1, 4, 2, 5],
      [3, 0, 4, 1, 5, 2],
      [2, 5, 1, 4, 0, 3],
      [5, 2, 4, 1, 3, 0],
    ];
    for (let k = 0; k < 8; k++) {
      const turned = orient(img, 3, 2, 1, k);
      expect(Array.from(turned), ORIENTATIONS[k]).toEqual(want[k]);
      const [w, h] = k >= 4 ? [2, 3] : [3, 2];
      expect(Array.from(orient(turned, w, h, 1, inverseOrientation(k)))).toEqual(Array.from(img));
    }
  });
});

describe("ColorGrid", () => {
  it("recovers a global affine colour change exactly enough, at any resolution", () => {
    const small = noise(32, 32, 1);
    const change = (v: number, c: number) => 0.1 + 0.7 * v + 0.05 * c;
    const out = small.data.map((v, i) => change(v, i % 3));
    const grid = ColorGrid.fit(small.data, out, 32, 32, null);
    const big = noise(100, 60, 2);
    const got = grid.apply(big.data, 100, 60, new Float32Array(big.data.length));
    for (let i = 0; i < got.length; i += 97) expect(got[i]).toBeCloseTo(change(big.data[i], i % 3), 3);
  });
});

describe("renderEdit", () => {
  it("keeps the photo's size for landscape, portrait and panoramic photos", async () => {
    for (const [w, h] of [
      [120, 90],
      [90, 120],
      [200, 50],
    ]) {
      const img = photo(w, h);
      const r = renderEdit(base(img, await modelPair(img, (v) => v * 0.5)));
      expect([r.image.width, r.image.height]).toEqual([w, h]);
    }
  });

  it("carries a tone change to full size sharper and closer than upsampling the model's pixels would", async () => {
    const img = photo(128, 96);
    const darker = (v: number) => v * 0.6;
    const r = renderEdit(base(img, await modelPair(img, darker)));
    let err = 0;
    for (let i = 0; i < img.data.length; i++) err += Math.abs(r.image.data[i] - darker(img.data[i]));
    expect(err / img.data.length).toBeLessThan(0.01);
  });

  it("applies the model's flip or quarter turn to the photo exactly", async () => {
    const img = photo(60, 40);
    for (const k of [1, 5]) {
      const pair = await modelPair(img, (v) => v);
      const r = renderEdit({ ...base(img, pair), orientation: k });
      expect(r.orientation).toBe(k);
      expect(r.image).toEqual(orientImage(img, k));
    }
  });

  it("keeps every pixel outside the user's mask bit for bit, and edits inside it", async () => {
    const img = photo(80, 60);
    const mask = new Float32Array(80 * 60);
    for (let y = 10; y < 30; y++) mask.fill(1, y * 80 + 20, y * 80 + 50);
    const r = renderEdit({ ...base(img, await modelPair(img, (v) => 1 - v)), mask, orientation: 3 });
    expect(r.orientation).toBe(0); // an edit confined to part of the photo cannot turn it
    let inside = 0;
    for (let p = 0; p < mask.length; p++) {
      for (let c = 0; c < 3; c++) {
        if (mask[p] === 0) expect(r.image.data[p * 3 + c]).toBe(img.data[p * 3 + c]);
        else inside += Math.abs(r.image.data[p * 3 + c] - img.data[p * 3 + c]);
      }
    }
    expect(inside / (20 * 30 * 3)).toBeGreaterThan(0.1);
  });

  it("keeps the photo where the change is below the threshold and outside the region", async () => {
    const img = photo(64, 48);
    const slight = renderEdit({ ...base(img, await modelPair(img, (v) => v + 0.005)), changeThreshold: 0.02 });
    expect(slight.image.data).toEqual(img.data);
    const region = new Float32Array(RES * RES); // the region head allows the edit nowhere
    const none = renderEdit({ ...base(img, await modelPair(img, (v) => 1 - v)), region });
    expect(none.image.data).toEqual(img.data);
  });
});

describe("ImageProcessor", () => {
  it("sees the whole photo: squashed into the square, or padded with the view where the photo is", async () => {
    expect(new ImageProcessor(sharpImages, 64).viewOf(400, 300)).toEqual({ x: 0, y: 0, width: 64, height: 64 });
    expect(new ImageProcessor(sharpImages, 64, "pad").viewOf(400, 300)).toEqual({ x: 0, y: 8, width: 64, height: 48 });
    expect(new ImageProcessor(sharpImages, 64, "pad").viewOf(300, 400)).toEqual({ x: 8, y: 0, width: 48, height: 64 });
    const seen = await new ImageProcessor(sharpImages, RES, "pad").toModel(photo(120, 60));
    expect([seen.image.width, seen.image.height, seen.pixels.length]).toEqual([RES, RES, 3 * RES * RES]);
  });

  it("reads a mask of another size, feathered inward only, and refuses one that is not an image", async () => {
    const p = new ImageProcessor(sharpImages, RES);
    // The left half white: the mask is 1 well inside it, 0 right of it beyond the resize's reach (feathering stays inside).
    const half = { width: 10, height: 10, data: Float32Array.from({ length: 300 }, (_, i) => (Math.floor(i / 3) % 10 < 5 ? 1 : 0)) };
    const m = await p.mask(half, 40, 30);
    expect(m.length).toBe(1200);
    for (let y = 0; y < 30; y++) {
      expect(m[y * 40 + 5]).toBeGreaterThan(0.99);
      for (let x = 24; x < 40; x++) expect(m[y * 40 + x]).toBe(0);
    }
    await expect(p.mask(new Uint8Array([1, 2, 3]), 40, 30)).rejects.toThrow(/the mask is not a readable image/);
  });
});

describe("RenderPool", () => {
  it("renders a large photo on several threads exactly as on one (the built workers, from dist/)", async () => {
    // The workers are the compiled renderWorker.js: npm test and test:unit build first.
    const { RenderPool } = await import("../dist/platform/renderPool.js");
    const img = photo(1200, 900);
    const mask = new Float32Array(1200 * 900).map((_, i) => (i % 1200 < 500 ? 1 : 0.5));
    const input = { ...base(img, await modelPair(img, (v, c) => 0.1 + 0.7 * v + 0.05 * c)), mask };
    const pool = new RenderPool(2);
    try {
      const parallel = await pool.render(input);
      expect(parallel.image.data.buffer).toBeInstanceOf(SharedArrayBuffer); // it did go through the workers
      expect(Array.from(parallel.image.data)).toEqual(Array.from(renderEdit(input).image.data));
    } finally {
      await pool.close();
    }
  });
});
