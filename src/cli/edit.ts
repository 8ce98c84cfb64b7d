import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename, dirname, extname, join, resolve } from "node:path";
import { Command, InvalidArgumentError as CommanderArgError } from "commander";
import { z } from "zod";
import { InvalidArgumentError } from "../errors.js";
import { encodeImage, formatFromPath, resizeImage } from "../image/io.js";
import type { RgbImage } from "../image/raster.js";
import { DEFAULT_MODEL_DIR, type EditResult, MgieEditor } from "../pipeline/editor.js";
import { addParamOptions, paramValues } from "./paramOptions.js";
import { wholeNumber } from "./parse.js";
import { progressBar } from "./progress.js";

const IMAGE_EXT = new Set([".png", ".jpg", ".jpeg", ".webp"]);

interface EditCliOptions {
  out?: string;
  model: string;
  size?: number;
  threads?: number;
  batchSize: number;
  json?: boolean;
}

const JobSchema = z.object({ image: z.string().min(1), instruction: z.string(), output: z.string().optional() });
type Job = { image: string; instruction: string; output: string };

async function save(img: RgbImage, path: string, size?: number): Promise<void> {
  const format = formatFromPath(path);
  await mkdir(dirname(resolve(path)), { recursive: true });
  const out = size && size !== img.width ? await resizeImage(img, size, size) : img;
  await writeFile(path, await encodeImage(out, format));
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
        output: job.output ? resolve(dirname(input), job.output) : join(outDir, `${basename(image, extname(image))}.png`),
      };
    });
  }
  if (instruction === undefined) throw new InvalidArgumentError("give the instruction to apply to every image of the folder");
  const files = (await readdir(input)).filter((f) => IMAGE_EXT.has(extname(f).toLowerCase())).sort();
  if (files.length === 0) throw new InvalidArgumentError(`${input} holds no .png, .jpg or .webp image`);
  return files.map((f) => ({ image: join(input, f), instruction, output: join(outDir, `${basename(f, extname(f))}.png`) }));
}

function report(r: EditResult, output: string, json: boolean | undefined): void {
  if (json) {
    console.log(JSON.stringify({ output, expressiveInstruction: r.expressiveInstruction, timingsMs: r.timings }));
    return;
  }
  console.log(`expressive instruction: ${r.expressiveInstruction}`);
  console.log(`wrote ${output}`);
  console.log(
    `timings: ${Object.entries(r.timings)
      .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
      .join(", ")}`,
  );
}

export function editCommand(): Command {
  const command = new Command("edit")
    .description("edit an image (or a folder, or a JSONL of {image, instruction, output}) by a plain instruction")
    .argument("<input>", "image file (PNG, JPEG, WebP), a folder of images, or a .jsonl file of jobs")
    .argument("[instruction]", 'what to change, e.g. "make it brighter" (for a .jsonl, each line has its own)')
    .option("-o, --out <path>", "output image (single edit; default <input>-edited.png) or output folder (batch; default ./edited)")
    .option("--model <dir>", "model directory", DEFAULT_MODEL_DIR);
  return addParamOptions(command, "edit")
    .option("--size <px>", "resize the output to this side (default: the model's resolution)", wholeNumber("--size", 8, 4096))
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
        const output = o.out ?? join(dirname(input), `${basename(input, extname(input))}-edited.png`);
        formatFromPath(output);
        let bar: ReturnType<typeof progressBar> | null = null;
        const onProgress = (p: { step?: number; steps?: number }) => {
          if (o.json || !p.step || !p.steps) return;
          bar ??= progressBar("diffusion", p.steps);
          bar.update(p.step);
        };
        const r = await editor.edit(input, instruction, { ...options, onProgress }).finally(() => bar?.stop());
        await save(r.image, output, o.size);
        report(r, output, o.json);
        return;
      }
      const jobs = await batchJobs(input, instruction, o.out ?? "edited");
      const bar = o.json ? null : progressBar("edits", jobs.length);
      try {
        for (let i = 0; i < jobs.length; i += o.batchSize) {
          const chunk = jobs.slice(i, i + o.batchSize);
          const results = await editor.editBatch(
            chunk.map((j) => ({ image: j.image, instruction: j.instruction })),
            options,
          );
          for (const [k, r] of results.entries()) {
            await save(r.image, chunk[k].output, o.size);
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
