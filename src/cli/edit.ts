import { constants, rmSync } from "node:fs";
import { access, mkdir, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Command, InvalidArgumentError as CommanderArgError } from "commander";
import { type EditParams, resolveEditParams } from "../core/params.js";
import { InvalidArgumentError, MgieError } from "../errors.js";
import { encodeImage, formatFromPath, type ImageFormat } from "../image/io.js";
import { modelDefaults } from "../models/modelDir.js";
import { DEFAULT_MODEL_DIR, type EditResult, MgieEditor } from "../pipeline/editor.js";
import { SUPPORTED_EDITS } from "../pipeline/unsupported.js";
import { batchJobs, EXIT_INTERRUPTED, EXIT_UNSUPPORTED, inFlightTemps, isGlob, outputFor, runBatch, summaryText, writeAtomic } from "./batch.js";
import { addParamOptions, paramValues } from "./paramOptions.js";
import { wholeNumber } from "./parse.js";
import { progressBar } from "./progress.js";

interface EditCliOptions {
  out?: string;
  model: string;
  mask?: string;
  modelResolution?: boolean;
  quality?: number;
  threads?: number;
  batchSize: number;
  json?: boolean;
  recursive?: boolean;
  suffix?: string;
  format?: ImageFormat;
  overwrite?: boolean;
  force?: boolean;
  report?: string;
}

async function save(r: EditResult, path: string, quality?: number): Promise<void> {
  const bytes = await encodeImage(r.image, formatFromPath(path), { quality, icc: r.icc });
  await writeAtomic(path, bytes).catch((cause: unknown) => {
    throw new MgieError("OUTPUT", `cannot write '${path}': ${reasonOf(cause)}; give another -o`, { cause });
  });
}

/** A file-system error in a few words (its code and path are in the message already). */
function reasonOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const words: Record<string, string> = {
    EACCES: "permission denied",
    EPERM: "not permitted",
    EROFS: "the file system is read-only",
    ENOTDIR: "a part of the path is a file, not a folder",
    EEXIST: "a part of the path is a file, not a folder",
    EISDIR: "it is a folder",
    ENOSPC: "the disk is full",
  };
  return (e.code && words[e.code]) ?? e.message;
}

/**
 * Refuses, before the model loads, an output that is the input, that exists (without --force), or
 * whose folder cannot be made or written: each in one line.
 */
async function checkOutput(output: string, input: string, force: boolean | undefined): Promise<void> {
  if (resolve(output) === resolve(input)) throw new InvalidArgumentError(`the output '${output}' is the input itself: give another -o`);
  const existing = await stat(output).catch(() => null);
  if (existing?.isDirectory()) throw new InvalidArgumentError(`the output '${output}' is a folder: give a file name such as ${join(output, "edited.png")}`);
  if (existing && !force) throw new InvalidArgumentError(`'${output}' exists: give another -o, or --force to overwrite it`);
  const dir = dirname(resolve(output));
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (cause) {
    throw new MgieError("OUTPUT", `cannot write '${output}': ${reasonOf(cause)}; give another -o`, { cause });
  }
}

function imageFormat(value: string): ImageFormat {
  const f = value.toLowerCase() === "jpg" ? "jpeg" : value.toLowerCase();
  if (f !== "png" && f !== "jpeg" && f !== "webp") throw new CommanderArgError("--format must be png, jpeg or webp");
  return f;
}

/** Runs a folder or JSONL batch; Ctrl-C stops it cleanly (no partial output) with status 130. */
async function runBatchCommand(editor: MgieEditor, input: string, instruction: string | undefined, o: EditCliOptions, options: EditParams): Promise<void> {
  if (o.mask !== undefined) throw new InvalidArgumentError('--mask is for a single photo; in a JSONL batch give each line its "mask"');
  // Bad parameters are the command's fault, not each input's: refuse them before anything is edited.
  resolveEditParams(modelDefaults(editor.manifest), options);
  const outDir = o.out ?? "edited";
  const jobs = await batchJobs(input, { instruction, outDir, recursive: o.recursive, suffix: o.suffix, format: o.format });
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      console.error("\nmgie: stopping after the edits in flight (Ctrl-C again to quit at once)");
      controller.abort();
      return;
    }
    for (const tmp of inFlightTemps) rmSync(tmp, { force: true });
    process.exit(EXIT_INTERRUPTED);
  };
  process.on("SIGINT", onSigint);
  const bar = o.json ? null : progressBar("edits", jobs.length);
  let summary: Awaited<ReturnType<typeof runBatch>>;
  try {
    summary = await runBatch(editor, jobs, {
      edit: { ...options, fullSize: !o.modelResolution },
      batchSize: o.batchSize,
      quality: o.quality,
      overwrite: o.overwrite,
      signal: controller.signal,
      report: o.report,
      onLine: (line) => {
        if (o.json) console.log(JSON.stringify(line));
        else if (line.status === "failed") console.error(`\nmgie: failed ${line.input}: ${line.error?.code}: ${line.error?.message}`);
      },
      onProgress: (done) => bar?.update(done),
    });
  } finally {
    bar?.stop();
    process.off("SIGINT", onSigint);
  }
  const text = summaryText(summary, input.endsWith(".jsonl") ? undefined : outDir);
  // With --json, stdout holds only the per-input lines.
  if (o.json) console.error(text);
  else console.log(text);
  process.exitCode = summary.exitCode;
}

/** A request the model cannot do: nothing is written, the reason and what mgie can do are printed, exit status 5. */
function refuse(r: EditResult, json: boolean | undefined): void {
  if (json) console.log(JSON.stringify({ unsupported: r.unsupported, expressiveInstruction: r.expressiveInstruction, confidence: r.confidence }));
  console.error(`mgie: not done: ${r.unsupported} (the model answered "${r.expressiveInstruction}"). Nothing was written.`);
  console.error(`mgie can edit: ${SUPPORTED_EDITS}.`);
  process.exitCode = EXIT_UNSUPPORTED;
}

function report(r: EditResult, output: string, json: boolean | undefined): void {
  if (json) {
    console.log(
      JSON.stringify({
        output,
        expressiveInstruction: r.expressiveInstruction,
        confidence: r.confidence,
        orientation: r.orientation,
        width: r.image.width,
        height: r.image.height,
        timingsMs: r.timings,
      }),
    );
    return;
  }
  console.log(`expressive instruction: ${r.expressiveInstruction}${r.confidence !== null ? ` (confidence ${r.confidence.toFixed(2)})` : ""}`);
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
    .argument("<input>", "image file (JPEG, PNG, WebP, GIF, TIFF, AVIF), a folder of images, a quoted glob ('shoot/**/*.jpg') or a .jsonl file of jobs")
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
    .option("--json", "print one JSON object per edit instead of text (batch: one line per input as it finishes, as in --report)")
    .option("-r, --recursive", "batch: the images of the folder's subfolders too; the output folder mirrors the input's tree")
    .option("--suffix <text>", "batch: appended to each output's base name (default none: the input's name)")
    .option(
      "--format <format>",
      "the outputs' format, png, jpeg or webp, where -o does not name a file (default: the input's format where mgie writes it, else png)",
      imageFormat,
    )
    .option("--force", "single edit: overwrite the output file if it exists (never the input)")
    .option("--overwrite", "batch: redo inputs whose output already exists (default: skip them, so an interrupted run resumes)")
    .option(
      "--report <file.jsonl>",
      "batch: write one JSON line per input: input, output, status (edited, skipped, failed), expressiveInstruction, timingsMs or error {code, message}",
    )
    .addHelpText(
      "after",
      `
A batch (a folder or a .jsonl) goes on past a bad input: it is reported (path, error code, message) and
skipped. Outputs are written atomically (a hidden temporary file, then a rename); a run again skips the
inputs whose output is already a complete image (--overwrite redoes them); Ctrl-C stops after the edits
in flight without leaving a partial file.

Exit status: 0 every input edited (or skipped as already done); 1 bad arguments; 2 a bug;
3 some inputs failed or were not supported (the others were edited); 4 none was edited; 5 a single
edit the model cannot do (nothing written); 130 interrupted (Ctrl-C).`,
    )
    .action(async (input: string, instruction: string | undefined, o: EditCliOptions & Record<string, unknown>) => {
      const st = isGlob(input) ? null : await stat(input).catch(() => null);
      if (!st && !isGlob(input)) throw new InvalidArgumentError(`cannot read '${input}': no such file or folder`);
      const single = st?.isFile() === true && !input.endsWith(".jsonl");
      // What can be checked without the model is checked before it loads.
      const output = single ? (o.out ?? outputFor(input, undefined, "-edited", o.format)) : "";
      if (single) {
        if (instruction === undefined) throw new CommanderArgError('give the instruction, e.g. mgie edit photo.jpg "make it brighter"');
        formatFromPath(output);
        await checkOutput(output, input, o.force);
      }
      const editor = await MgieEditor.load(o.model, { threads: o.threads });
      const options = paramValues(o, "edit");
      if (single && instruction !== undefined) {
        let bar: ReturnType<typeof progressBar> | null = null;
        const onProgress = (p: { step?: number; steps?: number }) => {
          if (o.json || !p.step || !p.steps) return;
          bar ??= progressBar("diffusion", p.steps);
          bar.update(p.step);
        };
        const r = await editor.edit(input, instruction, { ...options, fullSize: !o.modelResolution, mask: o.mask, onProgress }).finally(() => bar?.stop());
        if (r.unsupported !== null) {
          refuse(r, o.json);
          return;
        }
        await save(r, output, o.quality);
        report(r, output, o.json);
        return;
      }
      await runBatchCommand(editor, input, instruction, o, options);
    });
}
