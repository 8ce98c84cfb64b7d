/**
 * Developer tool, not part of the library: the reproducible importer of the real photographs in assets/photos,
 * taken from Debian packages (see docs/DATA.md).
 *
 *   npm run import-photos -- [--out assets/photos] [--cache-dir .cache/photos]
 *   npm run import-photos -- --set large [--out data/photos-large] [--update-sources]
 *
 * For each package: `apt-get download` (into the cache), `dpkg-deb -x`, select the photo files, convert each to an
 * sRGB JPEG whose short side is 256 px, copy the package's Debian copyright file, and write `manifest.json` (read by
 * `PhotoLibrary`) and `CREDITS.md`. Running it twice against the same archive state gives byte-identical output.
 *
 * `--set large` is the full-size test set (short side 1024-2048 px, split "test" only, from packages that give no
 * photo to assets/photos). Its photos are not committed: the repository holds only its source list,
 * assets/photos-large/ (manifest.json with the sha256 of every source file inside its .deb, CREDITS.md, copyright/).
 * The importer checks every source file against that list before writing anything, and writes the photos into the
 * git-ignored data/photos-large/ (a folder `PhotoLibrary.load` reads). `--update-sources` rewrites the list instead.
 *
 * Layout: the package table; the pure rules (globs, names, duplicates, sizes, credits, manifest, splits); the
 * conversion of an extracted package tree (`buildPhotoSet`: files and sharp, no external programs), which the
 * tests run on a fake tree; the Debian part (`apt-get`, `dpkg-deb`); and the command line.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { realpathSync } from "node:fs";
import { copyFile, cp, lstat, mkdir, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { basename, dirname, extname, isAbsolute, join, posix, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Command, Option } from "commander";
import sharp from "sharp";
import { z } from "zod";
import { SPLITS, type Split } from "../src/data/splits.js";
import { MgieError } from "../src/errors.js";

const run = promisify(execFile);

/** Short side of every written photo by default (smaller originals are kept at their size, never enlarged). */
export const PHOTO_SHORT_SIDE = 256;
/** By default, originals whose short side is below this are too small to be useful and are skipped. */
export const MIN_SOURCE_SHORT_SIDE = 200;
export const JPEG_QUALITY = 90;
/** The photo folder shipped in the repository. */
export const DEFAULT_OUT = fileURLToPath(new URL("../assets/photos", import.meta.url));
export const DEFAULT_CACHE_DIR = ".cache/photos";

/** The large set: short side kept up to this (larger originals are downscaled to it). */
export const LARGE_SHORT_SIDE = 2048;
/** The large set: originals with a shorter short side are skipped. */
export const LARGE_MIN_SOURCE_SHORT_SIDE = 1024;
export const LARGE_JPEG_QUALITY = 92;
/** Where `--set large` writes its photos (git-ignored: /data/). */
export const DEFAULT_LARGE_OUT = fileURLToPath(new URL("../data/photos-large", import.meta.url));
/** The committed source list of the large set. */
export const DEFAULT_LARGE_SOURCES = fileURLToPath(new URL("../assets/photos-large", import.meta.url));

export interface PackageSpec {
  pkg: string;
  licence: string;
  split: Split;
  /** Globs relative to the package root: `*`, `?` and `{a,b}` within one path segment. Only regular files match. */
  globs: string[];
  /** Output names (before the extension, lower-case) to leave out, with the reason in a comment. */
  exclude?: string[];
  /** The output base name for a source path; default: the source file name without its extension. */
  rename?: (source: string) => string;
  /** Who to credit, from the package's copyright file. */
  credit: string;
  /** More licence files inside the package (e.g. an upstream License beside the images), copied to copyright/PKG.NAME.txt. */
  licenceFiles?: string[];
  /** Per-photo credits by output name, where the copyright file does not name the file; they win over it. */
  fileCredits?: Record<string, string>;
}

/** How the photos of a set are converted; each defaults to the constant of the same name. */
export interface ConvertOptions {
  /** Short side of the written JPEGs (smaller originals are never enlarged). */
  shortSide?: number;
  /** Originals with a shorter short side are skipped. */
  minSourceShortSide?: number;
  jpegQuality?: number;
}

const OPENCV = "usr/share/doc/opencv-doc/examples";

/**
 * The packages of assets/photos (docs/DATA.md). Exact duplicates (same bytes) within a package are kept once.
 * Splits are by package so near-duplicate shots never cross them.
 */
export const PHOTO_PACKAGES: readonly PackageSpec[] = [
  {
    pkg: "scratch",
    licence: "CC-BY-SA-3.0",
    split: "train",
    globs: ["usr/share/scratch/Media/Backgrounds/*/*.jpg"],
    // drawn, not photographed
    exclude: ["woods-and-bench", "room1", "room2", "room3", "school2", "party-room", "spotlight-stage", "graffiti", "chalkboard"],
    credit: "Scratch media, © 2011 Massachusetts Institute of Technology, CC-BY-SA-3.0",
  },
  {
    pkg: "opencv-doc",
    licence: "BSD-3-Clause / Apache-2.0",
    split: "train",
    globs: [
      // The photographs among examples/data; logos, masks, chessboards, calibration shots, text pages, drawings,
      // renders, a painting (starry_night), deliberately blurred shots and the second image of stereo / registration
      // pairs (aero3, aloeR, ela_modified, graf3, leuvenB, right, rubberwhale2) are left out.
      `${OPENCV}/data/{aero1,aloeL,apple,baboon,board,building,butterfly,ela_original,fruits,home,left,leuvenA,messi5,orange,squirrel_cls,stuff}.jpg`,
      `${OPENCV}/data/{chicky_512,graf1,rubberwhale1,smarties}.png`,
      `${OPENCV}/hfs/data/*.jpg`,
      `${OPENCV}/alphamat/input_images/plant.jpg`,
      `${OPENCV}/text/scenetext0?.jpg`,
    ],
    credit: "OpenCV sample data, © Intel Corporation, Willow Garage Inc., OpenCV Foundation and OpenCV contributors, BSD-3-Clause / Apache-2.0",
  },
  {
    pkg: "kalzium-data",
    licence: "GPL-2+/GFDL",
    split: "train",
    globs: ["usr/share/kalzium/data/toolpics/*.jpg"],
    credit: "Kalzium tool pictures, © KDE Kalzium authors (Carsten Niehaus et al.), GPL-2.0-or-later",
  },
  {
    pkg: "gnome-control-center-data",
    licence: "GPL/CC0",
    split: "test",
    // regular files only: the symlinks point into legacy/ (96 px images)
    globs: ["usr/share/pixmaps/faces/*.jpg"],
    credit: "GNOME user faces, GNOME Control Center authors, CC0-1.0 / GPL (see copyright file)",
  },
  {
    pkg: "lomiri-wallpapers-16.04",
    licence: "CC-BY-4.0 / CC-BY-SA-4.0 / CC0-1.0 per file",
    split: "train",
    globs: ["usr/share/backgrounds/*.jpg"],
    // not photographs
    exclude: ["analogpattern_by_peter_nerlich", "greentock_by_peter_nerlich", "umang_by_abhishek_mudgal"],
    credit: "Lomiri/Ubuntu community wallpapers, authors as named per file",
  },
  {
    pkg: "lomiri-wallpapers-20.04",
    // the copyright file says CC-BY-SA-3.0 for this file (DATA-SOURCES.md says 4.0)
    licence: "CC-BY-SA-3.0",
    split: "train",
    globs: ["usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg"],
    credit: "Kleiber, © 2021 Lukas Baubkus, CC-BY-SA-3.0",
  },
  {
    pkg: "mate-backgrounds",
    licence: "GPL-2+",
    split: "train",
    globs: ["usr/share/backgrounds/mate/nature/*.jpg"],
    credit: "MATE backgrounds, authors as named per file, GPL-2+",
  },
  {
    pkg: "plasma-workspace-wallpapers",
    licence: "GPL-2+",
    split: "train",
    globs: [
      "usr/share/wallpapers/{BytheWater,ColdRipple,ColorfulCups,DarkestHour,EveningGlow,FallenLeaf,Grey,Kite,OneStandsOut,Path,summer_1am}/contents/images/2560x1600.jpg",
    ],
    rename: (source) => source.split("/")[3] ?? source, // usr/share/wallpapers/NAME/...
    credit: "Plasma wallpapers, © 2014 KDE Visual Design Group, GPL-2+",
  },
  {
    pkg: "psychtoolbox-3-common",
    licence: "Expat / BSD-3",
    split: "validation",
    globs: [
      "usr/share/psychtoolbox-3/PsychDemos/konijntjes1024x768.jpg",
      "usr/share/psychtoolbox-3/PsychDemos/PsychExampleExperiments/OldNewRecognition/stims/*.jpg",
    ],
    // stim1 is byte-identical to konijntjes1024x768 (dropped as a duplicate); stim6 is a painted illustration
    exclude: ["stim6"],
    credit: "Psychtoolbox-3 demo stimuli, © 1996-2020 David Brainard, Denis Pelli, Allen Ingling, Mario Kleiner, Expat",
  },
  {
    pkg: "python3-skimage",
    licence: "BSD-3; images PD/CC0",
    split: "test",
    // camera, coins and moon are grey and not listed
    globs: ["usr/lib/python3/dist-packages/skimage/data/{astronaut,chelsea,coffee,motorcycle_left,rocket}.*"],
    credit:
      "scikit-image sample data, per skimage/data/_fetchers.py: astronaut (Eileen Collins, NASA, public domain), chelsea (Stefan van der Walt, CC0), coffee (Rachel Michetti, courtesy of Pikolo Espresso Bar, CC0), motorcycle_left (Middlebury 2014 stereo benchmark, D. Scharstein et al.), rocket (SpaceX, public domain); package BSD-3-Clause",
  },
  {
    pkg: "labelme-examples",
    licence: "GPL-3+",
    split: "test",
    // the three VOC images repeat (same bytes) in three example folders; the video frames are near-identical: keep one
    globs: ["usr/share/doc/labelme-examples/examples/*/data_annotated/*.jpg"],
    exclude: ["00000101", "00000102", "00000103", "00000104"],
    credit: "labelme examples, © 2016-2022 Kentaro Wada, GPL-3+",
  },
  {
    pkg: "darknet",
    licence: "GPL-3+/MIT",
    split: "test",
    globs: ["usr/share/darknet/data/*.jpg"],
    exclude: ["scream"], // a painting
    credit: "darknet sample images, © 2018 Joseph Redmon, GPL-3.0+ or MIT or WTFPL",
  },
  {
    pkg: "libjxl-testdata",
    licence: "BSD-3 / CC0",
    split: "validation",
    globs: ["usr/share/libjxl-testdata/jxl/flower/flower.png", "usr/share/libjxl-testdata/external/wesaturate/500px/*_srgb8.png"],
    credit: "JPEG XL test data, © the JPEG XL Project Authors (BSD-3-Clause); wesaturate photos CC0",
  },
  {
    pkg: "palapeli-data",
    licence: "GPL-2+",
    split: "test",
    globs: ["usr/share/palapeli/collection/*.jpg"],
    credit: "Palapeli puzzle collection, © Palapeli authors (Stefan Majewsky, Johannes Loehnert, Ian Wadham et al.), GPL-2+",
  },
  {
    pkg: "python3-sklearn",
    // the Debian copyright file says BSD-3-Clause for everything, but the images' README says CC-BY-2.0
    licence: "CC-BY-2.0 (images); package BSD-3-Clause",
    split: "validation",
    globs: ["usr/lib/python3/dist-packages/sklearn/datasets/images/*.jpg"],
    credit:
      "scikit-learn sample images, CC-BY-2.0: china.jpg by danielbuechele (Flickr 6061409035), flower.jpg by vultilion (Flickr 6056698931), per sklearn/datasets/images/README.txt",
  },
  {
    pkg: "python-matplotlib-data",
    licence: "PD",
    split: "validation",
    globs: ["usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg"],
    credit: "Grace Hopper portrait (U.S. Navy, public domain), shipped as Matplotlib sample data",
  },
  {
    pkg: "libsixel-examples",
    licence: "PD",
    split: "validation",
    globs: ["usr/share/doc/libsixel-examples/examples/images/{snake,egret}.jpg"],
    credit: "snake and egret photographs by Jon Sullivan, public domain",
  },
  {
    pkg: "puzzle-jigsaw",
    licence: "CC0-1.0",
    split: "validation",
    globs: ["usr/share/puzzle-jigsaw/samples/*"],
    credit: "puzzle-jigsaw samples from Pexels, CC0-1.0",
  },
];

const LXQT = "usr/share/lxqt/wallpapers";
const STEFONARCH = "© stefonarch (standreas@riseup.net), CC-BY-SA-3.0, per usr/share/lxqt/wallpapers/License";

/**
 * The large set (`--set large`): real photographs whose short side is 1024 px or more, from packages that give
 * nothing to PHOTO_PACKAGES, all in the test split (never trained on). Picked by eye on contact sheets of the
 * Debian bookworm packages; see docs/DATA.md for what was searched.
 */
export const LARGE_PHOTO_PACKAGES: readonly PackageSpec[] = [
  {
    pkg: "digikam-data",
    licence: "GPL-2+",
    split: "test",
    globs: ["usr/share/digikam/about/images/body-background.jpg"],
    rename: () => "lake-hill",
    credit:
      "digiKam about-page background (a lake below a red hill), digiKam authors (Gilles Caulier et al.); the copyright file names no author for it, so GPL-2+ as the rest of the package",
  },
  {
    pkg: "lxqt-themes",
    // the upstream wallpapers/License says CC-BY-SA-3.0; Debian's copyright file has no stanza for them (Files: * is LGPL-2.1+)
    licence: "CC-BY-SA-3.0",
    split: "test",
    globs: [
      `${LXQT}/{Butterfly-Kenneth-Wimer,after-the-rain,fog,this-is-not-windows}.jpg`,
      `${LXQT}/{Valendas,appleflower,beam,butterfly,cloud,drop,flowers}.png`,
    ],
    licenceFiles: [`${LXQT}/License`],
    fileCredits: {
      "butterfly-kenneth-wimer": "Kenneth Wimer (named in the file name), CC-BY-SA-3.0, per usr/share/lxqt/wallpapers/License",
      "after-the-rain": STEFONARCH,
      appleflower: STEFONARCH,
      beam: STEFONARCH,
      butterfly: STEFONARCH,
      drop: STEFONARCH,
      flowers: STEFONARCH,
      fog: STEFONARCH,
      "this-is-not-windows": STEFONARCH,
    },
    credit:
      "LXQt wallpapers, © 2022 LXQt Project Team, CC-BY-SA-3.0 per usr/share/lxqt/wallpapers/License (the Debian copyright file has no stanza for the wallpapers; its catch-all says LGPL-2.1+)",
  },
  {
    pkg: "sddm-theme-maldives",
    licence: "CC-BY-3.0",
    split: "test",
    globs: ["usr/share/sddm/themes/maldives/background.jpg"],
    rename: () => "maldives",
    credit: "a beach and jetty in the Maldives, © 2008 Nevit Dilmen (Wikimedia Commons, User:Nevit), CC-BY-3.0",
  },
];

export type PhotoSetName = "small" | "large";

/** A photo set the importer can build: its packages, conversion, and where it goes. */
export interface PhotoSetConfig {
  packages: readonly PackageSpec[];
  /** Default output folder. */
  out: string;
  shortSide: number;
  minSourceShortSide: number;
  jpegQuality: number;
  /** The splits the folder provides (manifest `splits`); absent: all three. */
  splits?: Split[];
  /** false: `PhotoLibrary` never enlarges crops of this folder (manifest `upscale`). */
  upscale?: boolean;
  /** Default folder of the committed source list, for a set whose photos are not committed. */
  sources?: string;
}

export const PHOTO_SETS: Record<PhotoSetName, PhotoSetConfig> = {
  small: { packages: PHOTO_PACKAGES, out: DEFAULT_OUT, shortSide: PHOTO_SHORT_SIDE, minSourceShortSide: MIN_SOURCE_SHORT_SIDE, jpegQuality: JPEG_QUALITY },
  large: {
    packages: LARGE_PHOTO_PACKAGES,
    out: DEFAULT_LARGE_OUT,
    shortSide: LARGE_SHORT_SIDE,
    minSourceShortSide: LARGE_MIN_SOURCE_SHORT_SIDE,
    jpegQuality: LARGE_JPEG_QUALITY,
    splits: ["test"],
    upscale: false,
    sources: DEFAULT_LARGE_SOURCES,
  },
};

/* ---- pure rules --------------------------------------------------------------------------------------------- */

export interface ManifestPhoto {
  file: string;
  package: string;
  source: string;
  width: number;
  height: number;
  sha256: string;
  /** With `recordSources`: the original file inside the package, its sha256, bytes and decoded size. */
  sourceSha256?: string;
  sourceBytes?: number;
  sourceWidth?: number;
  sourceHeight?: number;
}

export interface PackageResult {
  spec: PackageSpec;
  version: string;
  photos: ManifestPhoto[];
  /** Per-photo credit from the copyright file where a stanza names the file itself. */
  fileCredits: Map<string, string>;
}

export interface PhotoManifest {
  format: "mgie-photos-1";
  shortSide: number;
  splits?: Split[];
  upscale?: boolean;
  packages: Record<string, { version: string; licence: string; split: Split; copyright: string }>;
  photos: ManifestPhoto[];
}

/** Checks a package table: unique package names, a known split, at least one glob, well-formed braces. */
export function validatePackageSpecs(specs: readonly PackageSpec[]): void {
  const seen = new Set<string>();
  for (const spec of specs) {
    if (!/^[a-z0-9][a-z0-9+.-]*$/.test(spec.pkg)) throw new MgieError("PHOTO_IMPORT", `'${spec.pkg}' is not a Debian package name`);
    if (seen.has(spec.pkg)) throw new MgieError("PHOTO_IMPORT", `${spec.pkg} is listed twice`);
    seen.add(spec.pkg);
    if (!(SPLITS as readonly string[]).includes(spec.split)) {
      throw new MgieError("PHOTO_IMPORT", `${spec.pkg}: split '${spec.split}' is not one of ${SPLITS.join(", ")}`);
    }
    if (spec.globs.length === 0) throw new MgieError("PHOTO_IMPORT", `${spec.pkg}: no globs`);
    for (const g of spec.globs) for (const seg of g.split("/")) expandBraces(seg);
  }
}

/**
 * The alternatives of `{a,b}` groups, left to right: `x{a,b}y{1,2}` gives xay1, xay2, xby1, xby2. Groups do not
 * nest; an unbalanced brace is an error.
 */
export function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf("{");
  const close = pattern.indexOf("}");
  if (open < 0 && close < 0) return [pattern];
  if (open < 0 || close < open) throw new MgieError("PHOTO_IMPORT", `unbalanced '}' in the glob '${pattern}'`);
  if (close < 0) throw new MgieError("PHOTO_IMPORT", `unbalanced '{' in the glob '${pattern}'`);
  const inner = pattern.slice(open + 1, close);
  if (inner.includes("{")) throw new MgieError("PHOTO_IMPORT", `nested '{' in the glob '${pattern}'`);
  const head = pattern.slice(0, open);
  const tails = expandBraces(pattern.slice(close + 1));
  return inner.split(",").flatMap((alt) => tails.map((tail) => head + alt + tail));
}

/** A regular expression for one path segment of a glob: `*` any run, `?` any one character, `{a,b}` either. */
export function segmentRegExp(seg: string): RegExp {
  const alternatives = expandBraces(seg).map((alt) => {
    let re = "";
    for (const ch of alt) {
      if (ch === "*") re += "[^/]*";
      else if (ch === "?") re += "[^/]";
      else re += ch.replace(/[.+^$(){}|[\]\\]/g, "\\$&");
    }
    return re;
  });
  return new RegExp(`^(?:${alternatives.join("|")})$`);
}

/** Whether a relative path (`/`-separated) matches a glob, segment by segment. */
export function matchGlob(pattern: string, path: string): boolean {
  const segs = pattern.split("/");
  const parts = path.split("/");
  return segs.length === parts.length && segs.every((seg, i) => segmentRegExp(seg).test(parts[i]!));
}

/** Lower-case, [a-z0-9_-] only. */
export function outputName(raw: string): string {
  const name = raw
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (!name) throw new MgieError("PHOTO_IMPORT", `'${raw}' gives an empty file name`);
  return name;
}

/** The output base name (no extension) of a source path of a package. */
export function outputNameFor(spec: PackageSpec, source: string): string {
  return outputName(spec.rename ? spec.rename(source) : basename(source, extname(source)));
}

export interface Candidate {
  source: string;
  /** Output base name, without `.jpg`. */
  name: string;
}

/**
 * Applies a package's rules to its matched sources, in order: excluded names are left out, a file with the same
 * bytes (sha256) as an earlier one is skipped as a duplicate, and two kept files with the same output name are an
 * error.
 */
export function selectCandidates(
  spec: PackageSpec,
  files: readonly { source: string; sha256: string }[],
): { keep: Candidate[]; skipped: { source: string; reason: string }[] } {
  const excluded = new Set(spec.exclude ?? []);
  const seenBytes = new Map<string, string>(); // sha256 of the original -> source
  const seenNames = new Map<string, string>(); // output name -> source
  const keep: Candidate[] = [];
  const skipped: { source: string; reason: string }[] = [];
  for (const { source, sha256: digest } of files) {
    const name = outputNameFor(spec, source);
    if (excluded.has(name)) {
      skipped.push({ source, reason: "excluded" });
      continue;
    }
    const same = seenBytes.get(digest);
    if (same) {
      skipped.push({ source, reason: `same bytes as ${same}` });
      continue;
    }
    seenBytes.set(digest, source);
    const clash = seenNames.get(name);
    if (clash) throw new MgieError("PHOTO_IMPORT", `${spec.pkg}: ${source} and ${clash} would both be written as ${name}.jpg`);
    seenNames.set(name, source);
    keep.push({ source, name });
  }
  return { keep, skipped };
}

/** Why a decoded original of this size is not used, or undefined when it is big enough. */
export function sizeRejection(width: number, height: number, minSourceShortSide: number = MIN_SOURCE_SHORT_SIDE): string | undefined {
  return Math.min(width, height) < minSourceShortSide ? `${width}x${height} is below ${minSourceShortSide} px on the short side` : undefined;
}

/** Whether interleaved RGB pixels are all grey (the three channels equal). */
export function isGrey(rgb: Uint8Array): boolean {
  for (let i = 0; i < rgb.length; i += 3) {
    if (rgb[i] !== rgb[i + 1] || rgb[i] !== rgb[i + 2]) return false;
  }
  return true;
}

/**
 * The manifest read by `PhotoLibrary`: packages by name, photos by file, both sorted. `splits` and `upscale` are
 * written only when given (the large set: `["test"]`, false).
 */
export function buildManifest(
  results: readonly PackageResult[],
  shortSide: number = PHOTO_SHORT_SIDE,
  extra: { splits?: Split[]; upscale?: boolean } = {},
): PhotoManifest {
  const packages: PhotoManifest["packages"] = {};
  for (const r of [...results].sort((a, b) => cmp(a.spec.pkg, b.spec.pkg))) {
    packages[r.spec.pkg] = { version: r.version, licence: r.spec.licence, split: r.spec.split, copyright: `copyright/${r.spec.pkg}.txt` };
  }
  const photos = results.flatMap((r) => r.photos).sort((a, b) => cmp(a.file, b.file));
  return {
    format: "mgie-photos-1",
    shortSide,
    ...(extra.splits ? { splits: extra.splits } : {}),
    ...(extra.upscale !== undefined ? { upscale: extra.upscale } : {}),
    packages,
    photos,
  };
}

/* ---- the committed source list of a set whose photos are not committed (the large set) ----------------------- */

export const SOURCE_LIST_FORMAT = "mgie-photo-sources-1";

export interface SourceListPhoto {
  /** The converted photo, relative to the output folder. */
  file: string;
  package: string;
  /** The .deb version the list was made from. */
  version: string;
  /** Path of the original inside the package. */
  source: string;
  sourceSha256: string;
  sourceBytes: number;
  sourceWidth: number;
  sourceHeight: number;
  /** Size of the converted photo. */
  width: number;
  height: number;
}

export interface SourceList {
  format: typeof SOURCE_LIST_FORMAT;
  note: string;
  shortSide: number;
  jpegQuality: number;
  splits: Split[];
  packages: Record<string, { version: string; licence: string; split: Split; copyright: string; licenceFiles?: string[] }>;
  photos: SourceListPhoto[];
}

const SourceListSchema = z.object({
  format: z.literal(SOURCE_LIST_FORMAT),
  note: z.string(),
  shortSide: z.number().int().positive(),
  jpegQuality: z.number().int().min(1).max(100),
  splits: z.array(z.enum(SPLITS)).min(1),
  packages: z.record(
    z.string(),
    z.object({ version: z.string(), licence: z.string(), split: z.enum(SPLITS), copyright: z.string(), licenceFiles: z.array(z.string()).optional() }),
  ),
  photos: z
    .array(
      z.object({
        file: z.string(),
        package: z.string(),
        version: z.string(),
        source: z.string(),
        sourceSha256: z.string().regex(/^[0-9a-f]{64}$/),
        sourceBytes: z.number().int().positive(),
        sourceWidth: z.number().int().positive(),
        sourceHeight: z.number().int().positive(),
        width: z.number().int().positive(),
        height: z.number().int().positive(),
      }),
    )
    .min(1),
});

/** The source list of a built set (`recordSources` must have been on): packages by name, photos by file. */
export function buildSourceList(results: readonly PackageResult[], opts: { shortSide: number; jpegQuality: number; splits: Split[] }): SourceList {
  const packages: SourceList["packages"] = {};
  for (const r of [...results].sort((a, b) => cmp(a.spec.pkg, b.spec.pkg))) {
    packages[r.spec.pkg] = {
      version: r.version,
      licence: r.spec.licence,
      split: r.spec.split,
      copyright: `copyright/${r.spec.pkg}.txt`,
      ...(r.spec.licenceFiles?.length ? { licenceFiles: r.spec.licenceFiles.map((f) => licenceFileName(r.spec.pkg, f)) } : {}),
    };
  }
  const photos = results
    .flatMap((r) =>
      r.photos.map((p): SourceListPhoto => {
        if (p.sourceSha256 === undefined || p.sourceBytes === undefined || p.sourceWidth === undefined || p.sourceHeight === undefined) {
          throw new MgieError("PHOTO_IMPORT", `${p.file}: no source record (build the set with recordSources)`);
        }
        return {
          file: p.file,
          package: p.package,
          version: r.version,
          source: p.source,
          sourceSha256: p.sourceSha256,
          sourceBytes: p.sourceBytes,
          sourceWidth: p.sourceWidth,
          sourceHeight: p.sourceHeight,
          width: p.width,
          height: p.height,
        };
      }),
    )
    .sort((a, b) => cmp(a.file, b.file));
  const note =
    `The source list of a photo set that is not in the repository: 'npm run import-photos -- --set large' downloads these ` +
    `packages, checks every source file against sourceSha256 and sourceBytes, and writes the photos (sRGB JPEG, quality ` +
    `${opts.jpegQuality}, short side at most ${opts.shortSide} px) with their own manifest (the one PhotoLibrary reads) into data/photos-large/ ` +
    "(git-ignored; another folder with --out). Test split only: never train on them.";
  return { format: SOURCE_LIST_FORMAT, note, shortSide: opts.shortSide, jpegQuality: opts.jpegQuality, splits: opts.splits, packages, photos };
}

/** Parses a source list; `where` names the file in errors. */
export function parseSourceList(text: string, where: string): SourceList {
  try {
    return SourceListSchema.parse(JSON.parse(text)) as SourceList;
  } catch (cause) {
    throw new MgieError("PHOTO_IMPORT", `${where} is not a photo source list (${SOURCE_LIST_FORMAT}): ${firstLine(cause)}`, { cause });
  }
}

/** One package as scanned before conversion: its version and the selected originals. */
export interface ScannedSources {
  pkg: string;
  version: string;
  sources: { source: string; name: string; sha256: string; bytes: number }[];
}

/**
 * Compares the selected originals with a source list. Errors: a package or file missing on either side, a file whose
 * sha256 or size differ, an output name that differs. Notes: a package at another version whose files are the same.
 */
export function checkSources(list: SourceList, scanned: readonly ScannedSources[]): { errors: string[]; notes: string[] } {
  const errors: string[] = [];
  const notes: string[] = [];
  const scannedPkgs = new Set(scanned.map((s) => s.pkg));
  for (const pkg of Object.keys(list.packages)) {
    if (!scannedPkgs.has(pkg)) errors.push(`${pkg} is in the source list but not imported by this set`);
  }
  for (const s of scanned) {
    const listed = list.packages[s.pkg];
    if (!listed) {
      errors.push(`${s.pkg} is imported but not in the source list`);
      continue;
    }
    if (listed.version !== s.version)
      notes.push(`${s.pkg}: the archive has ${s.version}, the source list was made from ${listed.version}; checking its files byte for byte`);
    const want = new Map(list.photos.filter((p) => p.package === s.pkg).map((p) => [p.source, p]));
    for (const got of s.sources) {
      const p = want.get(got.source);
      if (!p) {
        errors.push(`${s.pkg} ${s.version}: ${got.source} is selected but not in the source list`);
        continue;
      }
      want.delete(got.source);
      if (p.sourceSha256 !== got.sha256 || p.sourceBytes !== got.bytes) {
        errors.push(
          `${s.pkg} ${s.version}: ${got.source} has changed: sha256 ${got.sha256} (${got.bytes} bytes), the source list has ${p.sourceSha256} (${p.sourceBytes} bytes, version ${p.version})`,
        );
      }
      if (p.file !== `${s.pkg}/${got.name}.jpg`)
        errors.push(`${s.pkg}: ${got.source} would be written as ${s.pkg}/${got.name}.jpg, the source list says ${p.file}`);
    }
    for (const p of want.values())
      errors.push(`${s.pkg} ${s.version}: ${p.source} (in the source list, version ${p.version}) is missing or no longer selected`);
  }
  return { errors, notes };
}

/** The converted photos against the source list: the same files at the same sizes. */
export function checkConverted(list: SourceList, photos: readonly ManifestPhoto[]): string[] {
  const errors: string[] = [];
  const want = new Map(list.photos.map((p) => [p.file, p]));
  for (const p of photos) {
    const w = want.get(p.file);
    if (!w) errors.push(`${p.file} was written but is not in the source list`);
    else if (w.width !== p.width || w.height !== p.height)
      errors.push(`${p.file} converted to ${p.width}x${p.height}, the source list says ${w.width}x${w.height}`);
    want.delete(p.file);
  }
  for (const w of want.values()) errors.push(`${w.file} (in the source list) was not written: its original was skipped`);
  return errors;
}

/** The name under copyright/ of an extra licence file of a package. */
export function licenceFileName(pkg: string, path: string): string {
  return `copyright/${pkg}.${outputName(posix.basename(path))}.txt`;
}

export function manifestJson(manifest: PhotoManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** Photos per split; every photo is in the split of its package. */
export function splitCounts(results: readonly PackageResult[]): Record<Split, number> {
  const counts = Object.fromEntries(SPLITS.map((s) => [s, 0])) as Record<Split, number>;
  for (const r of results) counts[r.spec.split] += r.photos.length;
  return counts;
}

/**
 * Per-file credits from a machine-readable (DEP-5) copyright file: the last stanza whose Files field names the
 * photo's own file name (no wildcards) gives "Copyright, License". Others fall back to the package credit.
 */
export function creditsFromCopyright(text: string, photos: readonly ManifestPhoto[]): Map<string, string> {
  const stanzas = text.split(/\n\s*\n/).map(parseStanza);
  const credits = new Map<string, string>();
  for (const p of photos) {
    const base = posix.basename(p.source);
    let hit: Record<string, string> | undefined;
    for (const s of stanzas) {
      const files = (s.files ?? "").split(/\s+/).filter(Boolean);
      if (files.some((f) => !/[*?]/.test(f) && posix.basename(f) === base)) hit = s;
    }
    if (hit) {
      const holder = (hit.copyright ?? "")
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
        .join("; ");
      const licence = (hit.license ?? "").split("\n")[0]?.trim() ?? "";
      credits.set(p.file, [holder && `© ${holder.replace(/^©\s*/, "")}`, licence].filter(Boolean).join(", "));
    }
  }
  return credits;
}

export function parseStanza(block: string): Record<string, string> {
  const fields: Record<string, string> = {};
  let key: string | undefined;
  for (const line of block.split("\n")) {
    const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
    if (m && m[1] !== undefined) {
      key = m[1].toLowerCase();
      fields[key] = m[2] ?? "";
    } else if (key && /^\s/.test(line)) {
      fields[key] += `\n${line.trim()}`;
    }
  }
  return fields;
}

/** The opening of CREDITS.md for the large set, whose photos are not in the repository. */
export function largeCreditsIntro(total: number, shortSide: number): string[] {
  return [
    "# Credits for the photographs of the large test set",
    "",
    `These ${total} photographs are NOT in the repository. \`npm run import-photos -- --set large\` downloads the Debian`,
    "packages listed below, checks every original against the sha256 in assets/photos-large/manifest.json (the source",
    "list, with the exact .deb versions), and writes them as sRGB JPEG, downscaled only where the short side is over",
    `${shortSide} px, into data/photos-large/ (git-ignored) with a copy of this file and of copyright/. They are a TEST`,
    "set: never train on them.",
  ];
}

/** CREDITS.md: a table of the packages (sorted by name), then each package's photos with their credits. */
export function creditsMarkdown(
  results: readonly PackageResult[],
  shortSide: number = PHOTO_SHORT_SIDE,
  intro?: (total: number, shortSide: number) => string[],
): string {
  const sorted = [...results].sort((a, b) => cmp(a.spec.pkg, b.spec.pkg));
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const total = sorted.reduce((n, r) => n + r.photos.length, 0);
  const lines: string[] = [
    ...(intro
      ? intro(total, shortSide)
      : [
          "# Credits for the photographs in this folder",
          "",
          `These ${total} photographs were taken from the Debian packages listed below (the exact .deb versions are`,
          `recorded here and in manifest.json) and re-encoded as sRGB JPEG, downscaled so the short side is at most`,
          `${shortSide} px. They are regenerated by \`npm run import-photos\` (scripts/import-photos.ts).`,
        ]),
    "",
    "Each package's Debian copyright file is kept beside this file, in `copyright/PACKAGE.txt`; it holds the full",
    "licence texts. The photographs keep their original licences, which are NOT the licence of this project:",
    "",
    "- **CC-BY / CC-BY-SA**: credit the author as below, link the licence, and say the images were modified",
    "  (downscaled, re-encoded); anything adapted from a CC-BY-SA image is shared under the same licence.",
    "- **GPL**: redistribute with the licence text (in `copyright/`); the preferred form for modification is the",
    "  original full-size image, available from the Debian source or binary package of the version listed.",
    "- **CC0 / public domain / BSD / Expat**: no conditions beyond keeping the notices in `copyright/`.",
    "",
    "| package | version | licence | split | photos | files |",
    "|---|---|---|---|---|---|",
  ];
  for (const r of sorted) {
    const files = r.photos.map((p) => posix.basename(p.file)).join(", ");
    lines.push(`| ${esc(r.spec.pkg)} | ${esc(r.version)} | ${esc(r.spec.licence)} | ${r.spec.split} | ${r.photos.length} | ${esc(files)} |`);
  }
  for (const r of sorted) {
    lines.push(
      "",
      `## ${r.spec.pkg} ${r.version}`,
      "",
      `Licence: ${r.spec.licence}. Split: ${r.spec.split}. Copyright file: [copyright/${r.spec.pkg}.txt](copyright/${r.spec.pkg}.txt)${(
        r.spec.licenceFiles ?? []
      )
        .map((f) => `; \`${f}\`: [${licenceFileName(r.spec.pkg, f)}](${licenceFileName(r.spec.pkg, f)})`)
        .join("")}.`,
      "",
      `Credit: ${r.spec.credit}.`,
      "",
      "| file | source in the package | credit |",
      "|---|---|---|",
    );
    for (const p of r.photos) {
      lines.push(`| ${esc(p.file)} | \`${esc(p.source)}\` | ${esc(r.fileCredits.get(p.file) ?? "as above")} |`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/* ---- conversion of extracted packages (files and sharp; no external programs) ------------------------------- */

/** A package unpacked under `root` (as `dpkg-deb -x` leaves it), at a version. */
export interface ExtractedPackage {
  spec: PackageSpec;
  version: string;
  root: string;
}

export interface BuildPhotoSetOptions extends ConvertOptions {
  /** Output folder. Only the package folders, copyright/, manifest.json and CREDITS.md are replaced. */
  out: string;
  onProgress?: (msg: string) => void;
  /** The splits the folder provides, written to the manifest (default: not written, meaning all three). */
  splits?: Split[];
  /** Written to the manifest when given: false makes `PhotoLibrary` never enlarge crops of this folder. */
  upscale?: boolean;
  /**
   * Record each photo's original (sha256, bytes, decoded size) in the manifest, for a set with a source list; every
   * selected original must then be converted (one skipped as too small or grey is an error: list the files exactly).
   */
  recordSources?: boolean;
  /**
   * A committed source list: every selected original must match it (package, path, sha256, bytes, output name)
   * before anything is written, and the converted photos must have its sizes.
   */
  sourceList?: SourceList;
  /** Names the source list in errors. */
  sourceListPath?: string;
  /** The opening of CREDITS.md (default: the one of assets/photos). */
  creditsIntro?: (total: number, shortSide: number) => string[];
}

/**
 * Everything after download and extraction: selects each package's originals (and, with `sourceList`, checks them
 * before writing anything), converts them into out/PKG/, copies the copyright files into out/copyright/, and writes
 * manifest.json and CREDITS.md. Returns the results in input order.
 */
export async function buildPhotoSet(extracted: readonly ExtractedPackage[], opts: BuildPhotoSetOptions): Promise<PackageResult[]> {
  const say = opts.onProgress ?? (() => {});
  const shortSide = opts.shortSide ?? PHOTO_SHORT_SIDE;
  validatePackageSpecs(extracted.map((e) => e.spec));
  const scanned: SelectedSource[][] = [];
  for (const { spec, root } of extracted) scanned.push(await selectSources(spec, root, say));
  if (opts.sourceList) {
    const { errors, notes } = checkSources(
      opts.sourceList,
      extracted.map((e, i) => ({
        pkg: e.spec.pkg,
        version: e.version,
        sources: scanned[i]!.map((c) => ({ source: c.source, name: c.name, sha256: c.sha256, bytes: c.bytes.length })),
      })),
    );
    for (const n of notes) say(n);
    if (errors.length > 0) throw sourcesChanged(opts.sourceListPath ?? "the source list", errors);
  }

  await mkdir(opts.out, { recursive: true });
  await rm(join(opts.out, "copyright"), { recursive: true, force: true });
  await mkdir(join(opts.out, "copyright"), { recursive: true });
  const results: PackageResult[] = [];
  for (const [i, { spec, version, root }] of extracted.entries()) {
    const copyrightText = await copyCopyright(root, spec.pkg, join(opts.out, "copyright", `${spec.pkg}.txt`));
    for (const f of spec.licenceFiles ?? []) await copyLicenceFile(root, spec.pkg, f, join(opts.out, licenceFileName(spec.pkg, f)));
    const photos = (await writePackage(spec, scanned[i]!, opts.out, { ...opts, onProgress: say })).sort((a, b) => cmp(a.file, b.file));
    const fileCredits = creditsFromCopyright(copyrightText, photos);
    for (const p of photos) {
      const own = spec.fileCredits?.[posix.basename(p.file, ".jpg")];
      if (own) fileCredits.set(p.file, own);
    }
    say(`${spec.pkg} ${version}: ${photos.length} photos (${spec.split})`);
    results.push({ spec, version, photos, fileCredits });
  }
  if (opts.sourceList) {
    const errors = checkConverted(
      opts.sourceList,
      results.flatMap((r) => r.photos),
    );
    if (errors.length > 0) throw sourcesChanged(opts.sourceListPath ?? "the source list", errors);
  }
  const manifest = buildManifest(results, shortSide, { splits: opts.splits, upscale: opts.upscale });
  await writeFile(join(opts.out, "manifest.json"), manifestJson(manifest));
  await writeFile(join(opts.out, "CREDITS.md"), creditsMarkdown(results, shortSide, opts.creditsIntro));
  return results;
}

function sourcesChanged(where: string, errors: string[]): MgieError {
  return new MgieError(
    "PHOTO_SOURCES_CHANGED",
    `the originals do not match the source list ${where}:\n${errors.map((e) => `  - ${e}`).join("\n")}\n` +
      "This set is fixed (a test set): look at the new files, then run again with --update-sources to accept them, and commit the new source list.",
  );
}

/** Regular files (never symlinks) under root matching a glob of `*`, `?` and `{a,b}` segments; sorted. */
export async function glob(root: string, pattern: string): Promise<string[]> {
  const segments = pattern.split("/");
  let dirs = [""];
  for (const [i, seg] of segments.entries()) {
    const last = i === segments.length - 1;
    const re = segmentRegExp(seg);
    const next: string[] = [];
    for (const d of dirs) {
      const entries = await readdir(join(root, d), { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (!re.test(e.name)) continue;
        if (last ? e.isFile() : e.isDirectory()) next.push(d ? posix.join(d, e.name) : e.name);
      }
    }
    dirs = next.sort(cmp);
  }
  return dirs;
}

/** The sources of a package, glob by glob (each glob's matches sorted), each once; a glob matching nothing is an error. */
export async function findSources(spec: PackageSpec, root: string): Promise<string[]> {
  const sources: string[] = [];
  for (const g of spec.globs) {
    const found = await glob(root, g);
    if (found.length === 0) throw new MgieError("PHOTO_IMPORT", `${spec.pkg}: nothing matches ${g}`);
    for (const f of found) if (!sources.includes(f)) sources.push(f);
  }
  return sources;
}

/**
 * One original as an sRGB JPEG with the given short side (never enlarged): orientation applied, transparency
 * flattened onto white. Returns why it is skipped instead when it is too small or grey.
 */
export async function convertImage(
  bytes: Uint8Array,
  opts: ConvertOptions = {},
): Promise<{ jpeg: Buffer; width: number; height: number; sourceWidth: number; sourceHeight: number } | { skip: string }> {
  const shortSide = opts.shortSide ?? PHOTO_SHORT_SIDE;
  const { data, info } = await sharp(bytes, { limitInputPixels: 100_000_000 })
    .rotate()
    .flatten({ background: "#ffffff" })
    .toColourspace("srgb")
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new MgieError("PHOTO_IMPORT", `decoded to ${info.width}x${info.height}x${info.channels} (${data.length} bytes)`);
  }
  const small = sizeRejection(info.width, info.height, opts.minSourceShortSide ?? MIN_SOURCE_SHORT_SIDE);
  if (small) return { skip: small };
  if (isGrey(data)) return { skip: "grayscale (all three channels equal)" };
  const jpeg = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
    .resize({ width: shortSide, height: shortSide, fit: "outside", withoutEnlargement: true, kernel: "lanczos3" })
    .jpeg({ quality: opts.jpegQuality ?? JPEG_QUALITY })
    .toBuffer({ resolveWithObject: true });
  return { jpeg: jpeg.data, width: jpeg.info.width, height: jpeg.info.height, sourceWidth: info.width, sourceHeight: info.height };
}

/** A selected original of a package, read into memory. */
export interface SelectedSource extends Candidate {
  sha256: string;
  bytes: Buffer;
}

/** Finds, reads and selects a package's originals (see `selectCandidates`); says why a matched file is skipped. */
export async function selectSources(spec: PackageSpec, root: string, say: (msg: string) => void = () => {}): Promise<SelectedSource[]> {
  const sources = await findSources(spec, root);
  const files = await Promise.all(sources.map(async (source) => ({ source, bytes: await readFile(join(root, source)) })));
  const bytesOf = new Map(files.map((f) => [f.source, f.bytes]));
  const digests = new Map(files.map((f) => [f.source, sha256(f.bytes)]));
  const { keep, skipped } = selectCandidates(
    spec,
    files.map((f) => ({ source: f.source, sha256: digests.get(f.source)! })),
  );
  for (const s of skipped) if (s.reason !== "excluded") say(`${spec.pkg}: skipping ${s.source}: ${s.reason}`);
  return keep.map((c) => ({ ...c, sha256: digests.get(c.source)!, bytes: bytesOf.get(c.source)! }));
}

/** Replaces out/PKG/ with the package's selected photos; at least one must be selected. */
export async function convertPackage(
  spec: PackageSpec,
  root: string,
  out: string,
  opts: ConvertOptions & { onProgress?: (msg: string) => void; recordSources?: boolean } = {},
): Promise<ManifestPhoto[]> {
  return writePackage(spec, await selectSources(spec, root, opts.onProgress), out, opts);
}

/** Converts selected originals into out/PKG/ (replacing it); at least one must be written. */
export async function writePackage(
  spec: PackageSpec,
  selected: readonly SelectedSource[],
  out: string,
  opts: ConvertOptions & { onProgress?: (msg: string) => void; recordSources?: boolean } = {},
): Promise<ManifestPhoto[]> {
  const say = opts.onProgress ?? (() => {});
  const dir = join(out, spec.pkg);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const photos: ManifestPhoto[] = [];
  for (const { source, name, bytes, sha256: sourceSha256 } of selected) {
    let converted: Awaited<ReturnType<typeof convertImage>>;
    try {
      converted = await convertImage(bytes, opts);
    } catch (cause) {
      const why = cause instanceof MgieError ? cause.message : firstLine(cause);
      throw new MgieError("PHOTO_IMPORT", `${spec.pkg}: ${source}: ${why}`, { cause });
    }
    if ("skip" in converted) {
      if (opts.recordSources) {
        throw new MgieError(
          "PHOTO_IMPORT",
          `${spec.pkg}: ${source}: ${converted.skip}; a set with a source list converts every selected original: narrow the globs`,
        );
      }
      say(`${spec.pkg}: skipping ${source}: ${converted.skip}`);
      continue;
    }
    const file = `${spec.pkg}/${name}.jpg`;
    await writeFile(join(out, file), converted.jpeg);
    const photo: ManifestPhoto = { file, package: spec.pkg, source, width: converted.width, height: converted.height, sha256: sha256(converted.jpeg) };
    if (opts.recordSources) {
      Object.assign(photo, { sourceSha256, sourceBytes: bytes.length, sourceWidth: converted.sourceWidth, sourceHeight: converted.sourceHeight });
    }
    photos.push(photo);
  }
  if (photos.length === 0) throw new MgieError("PHOTO_IMPORT", `${spec.pkg}: no photos selected`);
  return photos;
}

/** Copies usr/share/doc/PKG/copyright (following symlinks inside the package tree) to dest and returns its text. */
export async function copyCopyright(root: string, pkg: string, dest: string): Promise<string> {
  let path = join(root, "usr/share/doc", pkg, "copyright");
  for (let hops = 0; ; hops++) {
    const st = await lstat(path).catch(() => undefined);
    if (!st) throw new MgieError("PHOTO_IMPORT", `${pkg} has no usr/share/doc/${pkg}/copyright`);
    if (!st.isSymbolicLink()) break;
    if (hops === 8) throw new MgieError("PHOTO_IMPORT", `${pkg}: usr/share/doc/${pkg}/copyright is a chain of more than 8 symlinks`);
    const target = await readlink(path);
    path = isAbsolute(target) ? join(root, target) : join(dirname(path), target);
  }
  await copyFile(path, dest);
  return readFile(path, "utf8");
}

/** Copies a licence file of the package (a regular file inside the tree, not a symlink) to dest. */
export async function copyLicenceFile(root: string, pkg: string, path: string, dest: string): Promise<void> {
  const st = await lstat(join(root, path)).catch(() => undefined);
  if (!st?.isFile()) throw new MgieError("PHOTO_IMPORT", `${pkg} has no licence file ${path}`);
  await mkdir(dirname(dest), { recursive: true });
  await copyFile(join(root, path), dest);
}

/* ---- Debian packages (apt-get, dpkg-deb) --------------------------------------------------------------------- */

export interface ImportPhotosOptions extends BuildPhotoSetOptions {
  /** Where the .deb files are downloaded and extracted (cacheDir/extract/PKG). */
  cacheDir: string;
  /** The packages to import; default PHOTO_PACKAGES. */
  packages?: readonly PackageSpec[];
  /**
   * Folder of the committed source list (manifest.json, CREDITS.md, copyright/) of a set whose photos are not
   * committed: the originals are checked against it, or with `updateSources` it is rewritten from them.
   */
  sources?: string;
  updateSources?: boolean;
}

/** Downloads and extracts every package, then builds the photo set from them (see `buildPhotoSet`). */
export async function importPhotos(opts: ImportPhotosOptions): Promise<PackageResult[]> {
  const say = opts.onProgress ?? (() => {});
  const packages = opts.packages ?? PHOTO_PACKAGES;
  validatePackageSpecs(packages);
  const shortSide = opts.shortSide ?? PHOTO_SHORT_SIDE;
  const jpegQuality = opts.jpegQuality ?? JPEG_QUALITY;
  let sourceList: SourceList | undefined;
  const listPath = opts.sources === undefined ? undefined : join(opts.sources, "manifest.json");
  if (opts.updateSources && !listPath) throw new MgieError("PHOTO_IMPORT", "--update-sources needs a set with a source list (--set large)");
  if (listPath && !opts.updateSources) {
    const text = await readFile(listPath, "utf8").catch(() => undefined);
    if (text === undefined) {
      throw new MgieError("PHOTO_IMPORT", `no source list at ${listPath}: run with --update-sources once to make it from the archive's current packages`);
    }
    sourceList = parseSourceList(text, listPath);
    if (sourceList.shortSide !== shortSide || sourceList.jpegQuality !== jpegQuality) {
      throw new MgieError(
        "PHOTO_SOURCES_CHANGED",
        `${listPath} was made with short side ${sourceList.shortSide} and JPEG quality ${sourceList.jpegQuality}, this run uses ${shortSide} and ${jpegQuality}: run with --update-sources to change the set`,
      );
    }
  }
  await requireTools(["apt-get", "apt-cache", "dpkg-deb"]);
  await mkdir(opts.cacheDir, { recursive: true });

  // Fetch and extract everything first, so a download failure leaves the output folder untouched.
  const extracted: ExtractedPackage[] = [];
  for (const [i, spec] of packages.entries()) {
    const tag = `[${i + 1}/${packages.length}] ${spec.pkg}`;
    const { deb, version } = await fetchDeb(spec.pkg, opts.cacheDir, (msg) => say(`${tag}: ${msg}`));
    const root = join(opts.cacheDir, "extract", spec.pkg);
    await rm(root, { recursive: true, force: true });
    await mkdir(root, { recursive: true });
    await exec("dpkg-deb", ["-x", deb, root], opts.cacheDir, `could not extract ${deb}`);
    extracted.push({ spec, version, root });
  }

  const results = await buildPhotoSet(extracted, {
    ...opts,
    recordSources: opts.recordSources || opts.sources !== undefined,
    ...(sourceList ? { sourceList, sourceListPath: listPath } : {}),
  });
  const counts = splitCounts(results);
  const total = results.reduce((n, r) => n + r.photos.length, 0);
  say(`wrote ${total} photos from ${results.length} packages (${SPLITS.map((s) => `${s} ${counts[s]}`).join(", ")}) to ${opts.out}`);
  if (sourceList) say(`every original matched the sha256 in ${listPath}`);
  if (opts.sources !== undefined && opts.updateSources) {
    await writeSourceList(results, { dir: opts.sources, out: opts.out, shortSide, jpegQuality, splits: opts.splits ?? [...SPLITS] });
    say(`wrote the source list ${listPath} (with CREDITS.md and copyright/): commit it`);
  }
  return results;
}

/**
 * Writes the committed source list of a built set into dir: manifest.json (`buildSourceList`), and copies of the
 * set's CREDITS.md and copyright/ from out.
 */
export async function writeSourceList(
  results: readonly PackageResult[],
  opts: { dir: string; out: string; shortSide: number; jpegQuality: number; splits: Split[] },
): Promise<SourceList> {
  const list = buildSourceList(results, opts);
  await mkdir(opts.dir, { recursive: true });
  await rm(join(opts.dir, "copyright"), { recursive: true, force: true });
  await cp(join(opts.out, "copyright"), join(opts.dir, "copyright"), { recursive: true });
  await copyFile(join(opts.out, "CREDITS.md"), join(opts.dir, "CREDITS.md"));
  await writeFile(join(opts.dir, "manifest.json"), `${JSON.stringify(list, null, 2)}\n`);
  return list;
}

async function requireTools(tools: string[]): Promise<void> {
  for (const tool of tools) {
    try {
      await run(tool, ["--version"]);
    } catch (cause) {
      if ((cause as { code?: unknown }).code === "ENOENT") {
        throw new MgieError("APT_MISSING", `${tool} is not installed: the photo importer needs a Debian or Ubuntu system with apt and dpkg`, {
          cause,
        });
      }
    }
  }
}

async function fetchDeb(pkg: string, cacheDir: string, say: (msg: string) => void): Promise<{ deb: string; version: string }> {
  // Reuse a cached .deb only if it is the archive's current candidate version.
  let candidate: string | undefined;
  try {
    const { stdout } = await run("apt-cache", ["show", "--no-all-versions", pkg], { cwd: cacheDir, maxBuffer: 16 << 20 });
    candidate = /^Version: (.+)$/m.exec(stdout)?.[1]?.trim();
  } catch {
    candidate = undefined;
  }
  const cached = candidate ? await findDeb(pkg, cacheDir, candidate) : undefined;
  if (cached && candidate) {
    say(`using cached ${basename(cached)}`);
    return { deb: cached, version: candidate };
  }
  say("apt-get download");
  try {
    await run("apt-get", ["download", pkg], { cwd: cacheDir, maxBuffer: 16 << 20 });
  } catch (cause) {
    throw new MgieError(
      "APT_DOWNLOAD",
      `'apt-get download ${pkg}' failed (${firstLine(cause)}): run 'apt-get update' first (as root), and check that ${pkg} is in the configured Debian release`,
      { cause },
    );
  }
  const deb = candidate ? await findDeb(pkg, cacheDir, candidate) : await newestDeb(pkg, cacheDir);
  if (!deb) throw new MgieError("APT_DOWNLOAD", `'apt-get download ${pkg}' left no ${pkg}_*.deb in ${cacheDir}: run 'apt-get update' first`);
  return { deb, version: await debField(deb, "Version") };
}

async function debsOf(pkg: string, cacheDir: string): Promise<string[]> {
  const names = await readdir(cacheDir);
  return names
    .filter((n) => n.startsWith(`${pkg}_`) && n.endsWith(".deb"))
    .sort(cmp)
    .map((n) => join(cacheDir, n));
}

async function findDeb(pkg: string, cacheDir: string, version: string): Promise<string | undefined> {
  for (const deb of await debsOf(pkg, cacheDir)) {
    if ((await debField(deb, "Package")) === pkg && (await debField(deb, "Version")) === version) return deb;
  }
  return undefined;
}

async function newestDeb(pkg: string, cacheDir: string): Promise<string | undefined> {
  const debs = await debsOf(pkg, cacheDir);
  return debs[debs.length - 1];
}

async function debField(deb: string, field: string): Promise<string> {
  try {
    const { stdout } = await run("dpkg-deb", ["-f", deb, field]);
    return stdout.trim();
  } catch (cause) {
    throw new MgieError("PHOTO_IMPORT", `could not read ${field} of ${deb}: ${firstLine(cause)}`, { cause });
  }
}

async function exec(cmd: string, args: string[], cwd: string, what: string): Promise<void> {
  try {
    await run(cmd, args, { cwd, maxBuffer: 16 << 20 });
  } catch (cause) {
    throw new MgieError("PHOTO_IMPORT", `${what}: ${firstLine(cause)}`, { cause });
  }
}

/* ---- helpers ------------------------------------------------------------------------------------------------ */

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: unknown; message?: unknown };
  const text = (typeof e.stderr === "string" && e.stderr.trim()) || (typeof e.message === "string" ? e.message : String(err));
  return (
    text
      .split("\n")
      .find((l) => l.trim())
      ?.trim() ?? "unknown error"
  );
}

/* ---- command line ------------------------------------------------------------------------------------------- */

export interface CliOptions {
  /** Which photo set: "small" (assets/photos) or "large" (the full-size test set). */
  set: PhotoSetName;
  out: string;
  cacheDir: string;
  quiet: boolean;
  /** The folder of the set's committed source list (the large set only). */
  sources?: string;
  updateSources: boolean;
}

/** The command line; `action` receives the parsed options (the tests pass their own). */
export function importPhotosProgram(action: (o: CliOptions) => Promise<void> = runImport): Command {
  return new Command("import-photos")
    .description(
      "Rebuild a photo folder from Debian packages: apt-get download, dpkg-deb -x, select and convert the photos, " +
        "write manifest.json, CREDITS.md and copyright/. Needs apt-get, dpkg-deb, network and 'apt-get update' first. " +
        "--set large builds the full-size test set (short side 1024-2048 px, split test only) into data/photos-large, " +
        "after checking every original against the sha256 in assets/photos-large/manifest.json.",
    )
    .usage("[options]  (through npm: npm run import-photos -- [options])")
    .addOption(
      new Option("--set <name>", "which photo set: small (the shipped 256-px photos) or large (full-size test set, not committed)")
        .choices(["small", "large"])
        .default("small"),
    )
    .addOption(new Option("--out <dir>", "where the processed photos, manifest and licences go (default: assets/photos; data/photos-large with --set large)"))
    .option("--cache-dir <dir>", "where .deb files are downloaded and unpacked", DEFAULT_CACHE_DIR)
    .addOption(new Option("--cache <dir>", "old name of --cache-dir").hideHelp())
    .addOption(new Option("--sources <dir>", "the committed source list of --set large (default: assets/photos-large)"))
    .option("--update-sources", "--set large: accept the archive's current originals and rewrite the source list instead of checking against it", false)
    .option("-q, --quiet", "no progress lines", false)
    .showHelpAfterError("(run with --help for usage)")
    .action(async (o: { set: PhotoSetName; out?: string; cacheDir: string; cache?: string; sources?: string; updateSources: boolean; quiet: boolean }) => {
      const set = PHOTO_SETS[o.set];
      if (!set.sources && (o.sources !== undefined || o.updateSources)) {
        throw new MgieError("PHOTO_IMPORT", `--sources and --update-sources are for a set with a source list (--set large), not --set ${o.set}`);
      }
      const sources = o.sources !== undefined ? resolve(o.sources) : set.sources;
      await action({
        set: o.set,
        out: o.out !== undefined ? resolve(o.out) : set.out,
        cacheDir: resolve(o.cache ?? o.cacheDir),
        quiet: o.quiet,
        ...(sources !== undefined ? { sources } : {}),
        updateSources: o.updateSources,
      });
    });
}

async function runImport(o: CliOptions): Promise<void> {
  const set = PHOTO_SETS[o.set];
  const started = Date.now();
  await importPhotos({
    out: o.out,
    cacheDir: o.cacheDir,
    packages: set.packages,
    shortSide: set.shortSide,
    minSourceShortSide: set.minSourceShortSide,
    jpegQuality: set.jpegQuality,
    ...(set.splits ? { splits: set.splits } : {}),
    ...(set.upscale !== undefined ? { upscale: set.upscale } : {}),
    ...(o.sources !== undefined ? { sources: o.sources, updateSources: o.updateSources, creditsIntro: largeCreditsIntro } : {}),
    ...(o.quiet ? {} : { onProgress: (msg: string) => console.error(msg) }),
  });
  console.log(`photos written to ${o.out} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function isMain(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  try {
    await importPhotosProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof MgieError) {
      console.error(`import-photos: ${err.message}`);
      process.exitCode = 1;
    } else {
      console.error(err);
      process.exitCode = 2;
    }
  }
}
