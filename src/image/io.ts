import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import sharp, { type Metadata, type Sharp } from "sharp";
import { ImageInputError, InvalidArgumentError } from "../errors.js";
import { fromUint8, type RgbImage, toUint8 } from "./raster.js";

/** Default ceiling on decoded pixels: large enough for a 50-megapixel photo, small enough to refuse decompression bombs. */
export const DEFAULT_MAX_PIXELS = 50_000_000;
/** Default ceiling on encoded bytes read from disk or a request. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** Quality of JPEG and WebP output unless told otherwise. */
export const DEFAULT_QUALITY = 92;

export interface ReadImageOptions {
  maxPixels?: number;
  maxBytes?: number;
}

/** A decoded photo with what it takes to write the edit back in the photo's own colour space. */
export interface Photo {
  /** The pixels, EXIF orientation applied, alpha flattened onto white, in sRGB. */
  image: RgbImage;
  /**
   * The input's embedded ICC profile when it is an RGB profile (Display P3, Adobe RGB, sRGB...): give it to
   * encodeImage or writeImage to write the output in that colour space. Null when the input has no profile,
   * or a CMYK, grey or Lab one (the output is then plain sRGB).
   */
  icc: Buffer | null;
  /** What the input was: "jpeg", "png", "webp", "gif", "tiff", "avif", "heic" or "heif". */
  format: string;
  /** Size after the EXIF orientation (the image's). */
  width: number;
  height: number;
}

/** sharp's names of the formats read here, in the order error messages list them. */
const READABLE = ["jpeg", "png", "webp", "gif", "tiff", "heif"] as const;
const LABELS: Record<string, string> = {
  jpeg: "JPEG",
  png: "PNG",
  webp: "WebP",
  gif: "GIF",
  tiff: "TIFF",
  heif: "AVIF",
  avif: "AVIF",
  heic: "HEIC",
  svg: "SVG",
  jxl: "JPEG XL",
  jp2: "JPEG 2000",
  bmp: "BMP",
  psd: "Photoshop (PSD)",
};

/** The formats this build of sharp decodes from a buffer (checked at run time: a build may lack a decoder). */
export function readableFormats(): string[] {
  return READABLE.filter((f) => sharp.format[f]?.input.buffer === true);
}

/** "JPEG, PNG, WebP, GIF, TIFF and AVIF" (or "... or AVIF"). */
function supportedText(conjunction: "and" | "or" = "and"): string {
  const names = readableFormats().map((f) => LABELS[f]);
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} ${conjunction} ${names[names.length - 1]}` : (names[0] ?? "none");
}

/** "a PNG image", "an SVG image". */
function kindOf(format: string): string {
  const label = LABELS[format] ?? format.toUpperCase();
  return `${/^(AVIF|SVG)/.test(label) ? "an" : "a"} ${label} image`;
}

/**
 * Decodes an image file (or its bytes) into an RGB image: JPEG, PNG, WebP, GIF, TIFF and AVIF, each
 * where this build of sharp has the decoder (see readableFormats). An animated GIF or WebP, or a
 * multi-page TIFF, gives its first frame. EXIF orientation is applied; an alpha channel is flattened onto
 * white; colour is converted to sRGB using the embedded ICC profile, if any.
 * Every failure (missing, empty, corrupt, truncated, foreign format, too large) raises an ImageInputError;
 * the size limits are checked before anything is decoded.
 */
export async function readImage(input: string | Uint8Array, options: ReadImageOptions = {}): Promise<RgbImage> {
  return (await readPhoto(input, options)).image;
}

/** Like readImage, and also what the input was and its colour profile, to write the edit back alike. */
export async function readPhoto(input: string | Uint8Array, options: ReadImageOptions = {}): Promise<Photo> {
  const { bytes, meta, format, label, maxPixels } = await inspect(input, options);
  let image: RgbImage;
  try {
    let pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: "truncated" }).rotate().flatten({ background: "#ffffff" });
    // sharp converts a 16-bit image with a profile to Display P3, not sRGB: bring it to sRGB explicitly.
    if (meta.icc && meta.space === "rgb16") pipeline = pipeline.withIccProfile("srgb", { attach: false });
    const { data, info } = await pipeline.toColourspace("srgb").removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3) throw new Error(`decoded to ${info.channels} channels of ${data.length} bytes`);
    image = fromUint8(info.width, info.height, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } catch (cause) {
    throw decodeError(cause, format, label);
  }
  const icc = meta.icc && isRgbProfile(meta.icc) ? Buffer.from(meta.icc) : null;
  return { image, icc, format, width: image.width, height: image.height };
}

/**
 * Checks an image as readImage would (the same errors) without keeping it: the pixels are decoded
 * as a stream and only summed, so a 4096x4096 upload takes a few MB rather than its 250 MB RGB copy.
 * A server checks uploads with it before it accepts them.
 */
export async function verifyImage(input: string | Uint8Array, options: ReadImageOptions = {}): Promise<{ format: string; width: number; height: number }> {
  const { bytes, meta, format, label, maxPixels } = await inspect(input, options);
  try {
    await sharp(bytes, { limitInputPixels: maxPixels, failOn: "truncated", sequentialRead: true }).stats();
  } catch (cause) {
    throw decodeError(cause, format, label);
  }
  return { format, width: meta.width ?? 0, height: meta.height ?? 0 };
}

function decodeError(cause: unknown, format: string, label: string): ImageInputError {
  // The prebuilt libvips reads AVIF but has no HEVC decoder: libheif then reports an unsupported codec.
  if (format === "heic" && /unsupported/i.test(errorText(cause))) {
    return new ImageInputError(
      "IMAGE_FORMAT",
      `${label} is a HEIC (HEVC-coded HEIF) image, which this build cannot decode; supported formats are ${supportedText()}`,
      {
        cause,
      },
    );
  }
  return new ImageInputError("IMAGE_CORRUPT", `${label} could not be decoded: it looks corrupt or truncated (${errorText(cause)})`, { cause });
}

/** The checks before decoding: bytes, format, size limits. */
async function inspect(input: string | Uint8Array, options: ReadImageOptions) {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const label = typeof input === "string" ? `'${input}'` : "the image data";
  const bytes = typeof input === "string" ? await readBounded(input, maxBytes) : input;
  if (bytes.length === 0) throw new ImageInputError("IMAGE_EMPTY", `${label} is empty (0 bytes): give a ${supportedText("or")} image`);
  if (bytes.length > maxBytes) {
    throw new ImageInputError("IMAGE_TOO_LARGE", `${label} is ${bytes.length} bytes, over the limit of ${maxBytes} bytes`);
  }
  const sniffed = sniffFormat(bytes);
  const unsupported = (what: string, cause?: unknown) =>
    new ImageInputError("IMAGE_FORMAT", `${label} is ${what}, which this build cannot decode; supported formats are ${supportedText()}`, { cause });

  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (cause) {
    // A format sharp cannot even identify here (no decoder in this build) is named if its signature is known.
    if (sniffed && !readableFormats().includes(decoderOf(sniffed))) throw unsupported(kindOf(sniffed), cause);
    if (sniffed === "heic" && /unsupported/i.test(errorText(cause))) throw unsupported("a HEIC (HEVC-coded HEIF) image", cause);
    // Known by its signature but unreadable: the file is damaged (e.g. a GIF cut short: libvips reads GIFs whole here).
    if (sniffed) {
      const why = `${label} looks like ${kindOf(sniffed)} but could not be read: it looks corrupt or truncated (${errorText(cause)})`;
      throw new ImageInputError("IMAGE_CORRUPT", why, { cause });
    }
    throw new ImageInputError("IMAGE_UNREADABLE", `${label} is not a readable image (${errorText(cause)}): give a ${supportedText("or")} file`, { cause });
  }
  if (!meta.format || !readableFormats().includes(meta.format)) {
    const what = meta.format ? kindOf(meta.format) : "an unknown format";
    throw new ImageInputError("IMAGE_FORMAT", `${label} is ${what}; supported formats are ${supportedText()}`);
  }
  const format = meta.format === "heif" ? (meta.compression === "av1" ? "avif" : meta.compression === "hevc" ? "heic" : "heif") : meta.format;
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w * h > maxPixels) {
    throw new ImageInputError("IMAGE_TOO_LARGE", `${label} is ${w}x${h} = ${w * h} pixels, over the limit of ${maxPixels}; downscale it first`);
  }

  return { bytes, meta, format, label, maxPixels };
}

/** The format an image's first bytes announce, for naming one sharp cannot read; null when unknown. */
function sniffFormat(b: Uint8Array): string | null {
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (ascii(0, 8) === "\x89PNG\r\n\x1a\n") return "png";
  if (ascii(0, 4) === "GIF8") return "gif";
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  if (ascii(0, 4) === "II*\0" || ascii(0, 4) === "MM\0*") return "tiff";
  if (ascii(4, 8) === "ftyp") {
    const brand = ascii(8, 12);
    if (brand === "avif" || brand === "avis") return "avif";
    if (["heic", "heix", "hevc", "hevx", "heim", "heis"].includes(brand)) return "heic";
    if (brand === "mif1" || brand === "msf1") return "heif";
  }
  if (ascii(0, 10) === "\0\0\0\x0cjP  \r\n" || (b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51)) return "jp2";
  if (ascii(0, 10) === "\0\0\0\x0cJXL \r\n" || (b[0] === 0xff && b[1] === 0x0a)) return "jxl";
  // BMP: "BM", reserved zeros, and a known DIB header size.
  const dib = b.length >= 18 ? b[14] | (b[15] << 8) | (b[16] << 16) | (b[17] << 24) : 0;
  if (ascii(0, 2) === "BM" && ascii(6, 10) === "\0\0\0\0" && [12, 40, 52, 56, 64, 108, 124].includes(dib)) return "bmp";
  if (ascii(0, 4) === "8BPS") return "psd";
  return null;
}

/** sharp's loader of a format: one, heif, reads AVIF and HEIC alike. */
function decoderOf(format: string): string {
  return format === "avif" || format === "heic" ? "heif" : format;
}

/** An ICC profile of the RGB colour space (the header's signature and data colour space). */
function isRgbProfile(icc: Uint8Array): boolean {
  return icc.length >= 132 && String.fromCharCode(...icc.subarray(36, 40)) === "acsp" && String.fromCharCode(...icc.subarray(16, 20)) === "RGB ";
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

/** The formats written: PNG (lossless), JPEG and WebP. */
export type ImageFormat = "png" | "jpeg" | "webp";

export function formatFromPath(path: string): ImageFormat {
  const ext = extname(path).toLowerCase();
  if (ext === ".png") return "png";
  if (ext === ".jpg" || ext === ".jpeg") return "jpeg";
  if (ext === ".webp") return "webp";
  throw new ImageInputError("IMAGE_FORMAT", `cannot write '${path}': use a .png, .jpg or .webp file name (.jpeg is JPEG too)`);
}

export interface EncodeOptions {
  /** JPEG and WebP quality, a whole number from 1 to 100 (default 92); PNG is lossless and ignores it. */
  quality?: number;
  /**
   * An RGB ICC profile (Photo.icc of the input): the sRGB pixels are converted into it and it is embedded,
   * so the output shows the input's colours as the input did. Null or absent: sRGB, no profile.
   */
  icc?: Uint8Array | null;
}

/** Encodes an RGB image as PNG, JPEG or WebP (see EncodeOptions). */
export async function encodeImage(img: RgbImage, format: ImageFormat = "png", options: EncodeOptions = {}): Promise<Buffer> {
  const quality = options.quality ?? DEFAULT_QUALITY;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new InvalidArgumentError(`quality must be a whole number from 1 to 100, got ${quality}`, "quality");
  }
  const icc = options.icc ?? null;
  if (icc && !isRgbProfile(icc)) throw new InvalidArgumentError("icc is not an RGB ICC profile (give Photo.icc of the input, or null)", "icc");
  const encode = (s: Sharp): Promise<Buffer> => {
    if (format === "png") return s.png({ compressionLevel: 6 }).toBuffer();
    if (format === "jpeg") return s.jpeg({ quality }).toBuffer();
    return s.webp({ quality }).toBuffer();
  };
  const pixels = () => sharp(Buffer.from(toUint8(img).buffer), { raw: { width: img.width, height: img.height, channels: 3 } });
  if (!icc) return encode(pixels());
  // sharp takes an output profile by file name only: the profile goes through a private temporary file.
  const dir = await mkdtemp(join(tmpdir(), "mgie-icc-"));
  try {
    const path = join(dir, "output.icc");
    await writeFile(path, icc);
    const out = await encode(pixels().withIccProfile(path));
    // libvips skips a profile it cannot use with only a warning: refuse rather than write the wrong colours.
    if (!(await sharp(out).metadata()).icc?.equals(icc)) throw new InvalidArgumentError("icc: the ICC profile could not be applied to the output", "icc");
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Resizes an image (Lanczos-3) to width x height. */
export async function resizeImage(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  const data = await sharp(Buffer.from(toUint8(img).buffer), { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { kernel: "lanczos3", fit: "fill" })
    .raw()
    .toBuffer();
  return fromUint8(width, height, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

/** Writes an image in the format its file name says (.png, .jpg, .jpeg, .webp); options as encodeImage's. */
export async function writeImage(img: RgbImage, path: string, options: EncodeOptions = {}): Promise<void> {
  await writeFile(path, await encodeImage(img, formatFromPath(path), options));
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message.split("\n")[0] : String(e);
}
