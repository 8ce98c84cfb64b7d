import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { ImageInputError, InvalidArgumentError } from "../src/errors.js";
import { encodeImage, formatFromPath, readableFormats, readImage, readPhoto, writeImage } from "../src/image/io.js";
import { clamp01, createImage, type RgbImage, toUint8 } from "../src/image/raster.js";

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
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4" fill="red"/></svg>');
    await expectCode(readImage(svg), "IMAGE_FORMAT");
    await expectCode(readImage(bmp()), "IMAGE_FORMAT");
    await expect(readImage(bmp())).rejects.toThrow(/is a BMP image, which this build cannot decode; supported formats are JPEG, PNG, WebP, GIF, TIFF/);
    await expect(readImage(svg)).rejects.toThrow(/is an SVG image; supported formats are JPEG, PNG, WebP, GIF, TIFF/);
    const noise = Buffer.alloc(64 * 64 * 3).map((_, i) => (i * 7919) % 251);
    const gif = await sharp(noise, { raw: { width: 64, height: 64, channels: 3 } })
      .gif()
      .toBuffer();
    await expectCode(readImage(gif.subarray(0, Math.floor(gif.length / 2))), "IMAGE_CORRUPT");
    await expectCode(readImage(gif, { maxPixels: 1000 }), "IMAGE_TOO_LARGE");
    await expectCode(writeImage(createImage(2, 2), join(dir, "out.gif")), "IMAGE_FORMAT");
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

/** A 2x2 24-bit BMP, a format this build of sharp has no decoder for. */
function bmp(): Buffer {
  const b = Buffer.alloc(54 + 16);
  b.write("BM", 0, "latin1");
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(2, 18);
  b.writeInt32LE(2, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  b.writeUInt32LE(16, 34);
  b.fill(0x80, 54);
  return b;
}

/** A smooth w x h sRGB image: saturated hues that Display P3 encodes with clearly different numbers. */
function gradient(w: number, h: number): RgbImage {
  const img = createImage(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) img.data.set([0.2 + (0.7 * x) / w, 0.15 + (0.6 * y) / h, 0.7 - (0.5 * x) / w], (y * w + x) * 3);
  }
  return img;
}

function maxDiff(a: RgbImage, b: RgbImage): number {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return m;
}

function meanDiff(a: RgbImage, b: RgbImage): number {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += Math.abs(a.data[i] - b.data[i]);
  return s / a.data.length;
}

describe("more input formats", () => {
  it("this build reads JPEG, PNG, WebP, GIF and TIFF, and AVIF through libheif", () => {
    expect(readableFormats()).toEqual(expect.arrayContaining(["jpeg", "png", "webp", "gif", "tiff"]));
    // sharp's prebuilt libvips includes libheif with the AV1 decoder (aom); a custom build may not.
    expect(readableFormats().includes("heif")).toBe(sharp.format.heif.input.buffer);
  });

  it("reads the first frame of an animated GIF", async () => {
    const frame = (rgb: number[]) => Buffer.alloc(4 * 3 * 3).map((_, i) => rgb[i % 3]);
    const gif = await sharp(Buffer.concat([frame([255, 0, 0]), frame([0, 0, 255])]), { raw: { width: 4, height: 6, channels: 3, pageHeight: 3 } })
      .gif()
      .toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const photo = await readPhoto(gif);
    expect([photo.format, photo.width, photo.height]).toEqual(["gif", 4, 3]);
    for (let i = 0; i < photo.image.data.length; i += 3) expect(Array.from(photo.image.data.subarray(i, i + 3))).toEqual([1, 0, 0]);
  });

  it("reads TIFF", async () => {
    const img = gradient(8, 6);
    const tiff = await sharp(Buffer.from(await encodeImage(img, "png")))
      .tiff({ compression: "lzw" })
      .toBuffer();
    const photo = await readPhoto(tiff);
    expect([photo.format, photo.width, photo.height]).toEqual(["tiff", 8, 6]);
    expect(maxDiff(photo.image, img)).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
  });

  it.skipIf(!sharp.format.heif.input.buffer)("reads AVIF (skipped where this sharp build has no HEIF/AVIF decoder)", async () => {
    const avif = await sharp({ create: { width: 16, height: 8, channels: 3, background: "#3080c0" } })
      .avif({ quality: 90 })
      .toBuffer();
    const photo = await readPhoto(avif);
    expect([photo.format, photo.width, photo.height]).toEqual(["avif", 16, 8]);
    for (const [c, want] of [0x30, 0x80, 0xc0].entries()) expect(Math.abs(photo.image.data[c] - want / 255)).toBeLessThan(6 / 255);
  });

  it("readPhoto gives the format, the size after EXIF orientation, and the ICC profile", async () => {
    const rotated = await sharp(await halves("jpeg"))
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    const turned = await readPhoto(rotated);
    expect([turned.format, turned.width, turned.height]).toEqual(["jpeg", 4, 6]);
    expect((await readPhoto(await halves("webp"))).icc).toBeNull();
    const p3 = await sharp(await halves("png"))
      .withIccProfile("p3")
      .png()
      .toBuffer();
    const photo = await readPhoto(p3);
    expect(photo.format).toBe("png");
    expect(photo.icc?.equals((await sharp(p3).metadata()).icc!)).toBe(true);
  });

  it("converts a 16-bit image with a profile to sRGB (sharp alone leaves it in Display P3)", async () => {
    const img = gradient(8, 6);
    const srgb8 = Buffer.from(await encodeImage(img, "png"));
    const p3png16 = await sharp(srgb8).toColourspace("rgb16").withIccProfile("p3").png().toBuffer();
    expect((await sharp(p3png16).metadata()).space).toBe("rgb16");
    expect(maxDiff(await readImage(p3png16), img)).toBeLessThanOrEqual(2 / 255);
  });
});

describe("writing", () => {
  it("toUint8 rounds and clamps as Math.round(clamp01(v) * 255), at ties, out of range and NaN", () => {
    const k = [0, 1, 2, 127, 128, 254, 255];
    const values = [...k.flatMap((b) => [b / 255, (b + 0.5) / 255, (b - 0.5) / 255, Math.fround((b + 0.5) / 255)]), -1, -1e-9, 1.5, 2, Number.NaN, 1e30];
    for (let i = 0; i < 5000; i++) values.push(Math.fround(i / 4999) * 1.2 - 0.1);
    const img = { width: values.length, height: 1, data: new Float32Array(values.flatMap((v) => [v, v, v])) };
    const expected = Array.from(img.data, (v) => Math.round(clamp01(v) * 255) || 0);
    expect(Array.from(toUint8(img))).toEqual(expected);
  });

  it("formatFromPath knows .png, .jpg, .jpeg and .webp, and names them otherwise", () => {
    expect(["a.png", "b.JPG", "c.jpeg", "d.webp"].map(formatFromPath)).toEqual(["png", "jpeg", "jpeg", "webp"]);
    for (const bad of ["e.gif", "f.tiff", "noext"]) {
      expect(() => formatFromPath(bad)).toThrow(ImageInputError);
      expect(() => formatFromPath(bad)).toThrow(/use a \.png, \.jpg or \.webp file name \(\.jpeg is JPEG too\)/);
    }
  });

  it("writes WebP, and JPEG whose size follows the quality", async () => {
    const img = gradient(48, 32);
    const path = join(dir, "out.webp");
    await writeImage(img, path, { quality: 90 });
    const meta = await sharp(path).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["webp", 48, 32]);
    expect(maxDiff(await readImage(path), img)).toBeLessThan(12 / 255);
    const low = await encodeImage(img, "jpeg", { quality: 20 });
    const high = await encodeImage(img, "jpeg", { quality: 98 });
    expect(high.length).toBeGreaterThan(low.length * 1.5);
    expect((await encodeImage(img, "jpeg")).equals(await encodeImage(img, "jpeg", { quality: 92 }))).toBe(true);
  });

  it("refuses a quality out of range and a profile that is not an RGB ICC profile", async () => {
    const img = gradient(4, 4);
    for (const quality of [0, 101, 50.5]) await expect(encodeImage(img, "jpeg", { quality })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(encodeImage(img, "png", { icc: Buffer.from("not a profile") })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("keeps a Display P3 photo's profile and colours when writing the edit back", async () => {
    const img = gradient(64, 48);
    const p3jpeg = await sharp(Buffer.from(await encodeImage(img, "png")))
      .withIccProfile("p3")
      .jpeg({ quality: 95 })
      .toBuffer();
    const input = await readPhoto(p3jpeg);
    expect(input.icc).not.toBeNull();
    for (const format of ["jpeg", "png", "webp"] as const) {
      const out = await encodeImage(input.image, format, { icc: input.icc, quality: 100 });
      const meta = await sharp(out).metadata();
      expect(meta.icc?.equals(input.icc!), format).toBe(true);
      const back = await readImage(out);
      // The conversion there and back is within 2/255 everywhere (PNG: nothing else changes the colours);
      // JPEG and WebP add their own loss around edges, so there the mean is held to it.
      if (format === "png") expect(maxDiff(back, input.image)).toBeLessThanOrEqual(2 / 255 + 1e-6);
      else expect(meanDiff(back, input.image), format).toBeLessThanOrEqual(2 / 255);
      // The stored numbers are Display P3's, not the sRGB ones: written without the conversion they would differ.
      const stored = await sharp(out).keepIccProfile().raw().toBuffer();
      const srgb = await sharp(await encodeImage(input.image, format, { quality: 100 }))
        .raw()
        .toBuffer();
      let far = 0;
      for (let i = 0; i < stored.length; i++) far = Math.max(far, Math.abs(stored[i] - srgb[i]));
      expect(far, format).toBeGreaterThan(10);
    }
    const path = join(dir, "p3-out.jpg");
    await writeImage(input.image, path, { icc: input.icc });
    expect((await sharp(path).metadata()).icc?.equals(input.icc!)).toBe(true);
  });
});
