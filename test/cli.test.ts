import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";

/** The built CLI (npm test builds before running the tests). */
const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const exec = promisify(execFile);
let dir: string;

async function mgie(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mgie-cli-"));
});

describe("mgie data", () => {
  it("generates the same bytes with one worker thread or two", async () => {
    const common = ["data", "generate", "--split", "validation", "--count", "6", "--res", "64", "--shard-size", "4"];
    const one = await mgie(...common, "--workers", "1", "--out", join(dir, "w1"));
    const two = await mgie(...common, "--workers", "2", "--out", join(dir, "w2"));
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    expect(two.stdout).toMatch(/wrote 6 validation examples at 64x64/);
    for (const f of ["index.jsonl", "shards/00000-input.npy", "shards/00001-target.npy", "shards/00001-mask.npy"]) {
      expect((await readFile(join(dir, "w1", f))).equals(await readFile(join(dir, "w2", f))), f).toBe(true);
    }
  });

  it("writes a contact sheet PNG", async () => {
    const out = join(dir, "sheet.png");
    const r = await mgie("data", "preview", "--count", "5", "--res", "64", "-o", out);
    expect(r.code, r.stderr).toBe(0);
    const meta = await sharp(out).metadata();
    expect(meta.format).toBe("png");
    expect(meta.width).toBeGreaterThan(256);
  });

  it("explains bad arguments instead of crashing", async () => {
    const notNumber = await mgie("data", "generate", "--count", "abc", "--out", join(dir, "x"));
    expect(notNumber.code).not.toBe(0);
    expect(notNumber.stderr).toMatch(/--count must be a whole number/);
    const tiny = await mgie("data", "generate", "--count", "2", "--res", "5", "--out", join(dir, "x"));
    expect(tiny.code).toBe(1);
    expect(tiny.stderr).toMatch(/resolution must be an integer from 32 to 1024/);
    const noCount = await mgie("data", "generate", "--split", "train", "--out", join(dir, "x"));
    expect(noCount.stderr).toMatch(/--count is required/);
    const badSplit = await mgie("data", "generate", "--split", "dev", "--count", "1", "--out", join(dir, "x"));
    expect(badSplit.stderr).toMatch(/Allowed choices are train, validation, test/);
    const noDataset = await mgie("data", "preview", "--dataset", join(dir, "missing"), "-o", join(dir, "y.png"));
    expect(noDataset.code).toBe(1);
    expect(noDataset.stderr).toMatch(/not a SynthEdit dataset/);
    for (const r of [notNumber, tiny, noCount, badSplit, noDataset]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("documents every option in --help", async () => {
    const r = await mgie("data", "generate", "--help");
    for (const opt of ["--split", "--count", "--start", "--res", "--shard-size", "--photos", "--workers", "--out"]) expect(r.stdout).toContain(opt);
  });
});
