import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { extendMirror, resizeLanczos3 } from "../src/image/resample.js";

/** The browser's resampler (src/image/resample.ts) against libvips through sharp, which Node uses for the same views. */
const PHOTOS = ["assets/photos/darknet/dog.jpg", "assets/photos/python3-sklearn/flower.jpg"];

async function decoded(path: string) {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: 3, data: new Uint8Array(data) };
}

describe("resizeLanczos3", () => {
  it("shrinks photos within 4 levels of sharp's Lanczos 3, half a level on average", async () => {
    for (const path of PHOTOS) {
      const img = await decoded(path);
      for (const [w, h] of [
        [64, 64],
        [32, 32],
        [64, 48],
        [100, 37],
      ]) {
        const expected = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
          .resize(w, h, { kernel: "lanczos3", fit: "fill" })
          .raw()
          .toBuffer();
        const got = resizeLanczos3(img, w, h);
        expect([got.width, got.height]).toEqual([w, h]);
        let worst = 0;
        let total = 0;
        for (let i = 0; i < expected.length; i++) {
          worst = Math.max(worst, Math.abs(got.data[i] - expected[i]));
          total += Math.abs(got.data[i] - expected[i]);
        }
        expect(worst, `${path} to ${w}x${h}`).toBeLessThanOrEqual(4);
        expect(total / expected.length, `${path} to ${w}x${h}`).toBeLessThan(0.5);
      }
    }
  });
});

describe("extendMirror", () => {
  it("pads as sharp's extend with mirror does, exactly", async () => {
    const img = resizeLanczos3(await decoded(PHOTOS[1]), 64, 43);
    const expected = await sharp(img.data, { raw: { width: 64, height: 43, channels: 3 } })
      .extend({ left: 0, top: 10, right: 0, bottom: 11, extendWith: "mirror" })
      .raw()
      .toBuffer();
    expect(Buffer.from(extendMirror(img, 0, 10, 64, 64).data).equals(expected)).toBe(true);
  });
});
