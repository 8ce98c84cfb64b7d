import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import sharp from "sharp";
import { readPhoto, writeImage } from "../image/io.js";
import { MgieEditor } from "../pipeline/editor.js";

const run = promisify(execFile);
const CLI = fileURLToPath(new URL("../cli/main.js", import.meta.url));
const THIS = fileURLToPath(import.meta.url);

/** Photo sizes of the full-size benchmark, in megapixels (4:3). */
export const PHOTO_SIZES_MP = [1, 4, 12, 24];
const INSTRUCTION = "make it look like night";

interface SizeRun {
  decode: number;
  edit: number;
  write: number;
  total: number;
  peakMb: number;
}

/**
 * `mgie edit` of `photo` in a new process, `repeats` times, each to a new output file (as a one-shot edit
 * writes one): the median wall time and the median edit time the command reports (decode to result), in s.
 */
export async function timeColdEdits(model: string, photo: string, dir: string, repeats: number): Promise<{ wall: number; edit: number }> {
  const cold: { wall: number; edit: number }[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    const { stdout } = await run(process.execPath, [CLI, "edit", photo, INSTRUCTION, "-o", join(dir, `cold-${r}.jpg`), "--model", model, "--json"]);
    const wall = (performance.now() - t0) / 1000;
    cold.push({ wall, edit: (JSON.parse(stdout.trim().split("\n").pop()!) as { timingsMs: { total: number } }).timingsMs.total / 1000 });
  }
  return { wall: median(cold.map((c) => c.wall)), edit: median(cold.map((c) => c.edit)) };
}

/**
 * End to end at each photo size, in a fresh process per size (so that its peak memory is its own):
 * decode the JPEG, edit at full size, write the JPEG; after one warm-up edit of a small photo, as a
 * server or a batch runs. Then a cold one-shot `mgie edit` of a small photo, split into start-up
 * (process start, imports, model load) and the edit itself. Returns Markdown.
 */
export async function benchPhotoSizes(model: string, source: string, repeats: number, log: (line: string) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "mgie-bench-"));
  try {
    const out = [
      "## Full-size editing: seconds and peak memory by photo size",
      "",
      `One process per size: load the model, edit a small photo once (warm-up), then decode a JPEG, edit it at full size and write the JPEG (quality 92). Median of ${repeats} runs; peak memory is the process's maximum resident set.`,
      "",
      "| photo | decode s | edit s | write s | total s | peak memory MB |",
      "|---|---|---|---|---|---|",
    ];
    const small = join(dir, "small.jpg");
    await sharp(source).resize(400, 300, { fit: "fill" }).jpeg({ quality: 92 }).toFile(small);
    for (const mp of PHOTO_SIZES_MP) {
      const width = Math.round(Math.sqrt((mp * 1e6 * 4) / 3));
      const height = Math.round((width * 3) / 4);
      const input = join(dir, `${mp}mp.jpg`);
      await sharp(source, { limitInputPixels: false }).resize(width, height, { fit: "fill" }).jpeg({ quality: 92 }).toFile(input);
      log(`timing a ${mp} MP photo (${width}x${height})...`);
      const runs: SizeRun[] = [];
      for (let r = 0; r < repeats; r++) {
        const { stdout } = await run(process.execPath, [THIS, model, small, input, join(dir, "out.jpg")], { maxBuffer: 1 << 20 });
        runs.push(JSON.parse(stdout) as SizeRun);
      }
      const m = (k: keyof SizeRun) => median(runs.map((x) => x[k]));
      out.push(
        `| ${mp} MP (${width}x${height}) | ${m("decode").toFixed(2)} | ${m("edit").toFixed(2)} | ${m("write").toFixed(2)} | ${m("total").toFixed(2)} | ${m("peakMb").toFixed(0)} |`,
      );
    }
    log("timing cold one-shot edits...");
    const { wall, edit } = await timeColdEdits(model, small, dir, repeats);
    out.push(
      "",
      "## A cold one-shot `mgie edit`",
      "",
      `\`mgie edit\` of a 400x300 JPEG in a new process, median of ${repeats}: **${wall.toFixed(2)} s** wall, of which the edit (decode to result, as the edit reports it) ${edit.toFixed(2)} s and start-up, model loading and writing the result ${(wall - edit).toFixed(2)} s.`,
    );
    return out.join("\n");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The middle value (the upper one of an even count), as every table of `mgie bench` reports. */
export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The child: node photoSizes.js MODEL SMALL INPUT OUTPUT, printing one SizeRun as JSON. */
async function child([model, small, input, output]: string[]): Promise<void> {
  const editor = await MgieEditor.load(model);
  await editor.edit(small, INSTRUCTION);
  const t0 = performance.now();
  const photo = await readPhoto(input);
  const t1 = performance.now();
  const r = await editor.edit(photo.image, INSTRUCTION);
  const t2 = performance.now();
  await writeImage(r.image, output, { icc: photo.icc });
  const t3 = performance.now();
  const run: SizeRun = {
    decode: (t1 - t0) / 1000,
    edit: (t2 - t1) / 1000,
    write: (t3 - t2) / 1000,
    total: (t3 - t0) / 1000,
    peakMb: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(JSON.stringify(run));
}

if (process.argv[1] === THIS) await child(process.argv.slice(2));
