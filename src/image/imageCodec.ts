import type { ModelView } from "../render/renderer.js";
import type { RgbImage } from "./raster.js";

/**
 * What the image component needs of its platform: decoding, and the resampling behind the model's
 * view and the user's mask. sharp implements it in Node (src/platform/sharpImages.ts), the browser's
 * createImageBitmap and a Lanczos resampler in a page or worker (src/platform/canvasImages.ts).
 */
export interface ImageCodec {
  /** A file (a path in Node, a URL in the browser) or its bytes, decoded: upright, alpha on white, sRGB; with the ICC profile to write back (null: sRGB). */
  decode(input: string | Uint8Array): Promise<{ image: RgbImage; icc: Uint8Array | null }>;
  /** 8-bit RGB of the model's res x res square: the photo resized (Lanczos 3) into the view, mirrored beyond it. */
  square(photo: RgbImage, view: ModelView, res: number): Promise<Uint8Array>;
  /** A mask image as the photo's width x height plane in [0, 1]: grey, resized, its edges feathered inward only. */
  maskPlane(mask: RgbImage, width: number, height: number): Promise<Float32Array>;
}
