import sharp from "sharp";
import type { ImageCodec } from "../image/imageCodec.js";
import { readPhoto } from "../image/io.js";
import type { RgbImage } from "../image/raster.js";
import { toUint8 } from "../image/raster.js";
import type { ModelView } from "../render/renderer.js";

/** The image component's codec in Node: libvips through sharp. */
export const sharpImages: ImageCodec = {
  async decode(input) {
    const photo = await readPhoto(input);
    return { image: photo.image, icc: photo.icc };
  },

  async square(photo: RgbImage, view: ModelView, res: number): Promise<Uint8Array> {
    const resized = sharp(toUint8(photo), { raw: { width: photo.width, height: photo.height, channels: 3 } }).resize(view.width, view.height, {
      kernel: "lanczos3",
      fit: "fill",
    });
    const padded =
      view.width === res && view.height === res
        ? resized
        : sharp(await resized.raw().toBuffer(), { raw: { width: view.width, height: view.height, channels: 3 } }).extend({
            left: view.x,
            top: view.y,
            right: res - view.width - view.x,
            bottom: res - view.height - view.y,
            extendWith: "mirror",
          });
    return new Uint8Array(await padded.raw().toBuffer());
  },

  async maskPlane(img: RgbImage, width: number, height: number): Promise<Float32Array> {
    const grey = sharp(toUint8(img), { raw: { width: img.width, height: img.height, channels: 3 } })
      .greyscale()
      .resize(width, height, { fit: "fill", kernel: "lanczos3" });
    const sharpMask = new Uint8Array(await grey.clone().extractChannel(0).raw().toBuffer());
    const sigma = Math.max(0.3, Math.min(width, height) / 400);
    // extractChannel: libvips gives a blurred one-band image back as three bands.
    const soft = new Uint8Array(
      await sharp(Buffer.from(sharpMask), { raw: { width, height, channels: 1 } })
        .blur(sigma)
        .extractChannel(0)
        .raw()
        .toBuffer(),
    );
    const out = new Float32Array(width * height);
    for (let p = 0; p < out.length; p++) out[p] = Math.min(sharpMask[p], soft[p]) / 255;
    return out;
  },
};
