import sharp from "sharp";
import { readImage } from "./io.js";
import { fromUint8, type RgbImage, toUint8 } from "./raster.js";

/** An image as the editor takes it: a file path, encoded bytes, or decoded pixels. */
export type ImageInput = RgbImage | string | Uint8Array;

/**
 * Between a photo and the model's view of it (as diffusers' VaeImageProcessor): decode, centre
 * square crop, resize to the model's resolution, NCHW in [-1, 1]; and the model's output back to
 * RGB images.
 */
export class ImageProcessor {
  constructor(readonly resolution: number) {}

  /** The image as [1, 3, res, res] in [-1, 1]: centre square crop, Lanczos resize. */
  async toModel(input: ImageInput): Promise<Float32Array> {
    const img = typeof input === "string" || input instanceof Uint8Array ? await readImage(input) : input;
    const res = this.resolution;
    const side = Math.min(img.width, img.height);
    const raw = toUint8(img);
    const data =
      img.width === res && img.height === res
        ? raw
        : await sharp(raw, { raw: { width: img.width, height: img.height, channels: 3 } })
            .extract({ left: Math.floor((img.width - side) / 2), top: Math.floor((img.height - side) / 2), width: side, height: side })
            .resize(res, res, { kernel: "lanczos3" })
            .raw()
            .toBuffer();
    const plane = res * res;
    const out = new Float32Array(3 * plane);
    for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[c * plane + p] = data[p * 3 + c] / 127.5 - 1;
    return out;
  }

  /** A batch [b, 3, res, res] in [-1, 1] as b RGB images, rounded to 8 bits as they will be written. */
  fromModel(data: Float32Array, b: number): RgbImage[] {
    const res = this.resolution;
    const plane = res * res;
    const out: RgbImage[] = [];
    for (let k = 0; k < b; k++) {
      const bytes = new Uint8Array(3 * plane);
      for (let p = 0; p < plane; p++) {
        for (let ch = 0; ch < 3; ch++) {
          const v = (data[(k * 3 + ch) * plane + p] + 1) * 127.5;
          bytes[p * 3 + ch] = Math.round(Math.min(255, Math.max(0, v)));
        }
      }
      out.push(fromUint8(res, res, bytes));
    }
    return out;
  }
}
