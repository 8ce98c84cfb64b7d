import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { batchJobs, runBatch } from "../cli/batch.js";
import { readPhoto } from "../image/io.js";
import { MgieEditor } from "../pipeline/editor.js";

const PHOTOS = fileURLToPath(new URL("../../assets/photos", import.meta.url));

export interface BatchFolderOptions {
  model: string;
  /** Photos in the folder. */
  count: number;
  /** Their size (the model edits its 64×64 view; the output is full size). */
  width: number;
  height: number;
  /** Edits per batch in both runs. */
  batchSize: number;
  steps?: number;
  threads?: number;
  log: (line: string) => void;
}

/** The largest RSS seen while `f` runs, sampled every 50 ms. */
async function peakRss<T>(f: () => Promise<T>): Promise<{ value: T; peak: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  try {
    const value = await f();
    return { value, peak: Math.max(peak, process.memoryUsage().rss) };
  } finally {
    clearInterval(timer);
  }
}

/** `count` JPEGs of width×height made from the shipped photographs, in `dir`. */
async function makeFolder(dir: string, o: BatchFolderOptions): Promise<string[]> {
  const sources: string[] = [];
  for (const pkg of await readdir(PHOTOS, { withFileTypes: true })) {
    if (!pkg.isDirectory()) continue;
    for (const f of await readdir(join(PHOTOS, pkg.name))) if (/\.(jpe?g|png)$/i.test(f)) sources.push(join(PHOTOS, pkg.name, f));
  }
  sources.sort();
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < o.count; i++) {
    const file = join(dir, `${String(i).padStart(5, "0")}.jpg`);
    await sharp(sources[i % sources.length])
      .resize(o.width, o.height, { fit: "cover" })
      .jpeg({ quality: 90 })
      .toFile(file);
    files.push(file);
  }
  return files;
}

/**
 * A folder run (`mgie edit folder/ … -o out/`: decode, edit in batches, render full size, encode, write
 * atomically, report) against the in-process batch on the same photos decoded beforehand (`editBatch`,
 * full size, nothing written), side by side in one process: edits/s, their ratio and the peak memory.
 */
export async function batchFolderBenchmark(o: BatchFolderOptions): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "mgie-batch-folder-"));
  try {
    o.log(`making ${o.count} photos of ${o.width}x${o.height} in ${root}`);
    const files = await makeFolder(join(root, "in"), o);
    const editor = await MgieEditor.load(o.model, { threads: o.threads });
    const edit = { steps: o.steps, fullSize: true };
    // Warm-up: the first edit pays for ONNX Runtime's first runs. The folder run goes first, so that its
    // peak memory is its own (the in-process run holds every decoded photo).
    await editor.editBatch([{ image: files[0], instruction: "make it brighter" }], edit);

    o.log("folder run (decode, edit, encode, write, report)");
    const jobs = await batchJobs(join(root, "in"), { instruction: "make it brighter", outDir: join(root, "out") });
    const folder = await peakRss(async () => {
      const t0 = performance.now();
      const summary = await runBatch(editor, jobs, { edit, batchSize: o.batchSize, report: join(root, "report.jsonl") });
      if (summary.edited !== files.length) throw new Error(`the folder run edited ${summary.edited} of ${files.length} photos`);
      return (performance.now() - t0) / 1000;
    });

    o.log("in-process batch (photos decoded beforehand, nothing written)");
    const photos = await Promise.all(files.map(async (f) => (await readPhoto(f)).image));
    const inProcess = await peakRss(async () => {
      const t0 = performance.now();
      for (let i = 0; i < photos.length; i += o.batchSize) {
        await editor.editBatch(
          photos.slice(i, i + o.batchSize).map((image) => ({ image, instruction: "make it brighter" })),
          edit,
        );
      }
      return (performance.now() - t0) / 1000;
    });

    const rate = (secs: number) => files.length / secs;
    const mb = (b: number) => `${Math.round(b / 1e6)} MB`;
    return [
      `# Batch editing of a folder: ${o.count} photos of ${o.width}x${o.height}, batch ${o.batchSize}, steps ${o.steps ?? "model default"}`,
      "",
      "| run | edits/s | of the in-process batch | peak RSS |",
      "|---|---|---|---|",
      `| in-process batch (\`editBatch\`, decoded beforehand, nothing written) | ${rate(inProcess.value).toFixed(1)} | 100 % | ${mb(inProcess.peak)} |`,
      `| folder run (\`mgie edit folder/\`: decode, edit, encode, write, report) | ${rate(folder.value).toFixed(1)} | ${((100 * inProcess.value) / folder.value).toFixed(0)} % | ${mb(folder.peak)} |`,
      "",
      "Both in one process, one after the other, with the same model and threads; peak RSS is the process's while each run lasts.",
    ].join("\n");
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
