import { ImageInputError } from "../errors.js";
import type { ImageCodec } from "../image/imageCodec.js";
import { fromUint8, type RgbImage, toUint8 } from "../image/raster.js";
import { extendMirror, gaussianBlur, type Plane8, resizeLanczos3 } from "../image/resample.js";
import type { ModelView } from "../render/renderer.js";

/** The most pixels a photo may have, as in Node (DEFAULT_MAX_PIXELS of src/image/io.ts). */
const MAX_PIXELS = 50_000_000;

/**
 * The image component's codec in a browser (a page or a worker): the browser decodes (createImageBitmap:
 * EXIF orientation applied, colour converted to sRGB), an OffscreenCanvas gives the pixels (alpha onto
 * white, as sharp flattens), and resampling is src/image/resample.ts, libvips' method in TypeScript.
 */
export const canvasImages: ImageCodec = {
  async decode(input) {
    const blob = typeof input === "string" ? await fetchImage(input) : new Blob([input as Uint8Array<ArrayBuffer>]);
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(blob, { imageOrientation: "from-image", premultiplyAlpha: "default", colorSpaceConversion: "default" });
    } catch (cause) {
      throw new ImageInputError(
        "IMAGE_CORRUPT",
        "the image could not be decoded by this browser: it is not a JPEG, PNG, WebP, GIF or AVIF it can read, or it is corrupt",
        {
          cause,
        },
      );
    }
    const { width, height } = bitmap;
    if (width * height > MAX_PIXELS) {
      bitmap.close();
      throw new ImageInputError("IMAGE_TOO_LARGE", `the image is ${width}x${height} pixels, over the limit of ${MAX_PIXELS}: scale it down first`);
    }
    const context = new OffscreenCanvas(width, height).getContext("2d", { willReadFrequently: true });
    if (!context) throw new ImageInputError("IMAGE_CORRUPT", "this browser gives no 2D canvas to read the image's pixels with");
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, width, height);
    context.drawImage(bitmap, 0, 0);
    bitmap.close();
    const rgba = context.getImageData(0, 0, width, height).data;
    const rgb = new Uint8Array(width * height * 3);
    for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
      rgb[p] = rgba[q];
      rgb[p + 1] = rgba[q + 1];
      rgb[p + 2] = rgba[q + 2];
    }
    return { image: fromUint8(width, height, rgb), icc: null };
  },

  async square(photo: RgbImage, view: ModelView, res: number): Promise<Uint8Array> {
    const resized = resizeLanczos3({ width: photo.width, height: photo.height, channels: 3, data: toUint8(photo) }, view.width, view.height);
    return view.width === res && view.height === res ? resized.data : extendMirror(resized, view.x, view.y, res, res).data;
  },

  async maskPlane(img: RgbImage, width: number, height: number): Promise<Float32Array> {
    const grey: Plane8 = { width: img.width, height: img.height, channels: 1, data: greyOf(img) };
    const sharpMask = grey.width === width && grey.height === height ? grey : resizeLanczos3(grey, width, height);
    const soft = gaussianBlur(sharpMask, Math.max(0.3, Math.min(width, height) / 400));
    const out = new Float32Array(width * height);
    for (let p = 0; p < out.length; p++) out[p] = Math.min(sharpMask.data[p], soft.data[p]) / 255;
    return out;
  },
};

async function fetchImage(url: string): Promise<Blob> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (cause) {
    throw new ImageInputError("IMAGE_NOT_FOUND", `cannot fetch the image ${url}: ${(cause as Error).message}`, { cause });
  }
  if (!response.ok) throw new ImageInputError("IMAGE_NOT_FOUND", `cannot fetch the image ${url}: ${response.status} ${response.statusText}`);
  return response.blob();
}

/** Grey as libvips makes it of sRGB: the luminance of the linear colours, encoded back to sRGB. */
function greyOf(img: RgbImage): Uint8Array {
  const linear = (v: number) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const encode = (v: number) => (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055);
  const out = new Uint8Array(img.width * img.height);
  const d = img.data;
  for (let p = 0; p < out.length; p++) {
    const y = 0.2126 * linear(d[3 * p]) + 0.7152 * linear(d[3 * p + 1]) + 0.0722 * linear(d[3 * p + 2]);
    out[p] = Math.round(Math.min(1, Math.max(0, encode(y))) * 255);
  }
  return out;
}
