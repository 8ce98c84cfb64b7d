import { appendFile, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, extname, join, relative, resolve } from "node:path";
import { glob } from "tinyglobby";
import { z } from "zod";
import { checkInstruction } from "../core/params.js";
import { InvalidArgumentError, MgieError } from "../errors.js";
import { encodeImage, formatFromPath, type ImageFormat, type Photo, readPhoto } from "../image/io.js";
import type { RgbImage } from "../image/raster.js";
import type { BatchOptions, EditResult, MgieEditor } from "../pipeline/editor.js";

/** Batch exit statuses (1 stays "bad arguments", 2 "a bug"). */
export const EXIT_OK = 0;
export const EXIT_SOME_FAILED = 3;
export const EXIT_ALL_FAILED = 4;
export const EXIT_INTERRUPTED = 130;
/** A single edit whose request the model cannot do: nothing written. */
export const EXIT_UNSUPPORTED = 5;

export const IMAGE_EXT = new Set([".png", ".jpg", ".jpeg", ".webp", ".gif", ".tif", ".tiff", ".avif", ".heic", ".heif"]);
const WRITABLE_EXT = new Set([".png", ".jpg", ".jpeg", ".webp"]);
const FORMAT_EXT: Record<ImageFormat, string> = { png: ".png", jpeg: ".jpg", webp: ".webp" };

/** One edit of a batch: the input, its instruction, where the result goes. `error`: the job itself is malformed (a bad JSONL line). */
export interface BatchJob {
  image: string;
  instruction: string;
  output: string;
  mask?: string;
  error?: { code: string; message: string };
}

/** One line of the report (and of --json): what became of one input. */
export interface BatchLine {
  input: string;
  output: string;
  status: "edited" | "skipped" | "failed" | "unsupported";
  expressiveInstruction?: string;
  /** How sure the model was of the expressive instruction (0-1; absent for InsPix2Pix). */
  confidence?: number;
  /** The flip or rotation the model applied ("identity" for none). */
  orientation?: string;
  width?: number;
  height?: number;
  timingsMs?: Record<string, number>;
  /** Why it was skipped, or why the model did not edit it (a request it cannot do). */
  reason?: string;
  /** Why it failed: the error's code (IMAGE_CORRUPT, IMAGE_EMPTY, ...) and message. */
  error?: { code: string; message: string };
}

export interface BatchSummary {
  total: number;
  edited: number;
  skipped: number;
  failed: number;
  /** Inputs whose request the model cannot do: left unedited, nothing written. */
  unsupported: number;
  /** Inputs not reached because the run was interrupted. */
  notDone: number;
  interrupted: boolean;
  seconds: number;
  /** 0: all edited or skipped; 3: some failed or not supported; 4: none edited; 130: interrupted. */
  exitCode: number;
}

export interface BatchRunOptions {
  /** The edit parameters, output size. */
  edit?: Omit<BatchOptions, "signal" | "onProgress">;
  /** Images edited together (default 4). */
  batchSize?: number;
  /** JPEG and WebP quality. */
  quality?: number;
  /** Redo inputs whose output already exists (default: skip them). */
  overwrite?: boolean;
  /** Stops the run: the chunk in flight is cancelled, results already computed are written, no partial file is left. */
  signal?: AbortSignal;
  /** A JSONL file: one BatchLine per input, appended as they finish. */
  report?: string;
  /** Called as each input finishes. */
  onLine?: (line: BatchLine) => void;
  /** Called as each input finishes, with the number finished so far. */
  onProgress?: (done: number, total: number) => void;
}

/** The output's name for an input: its base name with `suffix`, in `dir` (default beside it), in `format` or the input's where written, else PNG. */
export function outputFor(input: string, dir?: string, suffix = "-edited", format?: ImageFormat): string {
  const ext = format ? FORMAT_EXT[format] : WRITABLE_EXT.has(extname(input).toLowerCase()) ? extname(input) : ".png";
  return join(dir ?? dirname(input), `${basename(input, extname(input))}${suffix}${ext}`);
}

/** The image files of a folder, sorted; with `recursive`, of its subfolders too (but not of `exclude`, e.g. an output folder inside it). */
async function imagesIn(folder: string, recursive: boolean, exclude?: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.name.startsWith(".")) continue;
      if (e.isDirectory()) {
        if (recursive && (exclude === undefined || resolve(path) !== exclude)) await walk(path);
      } else if (IMAGE_EXT.has(extname(e.name).toLowerCase())) out.push(path);
    }
  };
  await walk(folder);
  return out;
}

/** Whether an input is a glob pattern rather than a path. */
export function isGlob(input: string): boolean {
  return /[*?[\]{}]/.test(input);
}

/** The fixed folder a glob starts from: its path up to the first segment with a wildcard. */
export function globRoot(pattern: string): string {
  const segments = pattern.split("/");
  const fixed = segments.slice(
    0,
    segments.findIndex((seg) => isGlob(seg)),
  );
  return fixed.length === 0 ? "." : fixed.join("/") || "/";
}

/** The images a glob matches, sorted, leaving out hidden files and anything under `exclude` (the output folder). */
async function imagesMatching(pattern: string, exclude: string): Promise<string[]> {
  const found = await glob(pattern, { absolute: true, onlyFiles: true, dot: false });
  return found
    .filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()) && !`${f}/`.startsWith(`${exclude}/`))
    .map((f) => relative(process.cwd(), f) || f)
    .sort();
}

const JobSchema = z.object({ image: z.string().min(1), instruction: z.string(), output: z.string().optional(), mask: z.string().optional() });

export interface JobListOptions {
  /** The instruction for every image of a folder. */
  instruction?: string;
  /** Output folder (default ./edited). */
  outDir?: string;
  recursive?: boolean;
  /** Appended to each output's base name (default none). */
  suffix?: string;
  /** Forces the outputs' format (default: the input's where written, else PNG). */
  format?: ImageFormat;
}

/**
 * The jobs of a batch: every image in a folder (with `recursive`, its subfolders, mirrored under the
 * output folder) with one instruction, or the lines of a JSONL file. A malformed JSONL line becomes a
 * job with an `error`, reported as failed, not the end of the run.
 */
export async function batchJobs(input: string, o: JobListOptions = {}): Promise<BatchJob[]> {
  const outDir = o.outDir ?? "edited";
  const suffix = o.suffix ?? "";
  if (input.endsWith(".jsonl")) {
    const lines = (await readFile(input, "utf8")).split("\n");
    const jobs: BatchJob[] = [];
    for (const [i, line] of lines.entries()) {
      if (line.trim().length === 0) continue;
      let job: z.infer<typeof JobSchema>;
      try {
        job = JobSchema.parse(JSON.parse(line));
      } catch (e) {
        const message = `${input} line ${i + 1}: expected {"image": ..., "instruction": ..., "output"?: ...} (${(e as Error).message.split("\n")[0]})`;
        jobs.push({ image: `${input}:${i + 1}`, instruction: "", output: "", error: { code: "INVALID_JOB", message } });
        continue;
      }
      const image = resolve(dirname(input), job.image);
      jobs.push({
        image,
        instruction: job.instruction,
        output: job.output ? resolve(dirname(input), job.output) : outputFor(image, outDir, suffix, o.format),
        ...(job.mask ? { mask: resolve(dirname(input), job.mask) } : {}),
      });
    }
    return jobs;
  }
  if (o.instruction === undefined) throw new InvalidArgumentError("give the instruction to apply to every image of the folder");
  // A glob ("shoot/**/*.jpg") mirrors the tree below its fixed part ("shoot"), as a folder mirrors its own.
  const root = isGlob(input) ? globRoot(input) : input;
  const files = isGlob(input) ? await imagesMatching(input, resolve(outDir)) : await imagesIn(input, o.recursive ?? false, resolve(outDir));
  if (files.length === 0) {
    const hint = isGlob(input) ? "; quote the pattern so that the shell does not expand it" : o.recursive ? "" : "; --recursive looks in subfolders";
    throw new InvalidArgumentError(`${input} ${isGlob(input) ? "matches" : "holds"} no image (${[...IMAGE_EXT].join(", ")})${hint}`);
  }
  const instruction = o.instruction;
  return files.map((f) => ({ image: f, instruction, output: outputFor(f, join(outDir, dirname(relative(root, f))), suffix, o.format) }));
}

/** The temporary name an output is written under before it is renamed into place: in the same folder, hidden, this process's. */
export function tempNameOf(output: string): string {
  return join(dirname(output), `.${basename(output)}.tmp-${process.pid}`);
}

/** Temporary files being written now (removed on a hard exit). */
export const inFlightTemps = new Set<string>();

/** Writes bytes to `path` atomically: a temporary file in the same folder, then a rename; never a partial file under `path`. */
export async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(resolve(path)), { recursive: true });
  const tmp = tempNameOf(path);
  inFlightTemps.add(tmp);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    inFlightTemps.delete(tmp);
  }
}

/** Whether `path` starts as a PNG, JPEG or WebP does (what mgie writes), complete or not. */
async function looksLikeImage(path: string): Promise<boolean> {
  const head = Buffer.alloc(12);
  const f = await open(path, "r").catch(() => null);
  if (!f) return false;
  await f.read(head, 0, 12, 0).finally(() => f.close());
  const ascii = (from: number, to: number) => head.subarray(from, to).toString("latin1");
  return ascii(0, 8) === "\x89PNG\r\n\x1a\n" || (head[0] === 0xff && head[1] === 0xd8) || (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP");
}

/** Whether `path` holds a complete image that decodes (an earlier run's output). */
async function isCompleteImage(path: string): Promise<boolean> {
  try {
    await readPhoto(path);
    return true;
  } catch {
    return false;
  }
}

function errorOf(e: unknown): { code: string; message: string } {
  if (e instanceof MgieError) return { code: e.code, message: e.message };
  const err = e as NodeJS.ErrnoException;
  return { code: typeof err?.code === "string" ? err.code : "EDIT_FAILED", message: err instanceof Error ? err.message.split("\n")[0] : String(e) };
}

const isAbort = (e: unknown): boolean => e instanceof MgieError && e.code === "ABORTED";

interface Ready {
  job: BatchJob;
  photo: Photo;
  mask?: RgbImage;
  format: ImageFormat;
}

/**
 * Edits a batch of jobs so that a bad input costs only itself: each input (and mask) is read and
 * checked first, the good ones are edited together in chunks, and a chunk whose edit still fails is
 * retried one by one. Outputs are written atomically; inputs whose output is already a complete image
 * are skipped unless `overwrite`. Every input gets one BatchLine (onLine, and the report file).
 */
export async function runBatch(editor: MgieEditor, jobs: readonly BatchJob[], options: BatchRunOptions = {}): Promise<BatchSummary> {
  const started = performance.now();
  const batchSize = options.batchSize ?? 4;
  const signal = options.signal;
  const counts = { edited: 0, skipped: 0, failed: 0, unsupported: 0 };
  let done = 0;
  if (options.report) {
    await mkdir(dirname(resolve(options.report)), { recursive: true });
    await writeFile(options.report, "");
  }
  const emit = async (line: BatchLine): Promise<void> => {
    counts[line.status]++;
    done++;
    if (options.report) await appendFile(options.report, `${JSON.stringify(line)}\n`);
    options.onLine?.(line);
    options.onProgress?.(done, jobs.length);
  };
  const fail = (job: BatchJob, e: unknown) => emit({ input: job.image, output: job.output, status: "failed", error: errorOf(e) });

  /** The outputs of this run so far: two inputs never write the same file. */
  const claimed = new Map<string, string>();
  /** Reads and checks one job: null once it has been reported (skipped or failed). */
  const prepare = async (job: BatchJob): Promise<Ready | null> => {
    if (job.error) {
      await emit({ input: job.image, output: job.output, status: "failed", error: job.error });
      return null;
    }
    try {
      if (resolve(job.output) === resolve(job.image)) {
        throw new InvalidArgumentError(`the output '${job.output}' is the input itself: give another output folder (-o), a --suffix or a --format`);
      }
      const format = formatFromPath(job.output);
      const owner = claimed.get(resolve(job.output));
      if (owner !== undefined) {
        throw new MgieError("OUTPUT_CONFLICT", `the output '${job.output}' is already the output of '${owner}': give this input another output name`);
      }
      claimed.set(resolve(job.output), job.image);
      if (!options.overwrite && (await isCompleteImage(job.output))) {
        await emit({ input: job.image, output: job.output, status: "skipped", reason: "the output exists (--overwrite redoes it)" });
        return null;
      }
      // A broken image there (an earlier output cut short) is redone; some other file is never overwritten without --overwrite.
      if (!options.overwrite && (await stat(job.output).catch(() => null)) && !(await looksLikeImage(job.output))) {
        throw new MgieError("OUTPUT_EXISTS", `'${job.output}' exists and is not an image: move it away, or give --overwrite to replace it`);
      }
      checkInstruction(job.instruction);
      const photo = await readPhoto(job.image);
      let mask: RgbImage | undefined;
      if (job.mask !== undefined) {
        try {
          mask = (await readPhoto(job.mask)).image;
        } catch (e) {
          if (e instanceof MgieError) throw new MgieError(e.code, `mask: ${e.message}`);
          throw e;
        }
      }
      return { job, photo, mask, format };
    } catch (e) {
      await fail(job, e);
      return null;
    }
  };

  const save = async (item: Ready, r: EditResult): Promise<void> => {
    if (r.unsupported !== null) {
      await emit({
        input: item.job.image,
        output: item.job.output,
        status: "unsupported",
        expressiveInstruction: r.expressiveInstruction,
        ...(r.confidence !== null ? { confidence: r.confidence } : {}),
        reason: r.unsupported,
      });
      return;
    }
    try {
      await writeAtomic(item.job.output, await encodeImage(r.image, item.format, { quality: options.quality, icc: item.photo.icc }));
    } catch (e) {
      await fail(item.job, e);
      return;
    }
    await emit({
      input: item.job.image,
      output: item.job.output,
      status: "edited",
      expressiveInstruction: r.expressiveInstruction,
      ...(r.confidence !== null ? { confidence: r.confidence } : {}),
      orientation: r.orientation,
      width: r.image.width,
      height: r.image.height,
      timingsMs: Object.fromEntries(Object.entries(r.timings).map(([k, v]) => [k, Math.round(v * 10) / 10])),
    });
  };

  const edit = (items: readonly Ready[]) =>
    editor.editBatch(
      items.map((it) => ({ image: it.photo.image, instruction: it.job.instruction, mask: it.mask })),
      { ...options.edit, signal },
    );

  let interrupted = false;
  for (let i = 0; i < jobs.length && !interrupted; i += batchSize) {
    if (signal?.aborted) {
      interrupted = true;
      break;
    }
    const ready: Ready[] = [];
    for (const job of jobs.slice(i, i + batchSize)) {
      const r = await prepare(job);
      if (r) ready.push(r);
    }
    if (ready.length > 0) {
      try {
        const results = await edit(ready);
        for (const [k, r] of results.entries()) await save(ready[k], r);
      } catch (e) {
        if (isAbort(e)) interrupted = true;
        else if (ready.length === 1) await fail(ready[0].job, e);
        else {
          // Something in the chunk broke the batch: one by one, so only the bad one fails.
          for (const item of ready) {
            try {
              await save(item, (await edit([item]))[0]);
            } catch (e1) {
              if (isAbort(e1)) {
                interrupted = true;
                break;
              }
              await fail(item.job, e1);
            }
          }
        }
      }
    }
  }
  const total = jobs.length;
  const notEdited = counts.failed + counts.unsupported;
  const exitCode = interrupted ? EXIT_INTERRUPTED : notEdited === 0 ? EXIT_OK : counts.edited + counts.skipped === 0 ? EXIT_ALL_FAILED : EXIT_SOME_FAILED;
  return { total, ...counts, notDone: total - done, interrupted, seconds: (performance.now() - started) / 1000, exitCode };
}

/** "edited 5 images, skipped 2 (already done), failed 1 of 8 in 3.2 s (1.6 edits/s)". */
export function summaryText(s: BatchSummary, outDir?: string): string {
  const rate = s.seconds > 0 ? (s.edited / s.seconds).toFixed(1) : "0.0";
  const parts = [`edited ${s.edited} images`, `skipped ${s.skipped} (already done)`, `failed ${s.failed}`];
  if (s.unsupported > 0) parts.push(`not supported ${s.unsupported} (left as they were)`);
  const where = outDir ? ` into ${outDir}` : "";
  const stopped = s.interrupted ? `; interrupted, ${s.notDone} not done (run the same command again to finish)` : "";
  return `${parts.join(", ")} of ${s.total} in ${s.seconds.toFixed(1)} s (${rate} edits/s)${where}${stopped}`;
}
