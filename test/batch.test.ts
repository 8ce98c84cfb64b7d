import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchFolderBenchmark } from "../src/bench/batchFolder.js";
import {
  type BatchLine,
  type BatchRunOptions,
  batchJobs,
  EXIT_ALL_FAILED,
  EXIT_INTERRUPTED,
  EXIT_OK,
  EXIT_SOME_FAILED,
  globRoot,
  runBatch,
  tempNameOf,
} from "../src/cli/batch.js";
import type { EditItem } from "../src/pipeline/editor.js";
import { MgieEditor } from "../src/pipeline/editor.js";

const TINY = fileURLToPath(new URL("./fixtures/tiny-model", import.meta.url));
const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const exec = promisify(execFile);

let root: string;
let editor: MgieEditor;
const GOOD = ["a.jpg", "b.png", "c.webp", "d.jpg", "e.png"];
const BAD: Record<string, string> = { "cut.jpg": "IMAGE_CORRUPT", "notes.jpg": "IMAGE_UNREADABLE", "empty.png": "IMAGE_EMPTY" };

/** A folder of small images, three bad files among them (sorted in between the good ones). */
async function photoFolder(name: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [i, f] of GOOD.entries()) {
    const img = sharp({ create: { width: 24 + i * 4, height: 20 + i * 2, channels: 3, background: { r: 40 * i, g: 120, b: 200 - 30 * i } } });
    const ext = f.split(".")[1];
    await writeFile(join(dir, f), await (ext === "jpg" ? img.jpeg() : ext === "png" ? img.png() : img.webp()).toBuffer());
  }
  const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#808080" } })
    .jpeg()
    .toBuffer();
  await writeFile(join(dir, "cut.jpg"), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  await writeFile(join(dir, "notes.jpg"), "these are not the pixels you are looking for\n");
  await writeFile(join(dir, "empty.png"), "");
  return dir;
}

const settings = (extra: BatchRunOptions = {}): BatchRunOptions => ({ edit: { steps: 1, seed: 0 }, batchSize: 2, ...extra });

async function filesUnder(dir: string): Promise<string[]> {
  return ((await readdir(dir, { recursive: true })) as string[]).sort();
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mgie-batch-"));
  editor = await MgieEditor.load(TINY, { threads: 1 });
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe("batch editing", () => {
  it("edits the good inputs, reports the bad ones with their codes, and resumes", async () => {
    const input = await photoFolder("run");
    const out = join(root, "run-out");
    const report = join(root, "run-report.jsonl");
    const jobs = await batchJobs(input, { instruction: "make it brighter", outDir: out });
    expect(jobs).toHaveLength(8);
    const lines: BatchLine[] = [];
    const s = await runBatch(editor, jobs, settings({ report, onLine: (l) => lines.push(l) }));
    expect([s.edited, s.skipped, s.failed, s.exitCode]).toEqual([5, 0, 3, EXIT_SOME_FAILED]);
    // Every output under the input's name and format; nothing else (no temporary file) in the folder.
    expect(await filesUnder(out)).toEqual(GOOD);
    for (const f of GOOD) expect((await sharp(join(out, f)).metadata()).format).toBe(f.endsWith("jpg") ? "jpeg" : f.split(".")[1]);
    const reported = (await readFile(report, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as BatchLine);
    expect(reported).toEqual(lines);
    expect(reported).toHaveLength(8);
    for (const [f, code] of Object.entries(BAD)) {
      const line = reported.find((l) => l.input === join(input, f));
      expect(line?.status, f).toBe("failed");
      expect(line?.error?.code, f).toBe(code);
      expect(line?.error?.message).toContain(f);
    }
    const edited = reported.find((l) => l.input === join(input, "a.jpg"));
    expect(edited).toMatchObject({ output: join(out, "a.jpg"), status: "edited", width: 24, height: 20, orientation: "identity" });
    expect(typeof edited?.expressiveInstruction).toBe("string");
    expect(edited?.timingsMs?.total).toBeGreaterThan(0);

    // Again: the done ones are skipped, the bad ones fail again.
    const before = (await stat(join(out, "a.jpg"))).mtimeMs;
    const again = await runBatch(editor, jobs, settings({ report }));
    expect([again.edited, again.skipped, again.failed, again.exitCode]).toEqual([0, 5, 3, EXIT_SOME_FAILED]);
    expect((await stat(join(out, "a.jpg"))).mtimeMs).toBe(before);
    // An output that is not a complete image is redone.
    const b = await readFile(join(out, "b.png"));
    await writeFile(join(out, "b.png"), b.subarray(0, 20));
    const repair = await runBatch(editor, jobs, settings());
    expect([repair.edited, repair.skipped]).toEqual([1, 4]);
    expect((await sharp(join(out, "b.png")).metadata()).format).toBe("png");
    // --overwrite redoes them all.
    const redo = await runBatch(editor, jobs, settings({ overwrite: true }));
    expect([redo.edited, redo.skipped, redo.failed]).toEqual([5, 0, 3]);
    expect(await filesUnder(out)).toEqual(GOOD);
  });

  it("exits 0 when everything is edited or skipped, 4 when everything fails", async () => {
    const input = await photoFolder("codes");
    const out = join(root, "codes-out");
    const jobs = await batchJobs(input, { instruction: "add a blue tint", outDir: out });
    const good = jobs.filter((j) => GOOD.some((f) => j.image.endsWith(f)));
    expect((await runBatch(editor, good, settings())).exitCode).toBe(EXIT_OK);
    expect((await runBatch(editor, good, settings())).exitCode).toBe(EXIT_OK);
    const bad = jobs.filter((j) => !good.includes(j));
    expect((await runBatch(editor, bad, settings())).exitCode).toBe(EXIT_ALL_FAILED);
  });

  it("retries a chunk that fails as a whole one by one, so only the bad input fails", async () => {
    const input = await photoFolder("retry");
    const jobs = await batchJobs(input, { instruction: "make it brighter", outDir: join(root, "retry-out") });
    // An editor whose batch breaks on one image (width 28: b.png) wherever it is.
    const flaky = Object.create(editor) as MgieEditor;
    let calls = 0;
    flaky.editBatch = async (items: readonly EditItem[], options) => {
      calls++;
      if (items.some((it) => typeof it.image === "object" && !(it.image instanceof Uint8Array) && it.image.width === 28)) throw new Error("out of memory");
      return editor.editBatch(items, options);
    };
    const lines: BatchLine[] = [];
    const s = await runBatch(flaky, jobs, settings({ onLine: (l) => lines.push(l) }));
    expect([s.edited, s.failed]).toEqual([4, 4]);
    expect(lines.find((l) => l.input.endsWith("b.png"))?.error).toEqual({ code: "EDIT_FAILED", message: "out of memory" });
    expect(calls).toBeGreaterThan(3);
  });

  it("stops cleanly when aborted, leaving no partial output, and a second run completes the rest", async () => {
    const input = await photoFolder("abort");
    const out = join(root, "abort-out");
    const jobs = await batchJobs(input, { instruction: "make it brighter", outDir: out });
    const controller = new AbortController();
    const s = await runBatch(
      editor,
      jobs,
      settings({
        signal: controller.signal,
        onProgress: (done) => {
          if (done >= 2) controller.abort();
        },
      }),
    );
    expect(s.interrupted).toBe(true);
    expect(s.exitCode).toBe(EXIT_INTERRUPTED);
    expect(s.edited).toBe(2);
    expect(s.notDone).toBe(6);
    expect(await filesUnder(out)).toEqual(["a.jpg", "b.png"]);
    const rest = await runBatch(editor, jobs, settings());
    expect([rest.edited, rest.skipped, rest.failed, rest.interrupted]).toEqual([3, 2, 3, false]);
    expect(await filesUnder(out)).toEqual(GOOD);
  });

  it("lists folders recursively (mirrored), with a suffix and a forced format; refuses to write onto an input", async () => {
    const input = await photoFolder("tree");
    await mkdir(join(input, "sub", "deeper"), { recursive: true });
    await writeFile(join(input, "sub", "deeper", "f.jpg"), await readFile(join(input, "a.jpg")));
    expect((await batchJobs(input, { instruction: "x", outDir: join(root, "o") })).map((j) => j.image)).not.toContain(join(input, "sub", "deeper", "f.jpg"));
    const jobs = await batchJobs(input, { instruction: "make it brighter", outDir: join(root, "tree-out"), recursive: true, suffix: "-v2", format: "webp" });
    expect(jobs.map((j) => j.output)).toContain(join(root, "tree-out", "sub", "deeper", "f-v2.webp"));
    const good = jobs.filter((j) => !Object.keys(BAD).some((f) => j.image.endsWith(f)));
    expect((await runBatch(editor, good, settings())).edited).toBe(6);
    expect((await sharp(join(root, "tree-out", "sub", "deeper", "f-v2.webp")).metadata()).format).toBe("webp");
    // The output folder is the input folder and nothing changes the name: every job is refused, no input is touched.
    const onto = await batchJobs(input, { instruction: "make it brighter", outDir: input });
    const a = await readFile(join(input, "a.jpg"));
    const lines: BatchLine[] = [];
    const s = await runBatch(editor, onto, settings({ onLine: (l) => lines.push(l) }));
    expect(s.exitCode).toBe(EXIT_ALL_FAILED);
    expect(lines.find((l) => l.input.endsWith("a.jpg"))?.error?.message).toMatch(/is the input itself/);
    expect((await readFile(join(input, "a.jpg"))).equals(a)).toBe(true);
    expect(tempNameOf(join(root, "x", "y.png"))).toBe(join(root, "x", `.y.png.tmp-${process.pid}`));
  });

  it("takes a quoted glob: its images, sorted, the output tree mirroring the tree below its fixed part", async () => {
    const input = await photoFolder("globbed");
    await mkdir(join(input, "sub"), { recursive: true });
    await writeFile(join(input, "sub", "g.jpg"), await readFile(join(input, "a.jpg")));
    await writeFile(join(input, "sub", "notes.txt"), "not an image");
    const outDir = join(root, "glob-out");
    const jobs = await batchJobs(join(input, "**", "*.jpg"), { instruction: "make it brighter", outDir });
    const jpegs = [...(await readdir(input)).filter((f) => f.endsWith(".jpg")), join("sub", "g.jpg")].sort();
    expect(jobs.map((j) => relative(input, j.image))).toEqual(jpegs);
    expect(jobs.map((j) => j.output)).toEqual(jpegs.map((f) => join(outDir, f)));
    expect(globRoot("shoot/day-1/*.jpg")).toBe("shoot/day-1");
    expect(globRoot("**/*.png")).toBe(".");
    await expect(batchJobs(join(input, "*.gif"), { instruction: "x", outDir })).rejects.toThrow(/matches no image.*quote the pattern/);
  });

  it("benchmarks a folder run against the in-process batch on the same photos (mgie bench --batch-folder)", async () => {
    const log: string[] = [];
    const report = await batchFolderBenchmark({ model: TINY, count: 3, width: 48, height: 32, batchSize: 2, steps: 2, threads: 1, log: (l) => log.push(l) });
    expect(report).toMatch(/3 photos of 48x32, batch 2, steps 2/);
    expect(report).toMatch(/\| in-process batch .* \| [\d.]+ \| 100 % \| \d+ MB \|/);
    expect(report).toMatch(/\| folder run .* \| [\d.]+ \| \d+ % \| \d+ MB \|/);
    expect(log[0]).toMatch(/making 3 photos/);
  });

  it("reports a malformed JSONL line, a missing image and a missing mask, and edits the rest", async () => {
    await photoFolder("jsonl");
    const jobsFile = join(root, "jobs.jsonl");
    await writeFile(
      jobsFile,
      [
        JSON.stringify({ image: "jsonl/a.jpg", instruction: "make it brighter", output: "jsonl-out/one.png" }),
        "{not json",
        JSON.stringify({ image: "jsonl/missing.jpg", instruction: "make it brighter" }),
        JSON.stringify({ image: "jsonl/b.png", instruction: "make it brighter", mask: "jsonl/nomask.png" }),
        JSON.stringify({ image: "jsonl/c.webp", instruction: "   " }),
        JSON.stringify({ image: "jsonl/d.jpg", instruction: "flip it", output: "jsonl-out/two.gif" }),
        JSON.stringify({ image: "jsonl/e.png", instruction: "make it darker", output: "jsonl-out/three.webp" }),
        JSON.stringify({ image: "jsonl/e.png", instruction: "make it brighter", output: "jsonl-out/three.webp" }),
      ].join("\n"),
    );
    const lines: BatchLine[] = [];
    const s = await runBatch(editor, await batchJobs(jobsFile, { outDir: join(root, "jsonl-out") }), settings({ onLine: (l) => lines.push(l) }));
    expect([s.edited, s.failed, s.exitCode]).toEqual([2, 6, EXIT_SOME_FAILED]);
    expect(lines.filter((l) => l.status === "failed").map((l) => l.error?.code)).toEqual([
      "INVALID_JOB",
      "IMAGE_NOT_FOUND",
      "IMAGE_NOT_FOUND",
      "INVALID_ARGUMENT",
      "IMAGE_FORMAT",
      "OUTPUT_CONFLICT",
    ]);
    expect(await filesUnder(join(root, "jsonl-out"))).toEqual(["one.png", "three.webp"]);
  });
});

describe("mgie edit on a folder (the CLI)", () => {
  it("goes on past bad files, exits 3 and prints the summary", async () => {
    await stat(CLI);
    const input = await photoFolder("cli");
    const out = join(root, "cli-out");
    const report = join(root, "cli-report.jsonl");
    const r = await exec(process.execPath, [CLI, "edit", input, "make it brighter", "--model", TINY, "--steps", "1", "-o", out, "--report", report]).then(
      (x) => ({ code: 0, ...x }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/edited 5 images, skipped 0 \(already done\), failed 3 of 8/);
    expect(r.stderr).toMatch(/failed .*cut\.jpg: IMAGE_CORRUPT/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect((await readFile(report, "utf8")).trim().split("\n")).toHaveLength(8);
    expect(await filesUnder(out)).toEqual(GOOD);
  });

  it("stops on Ctrl-C with status 130, no partial file, and the same command finishes the rest", async () => {
    const input = join(root, "sigint");
    await mkdir(input);
    const N = 100;
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        sharp({ create: { width: 40, height: 30, channels: 3, background: { r: i * 2, g: 100, b: 50 } } })
          .png()
          .toFile(join(input, `p${String(i).padStart(3, "0")}.png`)),
      ),
    );
    const out = join(root, "sigint-out");
    const args = [CLI, "edit", input, "make it brighter", "--model", TINY, "--steps", "8", "--batch-size", "1", "-o", out];
    const child = spawn(process.execPath, args);
    let stdout = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
    const count = async () => (await readdir(out).catch(() => [])).filter((f) => f.endsWith(".png")).length;
    while ((await count()) < 2) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(stdout).toMatch(/interrupted, \d+ not done/);
    const left = await readdir(out);
    expect(left.filter((f) => !/^p\d{3}\.png$/.test(f))).toEqual([]);
    expect(left.length).toBeLessThan(N);
    for (const f of left) expect((await sharp(join(out, f)).metadata()).format).toBe("png");
    const rest = await exec(process.execPath, args);
    expect(rest.stdout).toMatch(new RegExp(`edited ${N - left.length} images, skipped ${left.length} \\(already done\\), failed 0 of ${N}`));
    expect(await readdir(out)).toHaveLength(N);
  });
});
