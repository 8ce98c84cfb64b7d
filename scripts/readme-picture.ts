/**
 * The README's first picture: full-size edits of real photographs by the shipped model, before |
 * after, each edited at its own size and shown scaled down side by side with the instruction, the
 * expressive instruction the model derived and the photo's size.
 *
 *   npx tsx scripts/readme-picture.ts [-o docs/full-size-edits.png]
 *
 * The photos are test-split or large test photos (never trained on): run
 * `npm run import-photos -- --set large` first for the large ones.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import sharp, { type OverlayOptions } from "sharp";
import { DEFAULT_PHOTO_DIR, LARGE_PHOTO_DIR } from "../src/data/photos.js";
import { readPhoto } from "../src/image/io.js";
import { toUint8 } from "../src/image/raster.js";
import { MgieEditor } from "../src/pipeline/editor.js";

const EDITS: [string, string][] = [
  [join(LARGE_PHOTO_DIR, "sddm-theme-maldives/maldives.jpg"), "make it look like night"],
  [join(LARGE_PHOTO_DIR, "lxqt-themes/appleflower.jpg"), "add a blue tint"],
  [join(DEFAULT_PHOTO_DIR, "darknet/dog.jpg"), "flip it horizontally"],
  [join(LARGE_PHOTO_DIR, "digikam-data/lake-hill.jpg"), "make it a lot brighter"],
];
const HEIGHT = 260;
const CAPTION = 44;
const GAP = 8;

const o = new Command("readme-picture")
  .option("-o, --out <file>", "the picture", fileURLToPath(new URL("../docs/full-size-edits.png", import.meta.url)))
  .parse()
  .opts<{ out: string }>();

const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const editor = await MgieEditor.load();
const rows: { input: Buffer; output: Buffer; width: number; caption: string }[] = [];
for (const [path, instruction] of EDITS) {
  const photo = await readPhoto(path);
  const r = await editor.edit(photo.image, instruction);
  const scaled = async (img: typeof r.image) =>
    sharp(toUint8(img), { raw: { width: img.width, height: img.height, channels: 3 } })
      .resize({ height: HEIGHT })
      .png()
      .toBuffer({ resolveWithObject: true });
  const input = await scaled(photo.image);
  const output = await scaled(r.image);
  rows.push({
    input: input.data,
    output: output.data,
    width: input.info.width,
    caption: `“${instruction}” → ${r.expressiveInstruction} · ${photo.width}×${photo.height} in, ${r.image.width}×${r.image.height} out`,
  });
  console.log(`${path}: ${r.expressiveInstruction} (${r.image.width}x${r.image.height}, ${r.timings.total.toFixed(0)} ms)`);
}
const width = Math.max(...rows.map((r) => 2 * r.width + GAP));
const height = rows.length * (HEIGHT + CAPTION);
const layers: OverlayOptions[] = [];
rows.forEach((r, i) => {
  const top = i * (HEIGHT + CAPTION);
  layers.push({ input: r.input, left: 0, top }, { input: r.output, left: r.width + GAP, top });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${CAPTION}"><text x="4" y="26" font-family="DejaVu Sans" font-size="15" fill="#222">${xml(r.caption)}</text></svg>`;
  layers.push({ input: Buffer.from(svg), left: 0, top: top + HEIGHT });
});
await sharp({ create: { width, height, channels: 3, background: "white" } })
  .composite(layers)
  .png()
  .toFile(o.out);
console.log(`wrote ${o.out} (${width}x${height})`);
