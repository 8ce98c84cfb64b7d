import type { RgbImage } from "../image/raster.js";
import { toUint8 } from "../image/raster.js";

/** An image as a PNG (the browser's encoder, lossless 8 bits per channel). */
export async function encodePng(img: RgbImage): Promise<Blob> {
  const rgb = toUint8(img);
  const rgba = new Uint8ClampedArray(img.width * img.height * 4);
  for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
    rgba[q] = rgb[p];
    rgba[q + 1] = rgb[p + 1];
    rgba[q + 2] = rgb[p + 2];
    rgba[q + 3] = 255;
  }
  const canvas = new OffscreenCanvas(img.width, img.height);
  canvas.getContext("2d")!.putImageData(new ImageData(rgba, img.width, img.height), 0, 0);
  return canvas.convertToBlob({ type: "image/png" });
}
