import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename, dirname, extname, join, resolve } from "node:path";
import { Command, InvalidArgumentError as CommanderArgError } from "commander";
import { z } from "zod";
import { InvalidArgumentError } from "../errors.js";
import { encodeImage, formatFromPath } from "../image/io.js";
import { DEFAULT_MODEL_DIR, type EditResult, MgieEditor } from "../pipeline/editor.js";
import { addParamOptions, paramValues } from "./paramOptions.js";
import { wholeNumber } from "./parse.js";
import { progressBar } from "./progress.js";

const IMAGE_EXT = new Set([".png", ".jpg", ".jpeg", ".webp", ".gif", ".tif", ".tiff", ".avif", ".heic", ".heif"]);
const WRITABLE_EXT = new Set([".png", ".jpg", ".jpeg", ".webp"]);

interface EditCliOptions {
  out?: string;
  model: string;
  mask?: string;
  modelResolution?: boolean;
  quality?: number;
  threads?: number;
  batchSize: number;
  json?: boolean;
}

const JobSchema = z.object({ image: z.string().min(1), instruction: z.string(), output: z.string().optional(), mask: z.string().optional() });
type Job = { image: string; instruction: string; output: string; mask?: string };

/** The output's name for an input: the same name with `-edited` (or in `dir`), in the input's format where mgie writes it, else PNG. */
function outputFor(input: string, dir?: string, suffix = "-edited"): string {
  const ext = WRITABLE_EXT.has(extname(input).toLowerCase()) ? extname(input) : ".png";
  return join(dir ?? dirname(input), `${basename(input, extname(input))}${suffix}${ext}`);
}

async function save(r: EditResult, path: string, quality?: number): Promise<void> {
  const format = formatFromPath(path);
  await mkdir(dirname(resolve(path)), { recursive: true });
  await writeFile(path, await encodeImage(r.image, format, { quality, icc: r.icc }));
}

/** The jobs of a batch: every image in a folder with one instruction, or the lines of a JSONL file. */
async function batchJobs(input: string, instruction: string | undefined, outDir: string): Promise<Job[]> {
  if (input.endsWith(".jsonl")) {
    const lines = (await readFile(input, "utf8")).split("\n").filter((l) => l.trim().length > 0);
    return lines.map((line, i) => {
      let job: z.infer<typeof JobSchema>;
      try {
        job = JobSchema.parse(JSON.parse(line));
      } catch (e) {
        throw new InvalidArgumentError(
          `${input} line ${i + 1}: expected {"image": ..., "instruction": ..., "output"?: ...} (${(e as Error).message.split("\n")[0]})`,
        );
      }
      const image = resolve(dirname(input), job.image);
      return {
        image,
        instruction: job.instruction,
        output: job.output ? resolve(dirname(input), job.output) : outputFor(image, outDir, ""),
        ...(job.mask ? { mask: resolve(dirname(input), job.mask) } : {}),
      };
    });
  }
  if (instruction === undefined) throw new InvalidArgumentError("give the instruction to apply to every image of the folder");
  const files = (await readdir(input)).filter((f) => IMAGE_EXT.has(extname(f).toLowerCase())).sort();
  if (files.length === 0) throw new InvalidArgumentError(`${input} holds no image (${[...IMAGE_EXT].join(", ")})`);
  return files.map((f) => ({ image: join(input, f), instruction, output: outputFor(join(input, f), outDir, "") }));
}

function report(r: EditResult, output: string, json: boolean | undefined): void {
  if (json) {
    console.log(
      JSON.stringify({
        output,
        expressiveInstruction: r.expressiveInstruction,
        orientation: r.orientation,
        width: r.image.width,
        height: r.image.height,
        timingsMs: r.timings,
      }),
    );
    return;
  }
  console.log(`expressive instruction: ${r.expressiveInstruction}`);
  console.log(`wrote ${output} (${r.image.width}x${r.image.height})`);
  console.log(
    `timings: ${Object.entries(r.timings)
      .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
      .join(", ")}`,
  );
}

export function editCommand(): Command {
  const command = new Command("edit")
    .description("edit a photo (or a folder, or a JSONL of {image, instruction, output?, mask?}) by a plain instruction; the result has the photo's own size")
    .argument("<input>", "image file (JPEG, PNG, WebP, GIF, TIFF, AVIF/HEIF), a folder of images, or a .jsonl file of jobs")
    .argument("[instruction]", 'what to change, e.g. "make it brighter" (for a .jsonl, each line has its own)')
    .option(
      "-o, --out <path>",
      "output image, .png, .jpg or .webp (single edit; default <input>-edited with the input's format) or output folder (batch; default ./edited)",
    )
    .option("--model <dir>", "model directory", DEFAULT_MODEL_DIR)
    .option("--mask <image>", "confine the edit: white where it may act, black where the photo must stay exactly as it is (any size; resized to the photo)");
  return addParamOptions(command, "edit")
    .option("--model-resolution", "write the model's result at its own resolution instead of the photo's size")
    .option("--quality <q>", "JPEG or WebP quality of the output (default 92)", wholeNumber("--quality", 1, 100))
    .option("--threads <n>", "ONNX Runtime threads (default: one per core)", wholeNumber("--threads", 1, availableParallelism()))
    .option("--batch-size <n>", "images edited together in a batch job", wholeNumber("--batch-size", 1, 64), 4)
    .option("--json", "print one JSON object per edit instead of text")
    .action(async (input: string, instruction: string | undefined, o: EditCliOptions & Record<string, unknown>) => {
      const st = await stat(input).catch(() => null);
      if (!st) throw new InvalidArgumentError(`cannot read '${input}': no such file or folder`);
      const editor = await MgieEditor.load(o.model, { threads: o.threads });
      const options = paramValues(o, "edit");
      const single = st.isFile() && !input.endsWith(".jsonl");
      if (single) {
        if (instruction === undefined) throw new CommanderArgError('give the instruction, e.g. mgie edit photo.jpg "make it brighter"');
        const output = o.out ?? outputFor(input);
        formatFromPath(output);
        let bar: ReturnType<typeof progressBar> | null = null;
        const onProgress = (p: { step?: number; steps?: number }) => {
          if (o.json || !p.step || !p.steps) return;
          bar ??= progressBar("diffusion", p.steps);
          bar.update(p.step);
        };
        const r = await editor.edit(input, instruction, { ...options, fullSize: !o.modelResolution, mask: o.mask, onProgress }).finally(() => bar?.stop());
        await save(r, output, o.quality);
        report(r, output, o.json);
        return;
      }
      const jobs = await batchJobs(input, instruction, o.out ?? "edited");
      const bar = o.json ? null : progressBar("edits", jobs.length);
      try {
        for (let i = 0; i < jobs.length; i += o.batchSize) {
          const chunk = jobs.slice(i, i + o.batchSize);
          const results = await editor.editBatch(
            chunk.map((j) => ({ image: j.image, instruction: j.instruction, mask: j.mask })),
            { ...options, fullSize: !o.modelResolution },
          );
          for (const [k, r] of results.entries()) {
            await save(r, chunk[k].output, o.quality);
            if (o.json) report(r, chunk[k].output, true);
          }
          bar?.update(i + chunk.length);
        }
      } finally {
        bar?.stop();
      }
      if (!o.json) console.log(`edited ${jobs.length} images into ${o.out ?? "edited"}`);
    });
}
