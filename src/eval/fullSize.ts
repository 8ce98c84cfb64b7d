import sharp from "sharp";
import type { EditParams } from "../core/params.js";
import type { EditExample, EditKind } from "../data/example.js";
import type { Split } from "../data/splits.js";
import { SynthEdit } from "../data/synthedit.js";
import type { ModelFit } from "../image/processor.js";
import { cropPixels, fromUint8, luma, type RgbImage, toUint8 } from "../image/raster.js";
import { MgieEditor } from "../pipeline/editor.js";
import type { ColorGridOptions } from "../render/colorGrid.js";
import { ORIENTATIONS, swapsSides } from "../render/orientation.js";
import { finiteMean, l1, maskedL1, psnr, ssim } from "./metrics.js";

/** The aspect ratios a full-size evaluation can crop its examples to (width:height). */
export const ASPECTS = { "1:1": 1, "4:3": 4 / 3, "3:4": 3 / 4, "2:1": 2 } as const;
export type Aspect = keyof typeof ASPECTS;

export interface FullSizeOptions {
  model: string;
  split: Split;
  limit: number;
  /** Side of the square SynthEdit examples are generated at, before any crop to `aspect`. */
  res: number;
  /** Folder of the photos to generate from (large ones, for res 512 and 1024). */
  photoDir?: string;
  aspect: Aspect;
  fit: ModelFit;
  /** The renderer's colour grid (default: DEFAULT_COLOR_GRID). */
  grid?: ColorGridOptions;
  params: Pick<EditParams, "steps" | "changeThreshold" | "regionThreshold">;
  seed: number;
  onProgress?: (done: number, total: number) => void;
}

/** Scores of one way of producing the full-size result. */
export interface WayScores {
  l1: number;
  ssim: number;
  psnr: number;
  /** Mean absolute Laplacian of the outputs over the targets' (1: as sharp as the targets), over the examples. */
  sharpness: number;
}

/** One example's scores, and the two Laplacians the sharpness ratio is made of. */
interface ExampleScores {
  l1: number;
  ssim: number;
  psnr: number;
  laplacian: number;
  targetLaplacian: number;
}

export interface KindResult {
  n: number;
  renderer: WayScores;
  bicubic: WayScores;
  input: WayScores;
  /** The model's own L1 at its resolution: its output against the target seen as the model sees it. */
  modelL1: number;
  /** Local edits: L1 outside the edit's mask, at full size (renderer) and at the model's resolution. */
  preservation?: { full: number; model: number };
  /** Flips and rotations: how many the model oriented right, and how many of those came out exactly the target. */
  geometric?: { n: number; right: number; exact: number };
}

export interface FullSizeReport {
  model: string;
  split: Split;
  limit: number;
  res: number;
  aspect: Aspect;
  fit: ModelFit;
  width: number;
  height: number;
  seconds: number;
  /** How many results had the size they should (the photo's, swapped by a quarter turn), of `limit`. */
  rightSize: number;
  kinds: Record<string, KindResult>;
}

/**
 * The full-size evaluation of the issue "Edit the photo itself": SynthEdit examples generated at
 * `res` (from large photos), centre-cropped to `aspect`; the model sees each photo at its own
 * resolution, and three full-size results are compared with the target at full size: the renderer,
 * plain bicubic upsampling of the model's output, and the unedited input.
 */
export async function evaluateFullSize(o: FullSizeOptions): Promise<FullSizeReport> {
  const editor = await MgieEditor.load(o.model, { fit: o.fit, grid: o.grid });
  const res = editor.manifest.resolution;
  const gen = await SynthEdit.create({ res: o.res, photoDir: o.photoDir, generator: "synthedit-1" });
  const [width, height] = cropSize(o.res, ASPECTS[o.aspect]);
  const rows: {
    kind: EditKind;
    op: string;
    renderer: ExampleScores;
    bicubic: ExampleScores;
    input: ExampleScores;
    modelL1: number;
    preservation: { full: number; model: number } | null;
    orientation: { right: boolean; exact: boolean } | null;
  }[] = [];
  const started = performance.now();
  let rightSize = 0;
  for (let i = 0; i < o.limit; i++) {
    const ex = cropExample(await gen.example(o.split, i), width, height);
    const r = await editor.edit(ex.input, ex.instruction, { ...o.params, seed: o.seed + i });
    const view = (await editor.processor.toModel(ex.target)).image;
    const bicubic = await upsample(r.modelImage, res, ex.target.width, ex.target.height, editor);
    const geometric = ORIENTATIONS.includes(ex.op as never) ? ex.op : null;
    const turned = r.orientation !== "identity" && swapsSides(ORIENTATIONS.indexOf(r.orientation));
    if (r.image.width === (turned ? ex.input.height : ex.input.width) && r.image.height === (turned ? ex.input.width : ex.input.height)) rightSize++;
    rows.push({
      kind: ex.kind,
      op: ex.op,
      renderer: scores(r.image, ex.target),
      bicubic: scores(bicubic, ex.target),
      input: scores(ex.input, ex.target),
      modelL1: l1(r.modelImage, view),
      preservation:
        ex.kind === "local" && r.image.width === ex.target.width
          ? { full: maskedL1(r.image, ex.target, ex.mask).outside, model: maskedL1(r.modelImage, view, await modelMask(ex, res, editor)).outside }
          : null,
      orientation: geometric ? { right: r.orientation === geometric, exact: r.orientation === geometric && l1(r.image, ex.target) === 0 } : null,
    });
    o.onProgress?.(i + 1, o.limit);
  }
  const kinds: Record<string, KindResult> = {};
  const ops = [...new Set(rows.map((r) => `${r.kind}/${r.op}`))].sort();
  for (const kind of ["all", "photoshop", "global", "local", ...ops]) {
    const rs = rows.filter((r) => kind === "all" || r.kind === kind || `${r.kind}/${r.op}` === kind);
    if (rs.length === 0) continue;
    const mean = (way: "renderer" | "bicubic" | "input"): WayScores => ({
      l1: finiteMean(rs.map((r) => r[way].l1)),
      ssim: finiteMean(rs.map((r) => r[way].ssim)),
      psnr: finiteMean(rs.map((r) => r[way].psnr)),
      sharpness: finiteMean(rs.map((r) => r[way].laplacian)) / finiteMean(rs.map((r) => r[way].targetLaplacian)),
    });
    const local = rs.filter((r) => r.preservation);
    const geo = rs.filter((r) => r.orientation);
    kinds[kind] = {
      n: rs.length,
      renderer: mean("renderer"),
      bicubic: mean("bicubic"),
      input: mean("input"),
      modelL1: finiteMean(rs.map((r) => r.modelL1)),
      ...(local.length
        ? { preservation: { full: finiteMean(local.map((r) => r.preservation!.full)), model: finiteMean(local.map((r) => r.preservation!.model)) } }
        : {}),
      ...(geo.length
        ? { geometric: { n: geo.length, right: geo.filter((r) => r.orientation!.right).length, exact: geo.filter((r) => r.orientation!.exact).length } }
        : {}),
    };
  }
  return {
    model: o.model,
    split: o.split,
    limit: o.limit,
    res: o.res,
    aspect: o.aspect,
    fit: o.fit,
    width,
    height,
    seconds: (performance.now() - started) / 1000,
    rightSize,
    kinds,
  };
}

/** The report as Markdown. */
export function fullSizeMarkdown(r: FullSizeReport): string {
  const f = (v: number, d = 4) => (Number.isFinite(v) ? v.toFixed(d) : "–");
  const lines = [
    `# mgie eval --res ${r.res}: ${r.split} split, first ${r.limit} examples, ${r.width}x${r.height} (${r.aspect}), the model's view: ${r.fit}`,
    "",
    `Model ${r.model}. Each example is generated at ${r.res}x${r.res} and centre-cropped to ${r.width}x${r.height}; the model sees it at its`,
    "own resolution and its edit is carried to full size three ways, each compared with the target at full size:",
    "the renderer (bilateral-grid colour transforms, exact orientation, residual, keep-the-input), plain bicubic",
    "upsampling of the model's output, and the unedited input. Model L1: the model's output against the target as the",
    "model sees it. Sharpness: mean absolute Laplacian of the outputs over the targets' (1: as sharp as the targets).",
    "",
    "| kind | n | way | L1 ↓ | SSIM ↑ | PSNR ↑ | sharpness | model L1 | renderer / bicubic L1 | renderer / model L1 |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  const byKind = Object.entries(r.kinds).filter(([kind]) => !kind.includes("/"));
  const byOp = Object.entries(r.kinds).filter(([kind]) => kind.includes("/"));
  for (const [kind, k] of byKind) {
    for (const way of ["renderer", "bicubic", "input"] as const) {
      const s = k[way];
      const first = way === "renderer";
      lines.push(
        `| ${first ? kind : ""} | ${first ? k.n : ""} | ${way} | ${f(s.l1)} | ${f(s.ssim, 3)} | ${f(s.psnr, 2)} | ${f(s.sharpness, 2)} | ${first ? f(k.modelL1) : ""} | ${first ? f(k.renderer.l1 / k.bicubic.l1, 2) : ""} | ${first ? f(k.renderer.l1 / k.modelL1, 2) : ""} |`,
      );
    }
  }
  lines.push(
    "",
    "Per operation (PSNR is capped at 100 dB, for results equal to the target):",
    "",
    "| operation | n | renderer L1 | bicubic L1 | input L1 | model L1 | renderer sharpness | bicubic sharpness |",
    "|---|---|---|---|---|---|---|---|",
    ...byOp.map(
      ([op, k]) =>
        `| ${op} | ${k.n} | ${f(k.renderer.l1)} | ${f(k.bicubic.l1)} | ${f(k.input.l1)} | ${f(k.modelL1)} | ${f(k.renderer.sharpness, 2)} | ${f(k.bicubic.sharpness, 2)} |`,
    ),
  );
  const local = r.kinds.local?.preservation;
  if (local)
    lines.push("", `Local edits, preservation L1 (outside the edit's mask): ${f(local.full)} at full size, ${f(local.model)} at the model's resolution.`);
  const geo = r.kinds.photoshop?.geometric;
  if (geo)
    lines.push(
      "",
      `Flips and rotations: the model chose the right orientation in ${geo.right} of ${geo.n}; ${geo.exact} of those came out exactly the target (L1 = 0).`,
    );
  lines.push(
    "",
    `Every result has the photo's size, swapped by a quarter turn: ${r.rightSize} of ${r.limit} (the others, if any, are left out of the means).`,
    "",
    `${r.seconds.toFixed(0)} s in all.`,
  );
  return lines.join("\n");
}

function cropSize(res: number, aspect: number): [number, number] {
  return aspect >= 1 ? [res, Math.round(res / aspect)] : [Math.round(res * aspect), res];
}

/** The centred crop of the example to width x height; the target of a quarter turn is cropped to height x width. */
function cropExample(ex: EditExample, width: number, height: number): EditExample {
  if (width === ex.input.width && height === ex.input.height) return ex;
  const turned = ORIENTATIONS.includes(ex.op as never) && swapsSides(ORIENTATIONS.indexOf(ex.op as never));
  const { width: w, height: h } = ex.input;
  const mask = cropPixels(ex.mask, w, 1, Math.floor((w - width) / 2), Math.floor((h - height) / 2), width, height);
  return { ...ex, input: cropImage(ex.input, width, height), target: turned ? cropImage(ex.target, height, width) : cropImage(ex.target, width, height), mask };
}

/** The centred width x height rectangle of an image. */
function cropImage(img: RgbImage, width: number, height: number): RgbImage {
  const data = cropPixels(img.data, img.width, 3, Math.floor((img.width - width) / 2), Math.floor((img.height - height) / 2), width, height);
  return { width, height, data };
}

/** The edit's mask as the model sees it: the mask as an image through the same view, thresholded at half. */
async function modelMask(ex: EditExample, res: number, editor: MgieEditor): Promise<Uint8Array> {
  const { width, height } = ex.target;
  const rgb = new Float32Array(width * height * 3);
  for (let p = 0; p < ex.mask.length; p++) rgb.fill(ex.mask[p], p * 3, p * 3 + 3);
  const seen = (await editor.processor.toModel({ width, height, data: rgb })).image;
  const out = new Uint8Array(res * res);
  for (let p = 0; p < out.length; p++) out[p] = seen.data[p * 3] >= 0.5 ? 1 : 0;
  return out;
}

/** Plain bicubic upsampling of the model's output to width x height (its view of the photo, cropped out of the square first). */
async function upsample(img: RgbImage, res: number, width: number, height: number, editor: MgieEditor): Promise<RgbImage> {
  const v = editor.processor.viewOf(width, height);
  const data = await sharp(toUint8(img), { raw: { width: res, height: res, channels: 3 } })
    .extract({ left: v.x, top: v.y, width: v.width, height: v.height })
    .resize(width, height, { kernel: "cubic", fit: "fill" })
    .raw()
    .toBuffer();
  return fromUint8(width, height, new Uint8Array(data));
}

function scores(out: RgbImage, target: RgbImage): ExampleScores {
  if (out.width !== target.width || out.height !== target.height) return { l1: NaN, ssim: NaN, psnr: NaN, laplacian: NaN, targetLaplacian: NaN };
  return {
    l1: l1(out, target),
    ssim: ssim(out, target),
    psnr: Math.min(psnr(out, target), 100),
    laplacian: laplacian(out),
    targetLaplacian: laplacian(target),
  };
}

/** Mean absolute 4-neighbour Laplacian of the luminance. */
export function laplacian(img: RgbImage): number {
  const { width: w, height: h, data } = img;
  const lum = new Float32Array(w * h);
  for (let p = 0; p < w * h; p++) lum[p] = luma(data[p * 3], data[p * 3 + 1], data[p * 3 + 2]);
  let s = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const p = y * w + x;
      s += Math.abs(4 * lum[p] - lum[p - 1] - lum[p + 1] - lum[p - w] - lum[p + w]);
    }
  }
  return s / Math.max(1, (w - 2) * (h - 2));
}
