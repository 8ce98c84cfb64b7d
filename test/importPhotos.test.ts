/**
 * The photo importer (scripts/import-photos.ts) without apt-get and dpkg-deb: its pure rules, and the conversion of
 * fake extracted package trees built here from generated images.
 */
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildManifest,
  buildPhotoSet,
  buildSourceList,
  type CliOptions,
  checkConverted,
  checkSources,
  convertImage,
  creditsFromCopyright,
  creditsMarkdown,
  DEFAULT_CACHE_DIR,
  DEFAULT_LARGE_OUT,
  DEFAULT_LARGE_SOURCES,
  DEFAULT_OUT,
  type ExtractedPackage,
  expandBraces,
  glob,
  importPhotosProgram,
  isGrey,
  LARGE_PHOTO_PACKAGES,
  largeCreditsIntro,
  type ManifestPhoto,
  MIN_SOURCE_SHORT_SIDE,
  matchGlob,
  outputName,
  outputNameFor,
  type PackageResult,
  type PackageSpec,
  PHOTO_PACKAGES,
  PHOTO_SETS,
  PHOTO_SHORT_SIDE,
  parseSourceList,
  type ScannedSources,
  type SourceList,
  selectCandidates,
  sizeRejection,
  splitCounts,
  validatePackageSpecs,
  writeSourceList,
} from "../scripts/import-photos.js";
import { Rng } from "../src/core/rng.js";
import { LARGE_PHOTO_DIR, PhotoLibrary } from "../src/data/photos.js";
import { InvalidArgumentError, MgieError } from "../src/errors.js";

/* ---- generated images ----------------------------------------------------------------------------------------- */

/** A deterministic colour image: smooth gradients plus a little seeded texture. */
function pixels(width: number, height: number, seed: number, channels: 3 | 4 = 3): Buffer {
  const buf = Buffer.alloc(width * height * channels);
  let s = seed >>> 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const t = s >>> 28; // 0-15
      const i = (y * width + x) * channels;
      buf[i] = ((x * 255) / width + seed * 37 + t) & 255;
      buf[i + 1] = ((y * 255) / height + seed * 91 + t) & 255;
      buf[i + 2] = (((x + y) * 128) / (width + height) + 60 + t) & 255;
      if (channels === 4) buf[i + 3] = x < width / 2 ? 255 : 96;
    }
  }
  return buf;
}

const jpeg = (w: number, h: number, seed: number) =>
  sharp(pixels(w, h, seed), { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
const png = (w: number, h: number, seed: number, channels: 3 | 4 = 3) =>
  sharp(pixels(w, h, seed, channels), { raw: { width: w, height: h, channels } })
    .png()
    .toBuffer();
function greyPng(w: number, h: number): Promise<Buffer> {
  const buf = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) buf.fill((i * 7) & 255, i * 3, i * 3 + 3);
  return sharp(buf, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
}

async function put(root: string, path: string, content: string | Uint8Array): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
}
async function link(root: string, path: string, target: string): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await symlink(target, join(root, path));
}

/* ---- the fake packages ---------------------------------------------------------------------------------------- */

const PHOTOS: PackageSpec = {
  pkg: "fake-photos",
  licence: "CC-BY-4.0 / CC0-1.0",
  split: "test",
  globs: ["usr/share/fake/{a,b,linked}/*.{jpg,png}"],
  exclude: ["excluded-one"],
  credit: "fake photos, © Fake Authors",
};
const WALLPAPERS: PackageSpec = {
  pkg: "fake-wallpapers",
  licence: "GPL-2+",
  split: "train",
  globs: ["usr/share/wallpapers/{Lake,Hill}/contents/images/1024x768.jpg"],
  rename: (source) => source.split("/")[3] ?? source,
  credit: "fake wallpapers | with a pipe",
};
const FACES: PackageSpec = {
  pkg: "fake-faces",
  licence: "CC0-1.0",
  split: "validation",
  globs: ["usr/share/pixmaps/faces/face?.jpg"],
  credit: "fake faces",
};

const DEP5 = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fake

Files: *
Copyright: 2019 Fake Authors
License: CC0-1.0

Files: usr/share/fake/a/Sunset_Beach.jpg
Copyright: 2020 Jane Doe
 2021 John Roe
License: CC-BY-4.0
 You are free to share and adapt.
`;

let tmp: string;
let packages: ExtractedPackage[];

/** Builds three extracted packages under tmp/extract (as dpkg-deb -x would leave them). */
async function makeTrees(): Promise<ExtractedPackage[]> {
  const photos = join(tmp, "extract", PHOTOS.pkg);
  const sunset = await jpeg(400, 300, 1);
  await put(photos, "usr/share/fake/a/Sunset_Beach.jpg", sunset); // kept: 341x256, credited by its own stanza
  await put(photos, "usr/share/fake/a/Excluded-One.jpg", await jpeg(300, 300, 2)); // excluded by name
  await put(photos, "usr/share/fake/a/wide.png", await png(1024, 300, 3, 4)); // kept: alpha flattened, 874x256
  await put(photos, "usr/share/fake/b/copy.jpg", sunset); // same bytes as Sunset_Beach.jpg
  await put(photos, "usr/share/fake/b/tiny.jpg", await jpeg(240, 180, 4)); // short side below MIN_SOURCE_SHORT_SIDE
  await put(photos, "usr/share/fake/b/small_ok.jpg", await jpeg(230, 210, 5)); // kept at its size, never enlarged
  await put(photos, "usr/share/fake/b/grey.png", await greyPng(300, 300)); // grayscale
  await put(photos, "usr/share/fake/b/notes.txt", "not an image"); // extension does not match
  await put(photos, "usr/share/fake/b/photo.JPG", await jpeg(300, 300, 6)); // case matters: .JPG does not match
  await put(photos, "usr/share/fake/c/other.jpg", await jpeg(300, 300, 7)); // folder c is not in the glob
  await link(photos, "usr/share/fake/b/link.jpg", "../a/Excluded-One.jpg"); // symlink: never matched
  await link(photos, "usr/share/fake/linked", "a"); // symlinked folder: never followed
  await put(photos, "usr/share/doc/fake-common/copyright", DEP5);
  await link(photos, `usr/share/doc/${PHOTOS.pkg}/copyright`, "../fake-common/copyright");

  const walls = join(tmp, "extract", WALLPAPERS.pkg);
  for (const [i, name] of ["Lake", "Hill", "Forest"].entries()) {
    await put(walls, `usr/share/wallpapers/${name}/contents/images/1024x768.jpg`, await jpeg(512, 384, 10 + i));
  }
  await put(walls, `usr/share/doc/${WALLPAPERS.pkg}/copyright`, "Wallpapers are GPL-2+.\n");

  const faces = join(tmp, "extract", FACES.pkg);
  await put(faces, "usr/share/pixmaps/faces/face1.jpg", await jpeg(256, 256, 20)); // exactly the short side
  await put(faces, "usr/share/pixmaps/faces/face10.jpg", await jpeg(256, 256, 21)); // `?` is one character
  await link(faces, "usr/share/pixmaps/faces/face2.jpg", "face1.jpg"); // symlink: never matched
  await put(faces, "usr/share/doc/fake-common/copyright", "Faces: CC0-1.0\n");
  await link(faces, `usr/share/doc/${FACES.pkg}/copyright`, "/usr/share/doc/fake-common/copyright"); // absolute, inside the tree

  return [
    { spec: PHOTOS, version: "1.0-1", root: photos },
    { spec: WALLPAPERS, version: "2:5.27.5-2", root: walls },
    { spec: FACES, version: "0.1", root: faces },
  ];
}

/** Every file under dir (relative path -> sha256). */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    out[path.slice(dir.length + 1)] = createHash("sha256")
      .update(await readFile(path))
      .digest("hex");
  }
  return out;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "mgie-import-photos-"));
  packages = await makeTrees();
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/* ---- pure rules ----------------------------------------------------------------------------------------------- */

describe("globs", () => {
  it("expands {a,b} groups left to right, and rejects unbalanced or nested braces", () => {
    expect(expandBraces("plain.jpg")).toEqual(["plain.jpg"]);
    expect(expandBraces("{a,b}.jpg")).toEqual(["a.jpg", "b.jpg"]);
    expect(expandBraces("x{a,b}y{1,2}")).toEqual(["xay1", "xay2", "xby1", "xby2"]);
    expect(expandBraces("{a,}z")).toEqual(["az", "z"]);
    for (const bad of ["{a,b", "a,b}", "}{", "{a,{b}}"]) expect(() => expandBraces(bad), bad).toThrow(MgieError);
  });

  it("matches *, ? and braces within one path segment only", () => {
    expect(matchGlob("usr/*/x.jpg", "usr/share/x.jpg")).toBe(true);
    expect(matchGlob("usr/*/x.jpg", "usr/share/more/x.jpg")).toBe(false);
    expect(matchGlob("usr/*.jpg", "usr/a/b.jpg")).toBe(false);
    expect(matchGlob("scenetext0?.jpg", "scenetext01.jpg")).toBe(true);
    expect(matchGlob("scenetext0?.jpg", "scenetext010.jpg")).toBe(false);
    expect(matchGlob("a.jpg", "aXjpg")).toBe(false); // '.' is literal
    expect(matchGlob("{astronaut,coffee}.*", "coffee.png")).toBe(true);
    expect(matchGlob("{astronaut,coffee}.*", "camera.png")).toBe(false);
    expect(matchGlob("x+(1).jpg", "x+(1).jpg")).toBe(true); // regex characters are literal
    expect(matchGlob("*.jpg", "photo.JPG")).toBe(false); // case-sensitive, like the file system
  });

  it("finds regular files only, sorted, without following symlinked files or folders", async () => {
    const root = packages[0]!.root;
    expect(await glob(root, PHOTOS.globs[0]!)).toEqual([
      "usr/share/fake/a/Excluded-One.jpg",
      "usr/share/fake/a/Sunset_Beach.jpg",
      "usr/share/fake/a/wide.png",
      "usr/share/fake/b/copy.jpg",
      "usr/share/fake/b/grey.png",
      "usr/share/fake/b/small_ok.jpg",
      "usr/share/fake/b/tiny.jpg",
    ]);
    expect(await glob(root, "usr/share/fake/nowhere/*.jpg")).toEqual([]);
    expect(await glob(packages[2]!.root, FACES.globs[0]!)).toEqual(["usr/share/pixmaps/faces/face1.jpg"]);
  });
});

describe("names, exclusions and duplicates", () => {
  it("makes lower-case [a-z0-9_-] output names", () => {
    expect(outputName("Kleiber_by_Lukas_Baubkus")).toBe("kleiber_by_lukas_baubkus");
    expect(outputName("  Some Photo (1).final ")).toBe("some-photo-1-final");
    expect(() => outputName("...")).toThrow(/empty file name/);
    expect(outputNameFor(PHOTOS, "usr/share/fake/a/Sunset_Beach.jpg")).toBe("sunset_beach");
    expect(outputNameFor(WALLPAPERS, "usr/share/wallpapers/Lake/contents/images/1024x768.jpg")).toBe("lake");
    const plasma = PHOTO_PACKAGES.find((p) => p.pkg === "plasma-workspace-wallpapers")!;
    expect(outputNameFor(plasma, "usr/share/wallpapers/summer_1am/contents/images/2560x1600.jpg")).toBe("summer_1am");
  });

  it("leaves out excluded names, keeps the first of identical files, and refuses two files with one output name", () => {
    const files = [
      { source: "usr/share/fake/a/Excluded-One.jpg", sha256: "e" },
      { source: "usr/share/fake/a/Sunset_Beach.jpg", sha256: "s" },
      { source: "usr/share/fake/b/copy.jpg", sha256: "s" },
      { source: "usr/share/fake/b/other.jpg", sha256: "o" },
    ];
    expect(selectCandidates(PHOTOS, files)).toEqual({
      keep: [
        { source: "usr/share/fake/a/Sunset_Beach.jpg", name: "sunset_beach" },
        { source: "usr/share/fake/b/other.jpg", name: "other" },
      ],
      skipped: [
        { source: "usr/share/fake/a/Excluded-One.jpg", reason: "excluded" },
        { source: "usr/share/fake/b/copy.jpg", reason: "same bytes as usr/share/fake/a/Sunset_Beach.jpg" },
      ],
    });
    // an excluded file does not count as the first copy of its bytes
    expect(selectCandidates(PHOTOS, [files[0]!, { source: "x/excluded-copy.jpg", sha256: "e" }]).keep).toEqual([
      { source: "x/excluded-copy.jpg", name: "excluded-copy" },
    ]);
    expect(() =>
      selectCandidates(PHOTOS, [
        { source: "a/Same.jpg", sha256: "1" },
        { source: "b/same.png", sha256: "2" },
      ]),
    ).toThrow(/b\/same\.png and a\/Same\.jpg would both be written as same\.jpg/);
  });

  it("rejects originals by their short side and detects grey pixels", () => {
    expect(sizeRejection(300, 200)).toBeUndefined();
    expect(sizeRejection(1000, MIN_SOURCE_SHORT_SIDE - 1)).toBe(`1000x${MIN_SOURCE_SHORT_SIDE - 1} is below ${MIN_SOURCE_SHORT_SIDE} px on the short side`);
    expect(sizeRejection(2000, 1000, 1024)).toMatch(/below 1024 px/);
    expect(isGrey(new Uint8Array([5, 5, 5, 200, 200, 200]))).toBe(true);
    expect(isGrey(new Uint8Array([5, 5, 5, 200, 201, 200]))).toBe(false);
  });
});

describe("package table", () => {
  it("is valid: unique names, known splits, balanced braces", () => {
    expect(() => validatePackageSpecs(PHOTO_PACKAGES)).not.toThrow();
    expect(new Set(PHOTO_PACKAGES.map((p) => p.split))).toEqual(new Set(["train", "validation", "test"]));
  });

  it("rejects duplicate packages, unknown splits and broken globs", () => {
    expect(() => validatePackageSpecs([PHOTOS, { ...PHOTOS }])).toThrow(/listed twice/);
    expect(() => validatePackageSpecs([{ ...PHOTOS, split: "large" as never }])).toThrow(/split 'large'/);
    expect(() => validatePackageSpecs([{ ...PHOTOS, globs: ["usr/{a,b/x.jpg"] }])).toThrow(/unbalanced/);
    expect(() => validatePackageSpecs([{ ...PHOTOS, globs: [] }])).toThrow(/no globs/);
  });
});

describe("manifest, credits and splits", () => {
  const photo = (pkg: string, name: string): ManifestPhoto => ({
    file: `${pkg}/${name}.jpg`,
    package: pkg,
    source: `usr/share/x/${name}.jpg`,
    width: 341,
    height: 256,
    sha256: name,
  });
  const results: PackageResult[] = [
    { spec: WALLPAPERS, version: "2", photos: [photo("fake-wallpapers", "lake")], fileCredits: new Map() },
    {
      spec: FACES,
      version: "1",
      photos: [photo("fake-faces", "b"), photo("fake-faces", "a")],
      fileCredits: new Map([["fake-faces/a.jpg", "© Ann | Bob, CC0"]]),
    },
  ];

  it("sorts packages by name and photos by file, and records the short side", () => {
    const m = buildManifest(results, 1024);
    expect(m.format).toBe("mgie-photos-1");
    expect(m.shortSide).toBe(1024);
    expect(Object.keys(m.packages)).toEqual(["fake-faces", "fake-wallpapers"]);
    expect(m.packages["fake-faces"]).toEqual({ version: "1", licence: "CC0-1.0", split: "validation", copyright: "copyright/fake-faces.txt" });
    expect(m.photos.map((p) => p.file)).toEqual(["fake-faces/a.jpg", "fake-faces/b.jpg", "fake-wallpapers/lake.jpg"]);
    expect(buildManifest(results).shortSide).toBe(PHOTO_SHORT_SIDE);
  });

  it("counts photos per split by package", () => {
    expect(splitCounts(results)).toEqual({ train: 1, validation: 2, test: 0 });
  });

  it("takes per-file credits from the last DEP-5 stanza naming the file, never from wildcards", () => {
    const photos = [
      { ...photo("fake-photos", "sunset_beach"), source: "usr/share/fake/a/Sunset_Beach.jpg" },
      { ...photo("fake-photos", "other"), source: "usr/share/fake/b/other.jpg" },
    ];
    const credits = creditsFromCopyright(DEP5, photos);
    expect([...credits]).toEqual([["fake-photos/sunset_beach.jpg", "© 2020 Jane Doe; 2021 John Roe, CC-BY-4.0"]]);
    expect(creditsFromCopyright("Some free-form copyright text.\n", photos).size).toBe(0);
  });

  it("writes CREDITS.md with the short side, escaped pipes and per-file credits", () => {
    const md = creditsMarkdown(results, 512);
    expect(md).toContain("These 3 photographs");
    expect(md).toContain("short side is at most\n512 px. They are regenerated by `npm run import-photos`");
    expect(md).toContain("| fake-faces | 1 | CC0-1.0 | validation | 2 | b.jpg, a.jpg |");
    expect(md).toContain("Credit: fake wallpapers | with a pipe.");
    expect(md).toContain("| fake-faces/a.jpg | `usr/share/x/a.jpg` | © Ann \\| Bob, CC0 |");
    expect(md).toContain("| fake-faces/b.jpg | `usr/share/x/b.jpg` | as above |");
    expect(md.indexOf("## fake-faces 1")).toBeLessThan(md.indexOf("## fake-wallpapers 2"));
    expect(md.endsWith("\n")).toBe(true);
  });
});

/* ---- conversion of the fake package trees -------------------------------------------------------------------- */

describe("buildPhotoSet on fake extracted packages", () => {
  let out: string;
  let messages: string[];

  beforeAll(async () => {
    out = join(tmp, "out");
    await put(out, "README.txt", "kept: not the importer's");
    await put(out, "fake-photos/stale.jpg", "from an older import");
    messages = [];
    await buildPhotoSet(packages, { out, onProgress: (m) => messages.push(m) });
  });

  it("writes exactly the selected photos, the copyright files, manifest.json and CREDITS.md", async () => {
    expect(Object.keys(await tree(out)).sort()).toEqual([
      "CREDITS.md",
      "README.txt",
      "copyright/fake-faces.txt",
      "copyright/fake-photos.txt",
      "copyright/fake-wallpapers.txt",
      "fake-faces/face1.jpg",
      "fake-photos/small_ok.jpg",
      "fake-photos/sunset_beach.jpg",
      "fake-photos/wide.jpg",
      "fake-wallpapers/hill.jpg",
      "fake-wallpapers/lake.jpg",
      "manifest.json",
    ]);
    expect(await readFile(join(out, "copyright/fake-photos.txt"), "utf8")).toBe(DEP5);
    expect(await readFile(join(out, "copyright/fake-faces.txt"), "utf8")).toBe("Faces: CC0-1.0\n");
  });

  it("says why each matched file was skipped", () => {
    expect(messages).toEqual([
      "fake-photos: skipping usr/share/fake/b/copy.jpg: same bytes as usr/share/fake/a/Sunset_Beach.jpg",
      "fake-photos: skipping usr/share/fake/b/grey.png: grayscale (all three channels equal)",
      "fake-photos: skipping usr/share/fake/b/tiny.jpg: 240x180 is below 200 px on the short side",
      "fake-photos 1.0-1: 3 photos (test)",
      "fake-wallpapers 2:5.27.5-2: 2 photos (train)",
      "fake-faces 0.1: 1 photos (validation)",
    ]);
  });

  it("scales to the short side without enlarging, as sRGB JPEG, and records sizes and hashes", async () => {
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
    const expected: Record<string, [number, number]> = {
      "fake-faces/face1.jpg": [256, 256],
      "fake-photos/small_ok.jpg": [230, 210], // smaller than the short side: kept at its size
      "fake-photos/sunset_beach.jpg": [341, 256],
      "fake-photos/wide.jpg": [874, 256],
      "fake-wallpapers/hill.jpg": [341, 256],
      "fake-wallpapers/lake.jpg": [341, 256],
    };
    expect(manifest.photos.map((p: ManifestPhoto) => p.file)).toEqual(Object.keys(expected));
    for (const p of manifest.photos as ManifestPhoto[]) {
      const bytes = await readFile(join(out, p.file));
      const meta = await sharp(bytes).metadata();
      expect(meta.format, p.file).toBe("jpeg");
      expect(meta.space, p.file).toBe("srgb");
      expect(meta.channels, p.file).toBe(3);
      expect([meta.width, meta.height], p.file).toEqual(expected[p.file]);
      expect([p.width, p.height], p.file).toEqual(expected[p.file]);
      expect(Math.min(p.width, p.height) === PHOTO_SHORT_SIDE || p.file === "fake-photos/small_ok.jpg", p.file).toBe(true);
      expect(p.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    }
    const wide = manifest.photos.find((p: ManifestPhoto) => p.file === "fake-photos/wide.jpg");
    expect(wide.source).toBe("usr/share/fake/a/wide.png");
    // the half-transparent right side is flattened onto white: brighter than the opaque left side
    const { data, info } = await sharp(join(out, "fake-photos/wide.jpg")).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number) => data[(128 * info.width + x) * 3 + 2]!;
    expect(at(info.width - 10)).toBeGreaterThan(at(10) + 60);
  });

  it("writes the manifest that PhotoLibrary reads, with packages in their splits", async () => {
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
    expect(manifest.format).toBe("mgie-photos-1");
    expect(manifest.shortSide).toBe(PHOTO_SHORT_SIDE);
    expect(manifest.packages).toEqual({
      "fake-faces": { version: "0.1", licence: "CC0-1.0", split: "validation", copyright: "copyright/fake-faces.txt" },
      "fake-photos": { version: "1.0-1", licence: "CC-BY-4.0 / CC0-1.0", split: "test", copyright: "copyright/fake-photos.txt" },
      "fake-wallpapers": { version: "2:5.27.5-2", licence: "GPL-2+", split: "train", copyright: "copyright/fake-wallpapers.txt" },
    });
    const lib = await PhotoLibrary.load(out);
    expect(lib.photos("train").map((p) => p.file)).toEqual(["fake-wallpapers/hill.jpg", "fake-wallpapers/lake.jpg"]);
    expect(lib.photos("validation").map((p) => p.file)).toEqual(["fake-faces/face1.jpg"]);
    expect(lib.photos("test").map((p) => p.file)).toEqual(["fake-photos/small_ok.jpg", "fake-photos/sunset_beach.jpg", "fake-photos/wide.jpg"]);
  });

  it("credits each photo, with the per-file DEP-5 credit where there is one", async () => {
    const md = await readFile(join(out, "CREDITS.md"), "utf8");
    expect(md).toContain("These 6 photographs");
    expect(md).toContain("| fake-photos | 1.0-1 | CC-BY-4.0 / CC0-1.0 | test | 3 | small_ok.jpg, sunset_beach.jpg, wide.jpg |");
    expect(md).toContain("| fake-photos/sunset_beach.jpg | `usr/share/fake/a/Sunset_Beach.jpg` | © 2020 Jane Doe; 2021 John Roe, CC-BY-4.0 |");
    expect(md).toContain("| fake-photos/wide.jpg | `usr/share/fake/a/wide.png` | as above |");
    expect(md).toContain("| fake-wallpapers/lake.jpg | `usr/share/wallpapers/Lake/contents/images/1024x768.jpg` | as above |");
    for (const gone of ["excluded-one", "copy", "tiny", "grey", "link", "other", "photo", "forest", "face10", "face2", "notes"]) {
      expect(md, gone).not.toMatch(new RegExp(`[/ ]${gone}\\.jpg`));
    }
  });

  it("gives byte-identical output when run again, in place or into another folder", async () => {
    const first = await tree(out);
    await buildPhotoSet(packages, { out });
    expect(await tree(out)).toEqual(first);
    const other = join(tmp, "out-again");
    await buildPhotoSet(packages, { out: other });
    const { "README.txt": _readme, ...rest } = first;
    expect(await tree(other)).toEqual(rest);
  });

  it("takes the short side and the minimum source size as options", async () => {
    const big = join(tmp, "out-big");
    await buildPhotoSet(packages.slice(1, 2), { out: big, shortSide: 320, minSourceShortSide: 300 });
    const manifest = JSON.parse(await readFile(join(big, "manifest.json"), "utf8"));
    expect(manifest.shortSide).toBe(320);
    expect(manifest.photos.map((p: ManifestPhoto) => [p.file, p.width, p.height])).toEqual([
      ["fake-wallpapers/hill.jpg", 427, 320],
      ["fake-wallpapers/lake.jpg", 427, 320],
    ]);
    expect(await readFile(join(big, "CREDITS.md"), "utf8")).toContain("short side is at most\n320 px");
    await expect(buildPhotoSet(packages.slice(2), { out: big, minSourceShortSide: 300 })).rejects.toThrow("fake-faces: no photos selected");
  });
});

describe("conversion errors", () => {
  it("names the glob that matches nothing, a missing copyright file and an undecodable image", async () => {
    const out = join(tmp, "out-errors");
    const noMatch = { ...packages[1]!, spec: { ...WALLPAPERS, globs: [...WALLPAPERS.globs, "usr/share/wallpapers/*/contents/*.png"] } };
    await expect(buildPhotoSet([noMatch], { out })).rejects.toThrow("fake-wallpapers: nothing matches usr/share/wallpapers/*/contents/*.png");

    const root = join(tmp, "extract", "broken");
    await put(root, "usr/share/x/bad.jpg", "not a jpeg");
    const broken: ExtractedPackage = { spec: { ...FACES, pkg: "broken", globs: ["usr/share/x/*.jpg"] }, version: "1", root };
    await expect(buildPhotoSet([broken], { out })).rejects.toThrow("broken has no usr/share/doc/broken/copyright");
    await put(root, "usr/share/doc/broken/copyright", "x\n");
    const err = await buildPhotoSet([broken], { out }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MgieError);
    expect((err as MgieError).code).toBe("PHOTO_IMPORT");
    expect((err as MgieError).message).toMatch(/^broken: usr\/share\/x\/bad\.jpg: /);
  });

  it("convertImage reports too-small and grey originals instead of writing them", async () => {
    expect(await convertImage(await jpeg(199, 400, 1))).toEqual({ skip: "199x400 is below 200 px on the short side" });
    expect(await convertImage(await greyPng(256, 256))).toEqual({ skip: "grayscale (all three channels equal)" });
    const r = await convertImage(await png(300, 600, 2), { shortSide: 150 });
    expect("jpeg" in r && [r.width, r.height]).toEqual([150, 300]);
  });
});

/* ---- the large set: test only, not committed, checked against a source list ---------------------------------- */

describe("the large photo set", () => {
  it("is its own test-only set: packages disjoint from assets/photos, sizes and quality as documented", () => {
    validatePackageSpecs(LARGE_PHOTO_PACKAGES);
    expect(LARGE_PHOTO_PACKAGES.every((p) => p.split === "test")).toBe(true);
    const small = new Set(PHOTO_PACKAGES.map((p) => p.pkg));
    for (const p of LARGE_PHOTO_PACKAGES) expect(small.has(p.pkg), p.pkg).toBe(false);
    const large = PHOTO_SETS.large;
    expect(large.packages).toBe(LARGE_PHOTO_PACKAGES);
    expect([large.shortSide, large.minSourceShortSide, large.jpegQuality, large.splits, large.upscale]).toEqual([2048, 1024, 92, ["test"], false]);
    expect([large.out, large.sources]).toEqual([DEFAULT_LARGE_OUT, DEFAULT_LARGE_SOURCES]);
    expect(PHOTO_SETS.small).toMatchObject({ packages: PHOTO_PACKAGES, out: DEFAULT_OUT, shortSide: PHOTO_SHORT_SIDE, jpegQuality: 90 });
    expect(PHOTO_SETS.small.sources).toBeUndefined();
  });

  it("the committed source list matches the package table, the size rule and nothing of assets/photos", async () => {
    const list = parseSourceList(await readFile(join(DEFAULT_LARGE_SOURCES, "manifest.json"), "utf8"), "assets/photos-large/manifest.json");
    expect(list.splits).toEqual(["test"]);
    expect([list.shortSide, list.jpegQuality]).toEqual([2048, 92]);
    expect(Object.keys(list.packages).sort()).toEqual(LARGE_PHOTO_PACKAGES.map((p) => p.pkg).sort());
    expect(list.photos.length).toBeGreaterThanOrEqual(8);
    for (const p of list.photos) {
      const spec = LARGE_PHOTO_PACKAGES.find((s) => s.pkg === p.package)!;
      expect(
        spec.globs.some((g) => matchGlob(g, p.source)),
        p.file,
      ).toBe(true);
      expect(p.file).toBe(`${p.package}/${outputNameFor(spec, p.source)}.jpg`);
      expect(list.packages[p.package]!.version).toBe(p.version);
      expect(Math.min(p.sourceWidth, p.sourceHeight), p.file).toBeGreaterThanOrEqual(1024);
      // short side kept up to 2048, else downscaled to 2048 with the aspect kept
      const short = Math.min(p.width, p.height);
      expect(short, p.file).toBe(Math.min(2048, Math.min(p.sourceWidth, p.sourceHeight)));
      expect(Math.abs(p.width / p.height - p.sourceWidth / p.sourceHeight), p.file).toBeLessThan(0.002);
    }
    for (const pkg of Object.keys(list.packages)) {
      await expect(readFile(join(DEFAULT_LARGE_SOURCES, list.packages[pkg]!.copyright), "utf8")).resolves.toBeTruthy();
    }
    const shipped = JSON.parse(await readFile(join(DEFAULT_OUT, "manifest.json"), "utf8"));
    for (const pkg of Object.keys(list.packages)) expect(Object.keys(shipped.packages)).not.toContain(pkg);
    await expect(PhotoLibrary.load(DEFAULT_LARGE_SOURCES)).rejects.toThrow(/committed source list .* run 'npm run import-photos -- --set large'/);
  });

  const LARGE: PackageSpec = {
    pkg: "fake-large",
    licence: "CC-BY-SA-3.0",
    split: "test",
    globs: ["usr/share/large/*.{jpg,png}"],
    licenceFiles: ["usr/share/large/License"],
    fileCredits: { wide: "© Wide Author, CC-BY-SA-3.0" },
    credit: "fake large photos",
  };
  let root: string;
  let big: Buffer;
  const opts = (out: string) => ({
    out,
    shortSide: 300,
    minSourceShortSide: 250,
    jpegQuality: 92,
    splits: ["test" as const],
    upscale: false,
    recordSources: true,
    creditsIntro: largeCreditsIntro,
  });

  beforeAll(async () => {
    root = join(tmp, "extract", LARGE.pkg);
    big = await jpeg(480, 360, 31);
    await put(root, "usr/share/large/big.jpg", big); // downscaled to 400x300
    await put(root, "usr/share/large/wide.png", await png(520, 270, 32)); // kept at 520x270 (short side below 300)
    await put(root, "usr/share/large/thumbs/small.jpg", await jpeg(300, 240, 33)); // not matched (and below 250)
    await put(root, "usr/share/large/License", "Wallpapers: CC-BY-SA-3.0\n");
    await put(root, `usr/share/doc/${LARGE.pkg}/copyright`, "Files: *\nLicense: LGPL-2.1+\n");
  });

  it("records each original's sha256, bytes and size, and writes a test-only manifest that never upscales", async () => {
    const out = join(tmp, "large-out");
    const [r] = await buildPhotoSet([{ spec: LARGE, version: "1.0-1", root }], opts(out));
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
    expect(manifest.splits).toEqual(["test"]);
    expect(manifest.upscale).toBe(false);
    const b = manifest.photos.find((p: ManifestPhoto) => p.file === "fake-large/big.jpg");
    expect(b).toMatchObject({ width: 400, height: 300, sourceWidth: 480, sourceHeight: 360, sourceBytes: big.length });
    expect(b.sourceSha256).toBe(createHash("sha256").update(big).digest("hex"));
    expect(manifest.photos.map((p: ManifestPhoto) => [p.file, p.width, p.height])).toEqual([
      ["fake-large/big.jpg", 400, 300],
      ["fake-large/wide.jpg", 520, 270],
    ]);
    expect(r!.photos).toHaveLength(2);
    expect(await readFile(join(out, "copyright/fake-large.license.txt"), "utf8")).toBe("Wallpapers: CC-BY-SA-3.0\n");
    const md = await readFile(join(out, "CREDITS.md"), "utf8");
    expect(md).toContain("# Credits for the photographs of the large test set");
    expect(md).toContain("These 2 photographs are NOT in the repository");
    expect(md).toContain("[copyright/fake-large.license.txt](copyright/fake-large.license.txt)");
    expect(md).toContain("| fake-large/wide.jpg | `usr/share/large/wide.png` | © Wide Author, CC-BY-SA-3.0 |");
    expect(md).toContain("| fake-large/big.jpg | `usr/share/large/big.jpg` | as above |");

    const lib = await PhotoLibrary.load(out);
    expect(lib.splits).toEqual(["test"]);
    expect(lib.photos("test").map((p) => p.file)).toEqual(["fake-large/big.jpg", "fake-large/wide.jpg"]);
    expect(lib.photos("train")).toEqual([]);
    // res 280: only big.jpg (short side 300) is large enough, and no crop is smaller than the res
    for (let seed = 0; seed < 20; seed++) {
      const { image, ref } = await lib.crop(new Rng(seed), "test", 280);
      expect([image.width, image.height]).toEqual([280, 280]);
      expect(ref.photo).toBe("fake-large/big.jpg");
      expect(ref.size).toBeGreaterThanOrEqual(280);
      expect(ref.size).toBeLessThanOrEqual(300);
      expect(ref.x + ref.size).toBeLessThanOrEqual(400);
    }
    const used = new Set<string>();
    for (let seed = 0; seed < 20; seed++) used.add((await lib.crop(new Rng(seed), "test", 128)).ref.photo);
    expect([...used].sort()).toEqual(["fake-large/big.jpg", "fake-large/wide.jpg"]);
    const tooBig = await lib.crop(new Rng(1), "test", 301).catch((e: unknown) => e);
    expect(tooBig).toBeInstanceOf(InvalidArgumentError);
    expect((tooBig as Error).message).toContain("has a short side of 301 px or more (the largest has 300), and this set is never upscaled");
    const train = await lib.crop(new Rng(1), "train", 128).catch((e: unknown) => e);
    expect(train).toBeInstanceOf(InvalidArgumentError);
    expect((train as Error).message).toContain("has no train photos: it provides only the test split");
  });

  it("writes the source list, then accepts the same originals and refuses changed ones before writing anything", async () => {
    const out = join(tmp, "large-list-out");
    const results = await buildPhotoSet([{ spec: LARGE, version: "1.0-1", root }], opts(out));
    const dir = join(tmp, "large-sources");
    const list = await writeSourceList(results, { dir, out, shortSide: 300, jpegQuality: 92, splits: ["test"] });
    expect(Object.keys(await tree(dir)).sort()).toEqual(["CREDITS.md", "copyright/fake-large.license.txt", "copyright/fake-large.txt", "manifest.json"]);
    expect(await readFile(join(dir, "CREDITS.md"), "utf8")).toBe(await readFile(join(out, "CREDITS.md"), "utf8"));
    const parsed = parseSourceList(await readFile(join(dir, "manifest.json"), "utf8"), "x");
    expect(parsed).toEqual(list);
    expect(parsed.packages["fake-large"]).toEqual({
      version: "1.0-1",
      licence: "CC-BY-SA-3.0",
      split: "test",
      copyright: "copyright/fake-large.txt",
      licenceFiles: ["copyright/fake-large.license.txt"],
    });
    expect(parsed.photos[0]).toMatchObject({ file: "fake-large/big.jpg", version: "1.0-1", source: "usr/share/large/big.jpg", sourceBytes: big.length });

    // the same originals (at another .deb version): accepted, with a note
    const again = join(tmp, "large-again");
    const notes: string[] = [];
    await buildPhotoSet([{ spec: LARGE, version: "1.0-2", root }], { ...opts(again), sourceList: parsed, onProgress: (m) => notes.push(m) });
    expect(notes).toContain("fake-large: the archive has 1.0-2, the source list was made from 1.0-1; checking its files byte for byte");
    const first = await tree(out);
    const second = await tree(again);
    expect(second["fake-large/big.jpg"]).toBe(first["fake-large/big.jpg"]);

    // a changed original: a clear error, and nothing written
    const changed = join(tmp, "extract", "fake-large-changed");
    await cp(root, changed, { recursive: true });
    await put(changed, "usr/share/large/big.jpg", await jpeg(480, 360, 99));
    const refused = join(tmp, "large-refused");
    const err = await buildPhotoSet([{ spec: LARGE, version: "1.1-1", root: changed }], {
      ...opts(refused),
      sourceList: parsed,
      sourceListPath: "assets/photos-large/manifest.json",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MgieError);
    expect((err as MgieError).code).toBe("PHOTO_SOURCES_CHANGED");
    expect((err as MgieError).message).toContain("the originals do not match the source list assets/photos-large/manifest.json");
    expect((err as MgieError).message).toContain("fake-large 1.1-1: usr/share/large/big.jpg has changed: sha256 ");
    expect((err as MgieError).message).toContain("--update-sources");
    await expect(readdir(refused)).rejects.toThrow(/ENOENT/);
  });

  it("refuses to skip a selected original: a set with a source list lists its files exactly", async () => {
    const spec = { ...LARGE, globs: [...LARGE.globs, "usr/share/large/thumbs/*.jpg"] };
    await expect(buildPhotoSet([{ spec, version: "1", root }], opts(join(tmp, "large-skip")))).rejects.toThrow(
      "fake-large: usr/share/large/thumbs/small.jpg: 300x240 is below 250 px on the short side; a set with a source list converts every selected original",
    );
  });

  it("checkSources and checkConverted name every difference", () => {
    const list: SourceList = buildSourceList(
      [
        {
          spec: LARGE,
          version: "1",
          fileCredits: new Map(),
          photos: [
            {
              file: "fake-large/a.jpg",
              package: "fake-large",
              source: "s/a.jpg",
              width: 10,
              height: 20,
              sha256: "x",
              sourceSha256: "a".repeat(64),
              sourceBytes: 5,
              sourceWidth: 10,
              sourceHeight: 20,
            },
            {
              file: "fake-large/b.jpg",
              package: "fake-large",
              source: "s/b.png",
              width: 30,
              height: 20,
              sha256: "y",
              sourceSha256: "b".repeat(64),
              sourceBytes: 6,
              sourceWidth: 60,
              sourceHeight: 40,
            },
          ],
        },
      ],
      { shortSide: 20, jpegQuality: 92, splits: ["test"] },
    );
    const ok: ScannedSources = {
      pkg: "fake-large",
      version: "1",
      sources: [
        { source: "s/a.jpg", name: "a", sha256: "a".repeat(64), bytes: 5 },
        { source: "s/b.png", name: "b", sha256: "b".repeat(64), bytes: 6 },
      ],
    };
    expect(checkSources(list, [ok])).toEqual({ errors: [], notes: [] });
    const bad: ScannedSources = {
      pkg: "fake-large",
      version: "2",
      sources: [
        { source: "s/a.jpg", name: "a2", sha256: "a".repeat(64), bytes: 5 },
        { source: "s/c.jpg", name: "c", sha256: "c".repeat(64), bytes: 7 },
      ],
    };
    const { errors, notes } = checkSources(list, [bad, { pkg: "other", version: "1", sources: [] }]);
    expect(notes).toEqual(["fake-large: the archive has 2, the source list was made from 1; checking its files byte for byte"]);
    expect(errors).toEqual([
      "fake-large: s/a.jpg would be written as fake-large/a2.jpg, the source list says fake-large/a.jpg",
      "fake-large 2: s/c.jpg is selected but not in the source list",
      "fake-large 2: s/b.png (in the source list, version 1) is missing or no longer selected",
      "other is imported but not in the source list",
    ]);
    expect(checkSources(list, []).errors).toEqual(["fake-large is in the source list but not imported by this set"]);
    const photo = (file: string, width: number, height: number): ManifestPhoto => ({ file, package: "fake-large", source: "", width, height, sha256: "" });
    expect(checkConverted(list, [photo("fake-large/a.jpg", 10, 20), photo("fake-large/b.jpg", 30, 20)])).toEqual([]);
    expect(checkConverted(list, [photo("fake-large/a.jpg", 11, 20), photo("fake-large/z.jpg", 1, 1)])).toEqual([
      "fake-large/a.jpg converted to 11x20, the source list says 10x20",
      "fake-large/z.jpg was written but is not in the source list",
      "fake-large/b.jpg (in the source list) was not written: its original was skipped",
    ]);
    expect(() => parseSourceList('{"format":"mgie-photos-1"}', "m.json")).toThrow(/m\.json is not a photo source list \(mgie-photo-sources-1\)/);
    expect(() => parseSourceList("not json", "m.json")).toThrow(MgieError);
  });
});

/* ---- command line --------------------------------------------------------------------------------------------- */

describe("command line", () => {
  async function parse(args: string[]): Promise<CliOptions> {
    let got: CliOptions | undefined;
    const program = importPhotosProgram(async (o) => {
      got = o;
    }).exitOverride();
    await program.parseAsync(args, { from: "user" });
    return got!;
  }

  it("defaults to assets/photos and .cache/photos, the options of the former 'mgie data import-photos'", async () => {
    expect(DEFAULT_OUT).toBe(resolve("assets/photos"));
    expect(await parse([])).toEqual({ set: "small", out: DEFAULT_OUT, cacheDir: resolve(DEFAULT_CACHE_DIR), quiet: false, updateSources: false });
    expect(await parse(["--out", "x/photos", "--cache-dir", "y", "-q"])).toEqual({
      set: "small",
      out: resolve("x/photos"),
      cacheDir: resolve("y"),
      quiet: true,
      updateSources: false,
    });
    expect((await parse(["--cache", "z"])).cacheDir).toBe(resolve("z")); // the former option name still works
  });

  it("has --help and rejects unknown options", async () => {
    const help = importPhotosProgram(async () => {}).helpInformation();
    for (const opt of [
      "--set <name>",
      "--out <dir>",
      "--cache-dir <dir>",
      "--sources <dir>",
      "--update-sources",
      "--quiet",
      "--help",
      "npm run import-photos --",
    ]) {
      expect(help).toContain(opt);
    }
    const program = importPhotosProgram(async () => {})
      .exitOverride()
      .configureOutput({ writeErr: () => {} });
    await expect(program.parseAsync(["--bogus"], { from: "user" })).rejects.toThrow(/unknown option '--bogus'/);
  });

  it("--set large writes to data/photos-large and checks against assets/photos-large; --update-sources only there", async () => {
    expect(DEFAULT_LARGE_OUT).toBe(resolve("data/photos-large"));
    expect(DEFAULT_LARGE_SOURCES).toBe(resolve("assets/photos-large"));
    expect(LARGE_PHOTO_DIR).toBe(DEFAULT_LARGE_OUT);
    expect(await parse(["--set", "large"])).toEqual({
      set: "large",
      out: DEFAULT_LARGE_OUT,
      cacheDir: resolve(DEFAULT_CACHE_DIR),
      quiet: false,
      sources: DEFAULT_LARGE_SOURCES,
      updateSources: false,
    });
    expect(await parse(["--set", "large", "--out", "o", "--sources", "s", "--update-sources"])).toMatchObject({
      out: resolve("o"),
      sources: resolve("s"),
      updateSources: true,
    });
    await expect(parse(["--update-sources"])).rejects.toThrow("--sources and --update-sources are for a set with a source list (--set large), not --set small");
    const program = importPhotosProgram(async () => {})
      .exitOverride()
      .configureOutput({ writeErr: () => {} });
    await expect(program.parseAsync(["--set", "huge"], { from: "user" })).rejects.toThrow(/Allowed choices are small, large/);
  });
});
