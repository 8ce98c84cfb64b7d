import { readFile, stat, writeFile } from "node:fs/promises";
import { extname } from "node:path";
import sharp, { type Metadata } from "sharp";
import { ImageInputError } from "../errors.js";
import { fromUint8, type RgbImage, toUint8 } from "./raster.js";

/** Default ceiling on decoded pixels: large enough for a 50-megapixel photo, small enough to refuse decompression bombs. */
export const DEFAULT_MAX_PIXELS = 50_000_000;
/** Default ceiling on encoded bytes read from disk or a request. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

export interface ReadImageOptions {
  maxPixels?: number;
  maxBytes?: number;
}

const FORMATS = new Set(["jpeg", "png", "webp"]);

/**
 * Decodes a PNG, JPEG or WebP file (or its bytes) into an RGB image.
 * EXIF orientation is applied; an alpha channel is flattened onto white; colour is converted to sRGB.
 * Every failure (missing, empty, corrupt, truncated, foreign format, too large) raises an ImageInputError.
 */
export async function readImage(input: string | Uint8Array, options: ReadImageOptions = {}): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const label = typeof input === "string" ? `'${input}'` : "the image data";
  const bytes = typeof input === "string" ? await readBounded(input, maxBytes) : input;
  if (bytes.length === 0) throw new ImageInputError("IMAGE_EMPTY", `${label} is empty (0 bytes): give a PNG, JPEG or WebP image`);
  if (bytes.length > maxBytes) {
    throw new ImageInputError("IMAGE_TOO_LARGE", `${label} is ${bytes.length} bytes, over the limit of ${maxBytes} bytes`);
  }

  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw new ImageInputError("IMAGE_UNREADABLE", `${label} is not a readable image (${errorText(cause)}): give a PNG, JPEG or WebP file`, { cause });
  }
  if (!meta.format || !FORMATS.has(meta.format)) {
    throw new ImageInputError("IMAGE_FORMAT", `${label} is ${meta.format ?? "an unknown format"}; supported formats are PNG, JPEG and WebP`);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w * h > maxPixels) {
    throw new ImageInputError("IMAGE_TOO_LARGE", `${label} is ${w}x${h} = ${w * h} pixels, over the limit of ${maxPixels}; downscale it first`);
  }

  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: "truncated" })
      .rotate()
      .flatten({ background: "#ffffff" })
      .toColourspace("srgb")
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return fromUint8(info.width, info.height, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } catch (cause) {
    throw new ImageInputError("IMAGE_CORRUPT", `${label} could not be decoded: it looks corrupt or truncated (${errorText(cause)})`, { cause });
  }
}

async function readBounded(path: string, maxBytes: number): Promise<Uint8Array> {
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new ImageInputError("IMAGE_NOT_FILE", `'${path}' is not a file`);
    size = st.size;
  } catch (cause) {
    if (cause instanceof ImageInputError) throw cause;
    throw new ImageInputError("IMAGE_NOT_FOUND", `cannot read '${path}': ${errorText(cause)}`, { cause });
  }
  if (size > maxBytes) {
    throw new ImageInputError("IMAGE_TOO_LARGE", `'${path}' is ${size} bytes, over the limit of ${maxBytes} bytes`);
  }
  return readFile(path);
}

export type ImageFormat = "png" | "jpeg" | "webp";

export function formatFromPath(path: string): ImageFormat {
  const ext = extname(path).toLowerCase();
  if (ext === ".png") return "png";
  if (ext === ".jpg" || ext === ".jpeg") return "jpeg";
  if (ext === ".webp") return "webp";
  throw new ImageInputError("IMAGE_FORMAT", `cannot write '${path}': use a .png, .jpg or .webp file name`);
}

/** Encodes an RGB image; PNG is lossless, JPEG and WebP use quality 92. */
export async function encodeImage(img: RgbImage, format: ImageFormat = "png"): Promise<Buffer> {
  const s = sharp(Buffer.from(toUint8(img).buffer), { raw: { width: img.width, height: img.height, channels: 3 } });
  if (format === "png") return s.png({ compressionLevel: 6 }).toBuffer();
  if (format === "jpeg") return s.jpeg({ quality: 92 }).toBuffer();
  return s.webp({ quality: 92 }).toBuffer();
}

/** Resizes an image (Lanczos-3) to width x height. */
export async function resizeImage(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  const data = await sharp(Buffer.from(toUint8(img).buffer), { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { kernel: "lanczos3", fit: "fill" })
    .raw()
    .toBuffer();
  return fromUint8(width, height, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

export async function writeImage(img: RgbImage, path: string): Promise<void> {
  await writeFile(path, await encodeImage(img, formatFromPath(path)));
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0] : String(e);
}
