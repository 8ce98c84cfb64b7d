import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as ort from "onnxruntime-node";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
// From dist/: it runs the built CLI beside it.
import { timeColdEdits } from "../dist/bench/photoSizes.js";
import { createSession, optimizedModelCacheDir } from "../src/platform/onnxNode.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The built CLI (npm test builds before running the tests). */
const CLI = join(ROOT, "dist/cli/main.js");
const TINY = join(ROOT, "test/fixtures/tiny-model");
const exec = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mgie-startup-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI with the module-tracing hook: its stdout and the files of ours and the packages it loaded. */
async function traced(...args: string[]): Promise<{ stdout: string; modules: string[] }> {
  const trace = join(dir, `trace-${Math.random().toString(36).slice(2)}.txt`);
  const { stdout } = await exec(process.execPath, ["--import", join(ROOT, "test/fixtures/traceModules.mjs"), CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, MGIE_TRACE_MODULES: trace },
  });
  const urls = (await readFile(trace, "utf8")).split("\n").filter((u) => u.startsWith("file:"));
  return { stdout, modules: [...new Set(urls.map((u) => relative(ROOT, fileURLToPath(u))))] };
}

describe("mgie loads only the command that runs", () => {
  it("mgie edit --help loads no other command, no server, chart or data generator", async () => {
    const { stdout, modules } = await traced("edit", "--help");
    expect(stdout).toContain("Usage: mgie edit [options] <input> [instruction]");
    expect(modules).toContain(join("dist", "cli", "edit.js"));
    const other = modules.filter(
      (p) =>
        /^dist[/\\](cli[/\\](data|eval|bench|serve)|data|server|eval|bench)[/\\]/.test(p) || /node_modules[/\\](fastify|@fastify|vega|vega-lite)[/\\]/.test(p),
    );
    expect(other).toEqual([]);
  });

  it("mgie --help and mgie help still list every command with its description", async () => {
    for (const args of [["--help"], ["help"]]) {
      const { stdout } = await exec(process.execPath, [CLI, ...args]);
      // Each command on its own line, with its arguments and the start of its description.
      expect(stdout).toMatch(/^ {2}edit \[options\] <input> \[instruction\] {2,}edit /m);
      expect(stdout).toMatch(/^ {2}data {2,}SynthEdit/m);
      expect(stdout).toMatch(/^ {2}eval \[options\] {2,}evaluate /m);
      expect(stdout).toMatch(/^ {2}bench \[options\] {2,}benchmark /m);
      expect(stdout).toMatch(/^ {2}serve \[options\] {2,}serve /m);
    }
    const { stdout } = await exec(process.execPath, [CLI, "help", "serve"]);
    expect(stdout).toContain("Usage: mgie serve [options]");
  });

  it("an unknown command is still named, with the nearest one", async () => {
    const r = await exec(process.execPath, [CLI, "edti"]).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).toBe(1);
    expect((r as { stderr: string }).stderr).toMatch(/unknown command 'edti'[\s\S]*Did you mean edit\?/);
  });
});

describe("the cache of optimised ONNX models", () => {
  const saved = process.env.MGIE_CACHE_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.MGIE_CACHE_DIR;
    else process.env.MGIE_CACHE_DIR = saved;
  });

  /** The UNet of the tiny model on fixed inputs: the bytes of its output. */
  async function unetOutput(session: ort.InferenceSession): Promise<Buffer> {
    const input = (name: string) => {
      const m = session.inputMetadata.find((v) => v.name === name);
      if (!m?.isTensor) throw new Error(`the UNet has no tensor input '${name}'`);
      return { type: m.type, dims: m.shape.map((d) => (typeof d === "number" ? d : 2)) };
    };
    const dims = (name: string) => input(name).dims;
    const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
    const count = (d: number[]) => d.reduce((a, b) => a * b, 1);
    const t = dims("timestep");
    const out = await session.run({
      latent: new ort.Tensor("float32", fill(count(dims("latent"))), dims("latent")),
      timestep:
        input("timestep").type === "int64"
          ? new ort.Tensor("int64", new BigInt64Array(count(t)).fill(500n), t)
          : new ort.Tensor("float32", new Float32Array(count(t)).fill(500), t),
      context: new ort.Tensor("float32", fill(count(dims("context"))), dims("context")),
    });
    const noise = out.noise.data as Float32Array;
    return Buffer.from(noise.buffer, noise.byteOffset, noise.byteLength);
  }

  it("is $MGIE_CACHE_DIR/onnx, or none with MGIE_CACHE_DIR=off", () => {
    process.env.MGIE_CACHE_DIR = "/somewhere";
    expect(optimizedModelCacheDir()).toBe(join("/somewhere", "onnx"));
    process.env.MGIE_CACHE_DIR = "off";
    expect(optimizedModelCacheDir()).toBeNull();
  });

  it("gives the same outputs bit for bit, checks what it reads, and leaves no temporary file", async () => {
    const bytes = await readFile(join(TINY, "unet.onnx"));
    process.env.MGIE_CACHE_DIR = "off";
    const reference = await unetOutput(await createSession(bytes, 1));

    const cache = join(dir, "cache");
    process.env.MGIE_CACHE_DIR = cache;
    // Two processes' worth at once: each writes its own temporary file and renames it into place.
    const [a, b] = await Promise.all([createSession(bytes, 1), createSession(bytes, 1)]);
    expect((await unetOutput(a)).equals(reference)).toBe(true);
    expect((await unetOutput(b)).equals(reference)).toBe(true);
    const files = await readdir(join(cache, "onnx"));
    expect(files.length).toBeGreaterThanOrEqual(1);
    for (const f of files) expect(f).toMatch(/^[0-9a-f]{32}-[0-9a-f]{64}\.onnx$/);

    const cached = await createSession(bytes, 1);
    expect((await unetOutput(cached)).equals(reference)).toBe(true);

    // A damaged cache file is refused (its sha256 no longer matches its name), removed and written again.
    const [name] = await readdir(join(cache, "onnx"));
    const path = join(cache, "onnx", name);
    const damaged = await readFile(path);
    damaged[damaged.length >> 1] ^= 0xff;
    await writeFile(path, damaged);
    const again = await createSession(bytes, 1);
    expect((await unetOutput(again)).equals(reference)).toBe(true);
    const after = await readdir(join(cache, "onnx"));
    expect(after.every((f) => f.endsWith(".onnx"))).toBe(true);
    for (const f of after) {
      const digest = Buffer.from(await crypto.subtle.digest("SHA-256", await readFile(join(cache, "onnx", f)))).toString("hex");
      expect(f.endsWith(`-${digest}.onnx`)).toBe(true);
    }
  });

  it("removes files unused for 30 days, and temporary files left behind, when it writes one", async () => {
    const cache = join(dir, "old-cache");
    await mkdir(join(cache, "onnx"), { recursive: true });
    const old = new Date(Date.now() - 40 * 24 * 3600 * 1000);
    const stale = join(cache, "onnx", `${"0".repeat(32)}-${"1".repeat(64)}.onnx`);
    const left = join(cache, "onnx", `${"0".repeat(32)}.123-abcd.tmp`);
    const recent = join(cache, "onnx", `${"2".repeat(32)}-${"3".repeat(64)}.onnx`);
    for (const f of [stale, left, recent]) await writeFile(f, "x");
    for (const f of [stale, left]) await utimes(f, old, old);
    process.env.MGIE_CACHE_DIR = cache;
    await createSession(await readFile(join(TINY, "vae_encoder.onnx")), 1);
    const files = await readdir(join(cache, "onnx"));
    expect(files).toContain(basename(recent));
    expect(files).not.toContain(basename(stale));
    expect(files).not.toContain(basename(left));
    expect(files.length).toBe(2);
  });

  it("an unusable cache folder only costs the optimisation", async () => {
    const blocker = join(dir, "a-file");
    await writeFile(blocker, "not a folder");
    const bytes = await readFile(join(TINY, "unet.onnx"));
    process.env.MGIE_CACHE_DIR = blocker;
    const session = await createSession(bytes, 1);
    process.env.MGIE_CACHE_DIR = "off";
    expect((await unetOutput(session)).equals(await unetOutput(await createSession(bytes, 1)))).toBe(true);
  });
});

describe("mgie bench's cold one-shot edit", () => {
  it("times each new-process edit to its own output, so none is refused as an existing file", async () => {
    const photo = join(dir, "cold.png");
    await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 120, b: 40 } } })
      .png()
      .toFile(photo);
    const t = await timeColdEdits(TINY, photo, dir, 2);
    expect(t.edit).toBeGreaterThan(0);
    expect(t.wall).toBeGreaterThan(t.edit);
    expect((await readdir(dir)).filter((f) => f.startsWith("cold-")).sort()).toEqual(["cold-0.jpg", "cold-1.jpg"]);
  });
});
