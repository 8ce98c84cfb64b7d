import { InvalidArgumentError } from "../errors.js";
import type { ModelView } from "../render/renderer.js";
import type { ImageCodec } from "./imageCodec.js";
import { fromUint8, type RgbImage, toUint8 } from "./raster.js";

/** An image as the editor takes it: a file path (a URL in the browser), encoded bytes, or decoded pixels. */
export type ImageInput = RgbImage | string | Uint8Array;

/**
 * How the model sees a photo that is not square: squashed to its square (every pixel of the photo
 * seen, the aspect changed) or padded to a square by mirroring the photo's edges (the aspect kept,
 * part of the square not the photo). Chosen by measurement: see docs/EXPERIMENTS.md.
 */
export type ModelFit = "squash" | "pad";
export const DEFAULT_FIT: ModelFit = "squash";

/** The model's view of a photo. */
export interface ModelInput {
  /** [3, res, res] in [-1, 1], as the model takes it. */
  pixels: Float32Array;
  /** The same square as an RGB image in [0, 1]. */
  image: RgbImage;
  /** Where the photo lies in the square. */
  view: ModelView;
}

/**
 * Between a photo and the model's view of it (as diffusers' VaeImageProcessor): decode, fit the
 * whole photo into the model's square (nothing cropped), NCHW in [-1, 1]; and the model's output
 * back to RGB images. The full-size result is the renderer's (src/render/renderer.ts).
 */
export class ImageProcessor {
  constructor(
    /** Decoding and resampling: sharp in Node, the canvas in the browser. */
    readonly codec: ImageCodec,
    readonly resolution: number,
    readonly fit: ModelFit = DEFAULT_FIT,
  ) {}

  /** The photo's pixels (decoded, EXIF orientation applied, sRGB, unless already an RgbImage) and its ICC profile, kept for the output. */
  async load(input: ImageInput): Promise<{ image: RgbImage; icc: Uint8Array | null }> {
    if (typeof input === "string" || input instanceof Uint8Array) return this.codec.decode(input);
    return { image: input, icc: null };
  }

  /** The model's view of the photo: the whole photo fitted into the square (Lanczos), see ModelFit. */
  async toModel(photo: RgbImage): Promise<ModelInput> {
    const res = this.resolution;
    const view = this.viewOf(photo.width, photo.height);
    const bytes = photo.width === res && photo.height === res ? toUint8(photo) : await this.codec.square(photo, view, res);
    const image = fromUint8(res, res, bytes);
    const plane = res * res;
    const pixels = new Float32Array(3 * plane);
    for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) pixels[c * plane + p] = bytes[p * 3 + c] / 127.5 - 1;
    return { pixels, image, view };
  }

  /** Where a width x height photo lies in the model's square. */
  viewOf(width: number, height: number): ModelView {
    const res = this.resolution;
    if (this.fit === "squash" || width === height) return { x: 0, y: 0, width: res, height: res };
    const w = width > height ? res : Math.max(1, Math.round((width * res) / height));
    const h = height > width ? res : Math.max(1, Math.round((height * res) / width));
    return { x: Math.floor((res - w) / 2), y: Math.floor((res - h) / 2), width: w, height: h };
  }

  /** A batch [b, 3, res, res] in [-1, 1] as b RGB images in [0, 1]; `round` to 8 bits as they will be written. */
  fromModel(data: Float32Array, b: number, round = true): RgbImage[] {
    const res = this.resolution;
    const plane = res * res;
    const out: RgbImage[] = [];
    for (let k = 0; k < b; k++) {
      const img = new Float32Array(3 * plane);
      for (let p = 0; p < plane; p++) {
        for (let ch = 0; ch < 3; ch++) {
          const v = Math.min(1, Math.max(0, (data[(k * 3 + ch) * plane + p] + 1) / 2));
          img[p * 3 + ch] = round ? Math.round(v * 255) / 255 : v;
        }
      }
      out.push({ width: res, height: res, data: img });
    }
    return out;
  }

  /**
   * A user's mask at the photo's size, in [0, 1] (an image: white edits, black keeps; resized when
   * its size differs). Its edges are feathered inward only, so that where it is 0 the photo stays exact.
   */
  async mask(input: ImageInput, width: number, height: number): Promise<Float32Array> {
    let img: RgbImage;
    try {
      img = (await this.load(input)).image;
    } catch (cause) {
      throw new InvalidArgumentError(`the mask is not a readable image: ${(cause as Error).message}`, "mask");
    }
    return this.codec.maskPlane(img, width, height);
  }
}
