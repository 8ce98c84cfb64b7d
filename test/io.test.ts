import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { ImageInputError } from "../src/errors.js";
import { encodeImage, readImage, writeImage } from "../src/image/io.js";
import { createImage } from "../src/image/raster.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mgie-io-"));
});

/** A 6x4 image, red on the left half and blue on the right. */
async function halves(format: "png" | "jpeg" | "webp"): Promise<Buffer> {
  const img = createImage(6, 4);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 6; x++) img.data.set(x < 3 ? [1, 0, 0] : [0, 0, 1], (y * 6 + x) * 3);
  return encodeImage(img, format);
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toBeInstanceOf(ImageInputError);
  await expect(p).rejects.toMatchObject({ code });
}

describe("readImage", () => {
  it("reads PNG, JPEG and WebP", async () => {
    for (const format of ["png", "jpeg", "webp"] as const) {
      const img = await readImage(await halves(format));
      expect([img.width, img.height]).toEqual([6, 4]);
      expect(img.data[0]).toBeGreaterThan(0.8);
      expect(img.data[5 * 3 + 2]).toBeGreaterThan(0.8);
    }
  });

  it("round-trips a PNG through writeImage exactly", async () => {
    const img = createImage(3, 2, [0.2, 0.4, 0.6]);
    const path = join(dir, "rt.png");
    await writeImage(img, path);
    const back = await readImage(path);
    for (let i = 0; i < img.data.length; i++) expect(Math.abs(back.data[i] - img.data[i])).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
  });

  it("applies the EXIF orientation", async () => {
    const rotated = await sharp(await halves("jpeg"))
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    const img = await readImage(rotated);
    expect([img.width, img.height]).toEqual([4, 6]);
    // Orientation 6 means "rotate 90 degrees clockwise to display": the red left half ends on top.
    expect(img.data[0]).toBeGreaterThan(0.7);
    expect(img.data[5 * 4 * 3 + 2]).toBeGreaterThan(0.7);
  });

  it("flattens transparency onto white", async () => {
    const rgba = await sharp({ create: { width: 2, height: 2, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer();
    const img = await readImage(rgba);
    expect(Array.from(img.data)).toEqual(new Array(12).fill(1));
  });

  it("gives a clear error for empty, foreign, corrupt, truncated, missing and over-large input", async () => {
    await expectCode(readImage(new Uint8Array(0)), "IMAGE_EMPTY");
    await writeFile(join(dir, "empty.png"), "");
    await expectCode(readImage(join(dir, "empty.png")), "IMAGE_EMPTY");
    await expectCode(readImage(Buffer.from("hello, this is plainly text and not an image")), "IMAGE_UNREADABLE");
    const gif = await sharp({ create: { width: 2, height: 2, channels: 3, background: "#000" } })
      .gif()
      .toBuffer();
    await expectCode(readImage(gif), "IMAGE_FORMAT");
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#369" } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    await expectCode(readImage(png.subarray(0, Math.floor(png.length / 2))), "IMAGE_CORRUPT");
    const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#369" } })
      .jpeg()
      .toBuffer();
    const garbled = Buffer.from(jpeg);
    garbled.fill(0x5a, 200, garbled.length - 2);
    await expect(readImage(garbled)).rejects.toBeInstanceOf(ImageInputError);
    await expectCode(readImage(join(dir, "no-such-file.png")), "IMAGE_NOT_FOUND");
    await expectCode(readImage(dir), "IMAGE_NOT_FILE");
    await expectCode(readImage(png, { maxPixels: 1000 }), "IMAGE_TOO_LARGE");
    await expectCode(readImage(png, { maxBytes: 100 }), "IMAGE_TOO_LARGE");
  });

  it("refuses a decompression bomb without decoding it", async () => {
    const huge = await sharp({ create: { width: 10000, height: 10000, channels: 3, background: "#fff" } })
      .png()
      .toBuffer();
    await expectCode(readImage(huge, { maxPixels: 50_000_000 }), "IMAGE_TOO_LARGE");
  });
});
