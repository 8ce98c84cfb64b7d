import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { z } from "zod";
import type { Rng } from "../core/rng.js";
import { DataFormatError, InvalidArgumentError } from "../errors.js";
import { fromUint8, type RgbImage } from "../image/raster.js";
import { SPLITS, type Split } from "./splits.js";

/** The real photographs shipped in the repository (imported from Debian packages by `npm run import-photos`, scripts/import-photos.ts). */
export const DEFAULT_PHOTO_DIR = fileURLToPath(new URL("../../assets/photos", import.meta.url));

/**
 * The large photographs (short side 1024-2048 px, test split only) for full-size evaluation. Not in the repository:
 * `npm run import-photos -- --set large` writes them here from Debian packages, checked against the source list
 * committed in assets/photos-large/ (docs/DATA.md).
 */
export const LARGE_PHOTO_DIR = fileURLToPath(new URL("../../data/photos-large", import.meta.url));

const ManifestSchema = z.object({
  format: z.literal("mgie-photos-1"),
  shortSide: z.number().int().positive(),
  /** The splits this folder provides (each must have photos); absent: all three. The large set has only "test". */
  splits: z.array(z.enum(SPLITS)).min(1).optional(),
  /** false: crops are never enlarged (a crop is at least `res` px; photos with a shorter side are not used at that res). */
  upscale: z.boolean().optional(),
  packages: z.record(z.string(), z.object({ version: z.string(), licence: z.string(), split: z.enum(SPLITS), copyright: z.string() })),
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
    private readonly dir: string = "",
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
      const json: unknown = JSON.parse(raw);
      if ((json as { format?: unknown } | null)?.format === "mgie-photo-sources-1") {
        throw new DataFormatError(
          `${join(dir, "manifest.json")} is the committed source list of a photo set whose photos are not in the repository: ` +
            "run 'npm run import-photos -- --set large' and load the folder it writes (data/photos-large)",
        );
      }
      manifest = ManifestSchema.parse(json);
    } catch (cause) {
      if (cause instanceof DataFormatError) throw cause;
      throw new DataFormatError(`${join(dir, "manifest.json")} is not a valid photo manifest: ${(cause as Error).message}`, { cause });
    }
    const splits = manifest.splits ?? SPLITS;
    for (const [name, pkg] of Object.entries(manifest.packages)) {
      if (!splits.includes(pkg.split)) {
        throw new DataFormatError(
          `the photo manifest in ${dir} puts package ${name} in the ${pkg.split} split, but the folder provides only ${splits.join(", ")}`,
        );
      }
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
    for (const s of splits) {
      if (bySplit[s].length === 0) throw new DataFormatError(`the photo manifest in ${dir} has no photos for the ${s} split`);
    }
    return new PhotoLibrary(manifest, bySplit, dir);
  }

  /** The splits this library has photos for (all three unless the manifest lists fewer, as the test-only large set does). */
  get splits(): readonly Split[] {
    return this.manifest.splits ?? SPLITS;
  }

  photos(split: Split): readonly Photo[] {
    return this.bySplit[split];
  }

  /**
   * A random square crop (45-100% of the short side), randomly mirrored, resized to res x res. Where the manifest
   * says `upscale: false` (the large set), a crop is never enlarged: only photos whose short side is at least `res`
   * are used, and the crop is at least `res` px (an error if no photo of the split is that large).
   */
  async crop(rng: Rng, split: Split, res: number): Promise<{ image: RgbImage; ref: CropRef }> {
    let photos = this.bySplit[split];
    if (photos.length === 0) {
      throw new InvalidArgumentError(`the photo folder ${this.dir} has no ${split} photos: it provides only the ${this.splits.join(", ")} split`, "split");
    }
    const noUpscale = this.manifest.upscale === false;
    if (noUpscale) {
      photos = photos.filter((p) => Math.min(p.width, p.height) >= res);
      if (photos.length === 0) {
        const largest = Math.max(...this.bySplit[split].map((p) => Math.min(p.width, p.height)));
        throw new InvalidArgumentError(
          `no ${split} photo in ${this.dir} has a short side of ${res} px or more (the largest has ${largest}), and this set is never upscaled: use a smaller res`,
          "res",
        );
      }
    }
    const photo = rng.pick(photos);
    const short = Math.min(photo.width, photo.height);
    const fraction = rng.uniform(0.45, 1);
    const size = noUpscale ? Math.min(short, Math.max(res, Math.round(short * fraction))) : Math.max(8, Math.round(short * fraction));
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
