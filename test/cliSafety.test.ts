import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";

/** Issue 30's CLI defects, against the built CLI (npm run build first): each refused in one line, before the model loads where it can be. */
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist/cli/main.js");
const TINY = join(ROOT, "test/fixtures/tiny-model");
const PHOTO = join(ROOT, "assets/photos/darknet/dog.jpg");
let dir: string;

async function mgie(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, MGIE_TOKEN: "" } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const oneLine = (text: string) =>
  text
    .trim()
    .split("\n")
    .filter((l) => !/\(run with --help/.test(l));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mgie-cli-safety-"));
});

describe("mgie edit never overwrites what it should not", () => {
  it("refuses -o the input itself, and an existing file without --force; --force overwrites it", async () => {
    const input = join(dir, "photo.jpg");
    await copyFile(PHOTO, input);
    const self = await mgie("edit", input, "make it brighter", "--model", TINY, "--steps", "1", "-o", input);
    expect([self.code, oneLine(self.stderr)]).toEqual([1, [expect.stringMatching(/is the input itself/)]]);
    expect((await readFile(input)).equals(await readFile(PHOTO))).toBe(true);

    const existing = join(dir, "existing.png");
    await writeFile(existing, "keep me");
    const refused = await mgie("edit", input, "make it brighter", "--model", TINY, "--steps", "1", "-o", existing);
    expect([refused.code, oneLine(refused.stderr)]).toEqual([1, [expect.stringMatching(/exists: give another -o, or --force/)]]);
    expect(await readFile(existing, "utf8")).toBe("keep me");

    const forced = await mgie("edit", input, "make it brighter", "--model", TINY, "--steps", "1", "-o", existing, "--force");
    expect(forced.code, forced.stderr).toBe(0);
    expect((await stat(existing)).size).toBeGreaterThan(100);
  });

  it("a batch does not overwrite an existing file that is not an image it wrote", async () => {
    const folder = join(dir, "in");
    const out = join(dir, "out");
    await promisify(execFile)("mkdir", ["-p", folder, out]);
    await copyFile(PHOTO, join(folder, "a.jpg"));
    await writeFile(join(out, "a.jpg"), "not an image");
    const r = await mgie("edit", folder, "make it brighter", "--model", TINY, "--steps", "1", "-o", out);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/OUTPUT_EXISTS/);
    expect(await readFile(join(out, "a.jpg"), "utf8")).toBe("not an image");
  });

  it("reports an unwritable output path in one line, without a stack trace", async () => {
    const r = await mgie("edit", PHOTO, "make it brighter", "--model", TINY, "--steps", "1", "-o", "/etc/hostname/edited.png");
    expect([r.code, oneLine(r.stderr)]).toEqual([1, [expect.stringMatching(/^mgie: cannot write '\/etc\/hostname\/edited.png': .*give another -o$/)]]);
  });
});

describe("arguments refused before any work", () => {
  it("caps --threads at the cores here (edit, serve, worker, bench) and refuses --steps 1e9 in one line", async () => {
    for (const command of [["edit", PHOTO, "x"], ["serve"], ["worker", "--redis", "redis://127.0.0.1:1"], ["bench"]]) {
      const r = await mgie(...command, "--threads", "1024");
      expect(r.code, command[0]).toBe(1);
      expect(r.stderr, command[0]).toMatch(/--threads must be a whole number from 1 to \d+, got '1024'/);
    }
    const steps = await mgie("edit", PHOTO, "x", "--steps", "1e9");
    expect([steps.code, oneLine(steps.stderr).length]).toEqual([1, 1]);
    expect(steps.stderr).toMatch(/--steps must be a whole number from 1 to \d+, got '1e9'/);
  });

  it("refuses an empty or blank --token at start-up rather than serving without auth", async () => {
    for (const token of ["", "  "]) {
      const r = await mgie("serve", "--model", TINY, "--port", "0", "--token", token);
      expect([r.code, oneLine(r.stderr)]).toEqual([1, [expect.stringMatching(/^mgie: the token is empty/)]]);
    }
  });

  it("mgie worker says in one line when Redis cannot be reached", async () => {
    const r = await mgie("worker", "--model", TINY, "--threads", "1", "--redis", "redis://127.0.0.1:1");
    expect([r.code, oneLine(r.stderr)]).toEqual([1, [expect.stringMatching(/^mgie: cannot reach Redis at redis:\/\/127.0.0.1:1: .*start redis-server/)]]);
  });
});
