/**
 * Chooses the renderer's settings by measurement on the VALIDATION split (never the test split):
 * the colour grid's cells, bins and smoothness, and how the model sees a photo that is not square
 * (squash or pad), each scored by the full-size L1 of the renderer against the target.
 *
 *   npx tsx scripts/tune-renderer.ts [--limit 60] [--res 512]
 *
 * The validation split's photos are small (assets/photos, 256 px short side), so at 512 they are
 * upscaled; the large test photos are kept for the report (mgie eval --res 512).
 */
import { Command } from "commander";
import { DEFAULT_PHOTO_DIR } from "../src/data/photos.js";
import { type Aspect, evaluateFullSize } from "../src/eval/fullSize.js";
import type { ModelFit } from "../src/image/processor.js";
import { DEFAULT_MODEL_DIR } from "../src/pipeline/editor.js";
import { type ColorGridOptions, DEFAULT_COLOR_GRID } from "../src/render/colorGrid.js";

const o = new Command("tune-renderer")
  .option("--limit <n>", "validation examples per setting", (v) => Number.parseInt(v, 10), 60)
  .option("--res <px>", "side of the generated examples", (v) => Number.parseInt(v, 10), 512)
  .option("--model <dir>", "model", DEFAULT_MODEL_DIR)
  .option("--only <part>", "grid: the colour grid's settings; fit: squash or pad on non-square photos (default both)")
  .parse()
  .opts<{ limit: number; res: number; model: string; only?: "grid" | "fit" }>();

async function score(label: string, aspect: Aspect, fit: ModelFit, grid: ColorGridOptions): Promise<void> {
  const r = await evaluateFullSize({
    model: o.model,
    split: "validation",
    limit: o.limit,
    res: o.res,
    photoDir: DEFAULT_PHOTO_DIR,
    aspect,
    fit,
    grid,
    params: {},
    seed: 0,
  });
  const k = (name: string) => r.kinds[name];
  const cell = (name: string) => (k(name) ? `${k(name).renderer.l1.toFixed(4)} (${(k(name).renderer.l1 / k(name).bicubic.l1).toFixed(2)})` : "–");
  console.log(`| ${label} | ${aspect} | ${fit} | ${cell("all")} | ${cell("photoshop")} | ${cell("global")} | ${cell("local")} |`);
}

console.log(`Validation, first ${o.limit} examples at ${o.res}: renderer L1 (renderer / bicubic L1)`);
console.log("| setting | aspect | fit | all | photoshop | global | local |");
console.log("|---|---|---|---|---|---|---|");
for (const grid of o.only === "fit"
  ? []
  : [
      DEFAULT_COLOR_GRID,
      { ...DEFAULT_COLOR_GRID, cells: 4 },
      { ...DEFAULT_COLOR_GRID, cells: 16 },
      { ...DEFAULT_COLOR_GRID, bins: 4 },
      { ...DEFAULT_COLOR_GRID, bins: 16 },
      { ...DEFAULT_COLOR_GRID, smoothness: 0.05 },
      { ...DEFAULT_COLOR_GRID, smoothness: 5 },
    ]) {
  await score(`cells ${grid.cells}, bins ${grid.bins}, smoothness ${grid.smoothness}`, "1:1", "squash", grid);
}
for (const aspect of o.only === "grid" ? [] : (["4:3", "3:4", "2:1"] as const)) {
  for (const fit of ["squash", "pad"] as const) await score("default grid", aspect, fit, DEFAULT_COLOR_GRID);
}
