import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { z } from "zod";
import type { Rng } from "../core/rng.js";
import { DataFormatError } from "../errors.js";
import { fromUint8, type RgbImage } from "../image/raster.js";
import type { Split } from "./splits.js";

/** The real photographs shipped in the repository (imported from Debian packages by `npm run import-photos`, scripts/import-photos.ts). */
export const DEFAULT_PHOTO_DIR = fileURLToPath(new URL("../../assets/photos", import.meta.url));

const ManifestSchema = z.object({
  format: z.literal("mgie-photos-1"),
  shortSide: z.number().int().positive(),
  packages: z.record(z.string(), z.object({ version: z.string(), licence: z.string(), split: z.enum(["train", "validation", "test"]), copyright: z.string() })),
  photos: z
    .array(
      z.object({
        file: z.string(),
        package: z.string(),
        source: z.string(),
        width: z.number().int().positive(),
        height: z.number().int().positive(),
        sha256: z.string(),
      }),
    )
    .min(1),
});
export type PhotoManifest = z.infer<typeof ManifestSchema>;

export interface Photo {
  /** Path inside the photo folder, e.g. "mate-backgrounds/ocean.jpg". */
  file: string;
  package: string;
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** Where a crop came from, stored with each example so it can be traced to its licence. */
export interface CropRef {
  photo: string;
  x: number;
  y: number;
  size: number;
  flipped: boolean;
}

/** The decoded photos, grouped by the split their package belongs to (no package crosses splits). */
export class PhotoLibrary {
  private constructor(
    readonly manifest: PhotoManifest,
    private readonly bySplit: Record<Split, Photo[]>,
  ) {}

  static async load(dir: string = DEFAULT_PHOTO_DIR): Promise<PhotoLibrary> {
    let raw: string;
    try {
      raw = await readFile(join(dir, "manifest.json"), "utf8");
    } catch (cause) {
      throw new DataFormatError(`no photo manifest at ${join(dir, "manifest.json")}: run 'npm run import-photos -- --out ${dir}' in a checkout of mgie`, {
        cause,
      });
    }
    let manifest: PhotoManifest;
    try {
      manifest = ManifestSchema.parse(JSON.parse(raw));
    } catch (cause) {
      throw new DataFormatError(`${join(dir, "manifest.json")} is not a valid photo manifest: ${(cause as Error).message}`, { cause });
    }
    const bySplit: Record<Split, Photo[]> = { train: [], validation: [], test: [] };
    const decoded = await Promise.all(
      manifest.photos.map(async (p) => {
        const pkg = manifest.packages[p.package];
        if (!pkg) throw new DataFormatError(`photo ${p.file} names package ${p.package}, which the manifest does not list`);
        try {
          const { data, info } = await sharp(join(dir, p.file)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
          if (info.width !== p.width || info.height !== p.height || info.channels !== 3) {
            throw new Error(`decoded ${info.width}x${info.height}x${info.channels}, manifest says ${p.width}x${p.height}x3`);
          }
          return { split: pkg.split, photo: { file: p.file, package: p.package, width: p.width, height: p.height, pixels: new Uint8Array(data) } };
        } catch (cause) {
          throw new DataFormatError(`photo ${join(dir, p.file)} is unreadable: ${(cause as Error).message}`, { cause });
        }
      }),
    );
    for (const d of decoded) bySplit[d.split].push(d.photo);
    for (const s of ["train", "validation", "test"] as const) {
      if (bySplit[s].length === 0) throw new DataFormatError(`the photo manifest in ${dir} has no photos for the ${s} split`);
    }
    return new PhotoLibrary(manifest, bySplit);
  }

  photos(split: Split): readonly Photo[] {
    return this.bySplit[split];
  }

  /** A random square crop (45-100% of the short side), randomly mirrored, resized to res x res. */
  async crop(rng: Rng, split: Split, res: number): Promise<{ image: RgbImage; ref: CropRef }> {
    const photo = rng.pick(this.bySplit[split]);
    const short = Math.min(photo.width, photo.height);
    const size = Math.max(8, Math.round(short * rng.uniform(0.45, 1)));
    const x = rng.int(0, photo.width - size);
    const y = rng.int(0, photo.height - size);
    const flipped = rng.chance(0.5);
    let s = sharp(photo.pixels, { raw: { width: photo.width, height: photo.height, channels: 3 } })
      .extract({ left: x, top: y, width: size, height: size })
      .resize(res, res, { kernel: "lanczos3" });
    if (flipped) s = s.flop();
    const data = await s.raw().toBuffer();
    return { image: fromUint8(res, res, new Uint8Array(data)), ref: { photo: photo.file, x, y, size, flipped } };
  }
}
