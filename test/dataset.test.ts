import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { SynthEditDataset, writeDataset } from "../src/data/dataset.js";
import { npyHeader, parseNpy } from "../src/data/npy.js";
import { singleThreadSource } from "../src/data/pool.js";
import { SynthEdit } from "../src/data/synthedit.js";
import { DataFormatError } from "../src/errors.js";
import { toUint8 } from "../src/image/raster.js";

const run = promisify(execFile);
/** The Python that training uses: Debian's, with python3-numpy (scripts/setup-system.sh installs it). */
const PYTHON = process.env.MGIE_PYTHON ?? "/usr/bin/python3";
let dir: string;
let gen: SynthEdit;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mgie-ds-"));
  gen = await SynthEdit.create({ res: 64 });
  await writeDataset(singleThreadSource(gen), join(dir, "ds"), { split: "validation", count: 10, start: 5, shardSize: 4 });
});

describe("npy", () => {
  it("writes headers numpy accepts: 64-byte aligned, shape as a tuple", () => {
    for (const shape of [[3], [2, 4, 4, 3], [1000, 128, 128]]) {
      const h = npyHeader(shape);
      expect(h.length % 64).toBe(0);
      const total = shape.reduce((a, b) => a * b, 1);
      expect(parseNpy(Buffer.concat([h, Buffer.alloc(total)]), "x").shape).toEqual(shape);
    }
    expect(npyHeader([3]).toString("latin1")).toContain("'shape': (3,)");
  });

  it("refuses foreign, truncated and mistyped files", () => {
    const good = Buffer.concat([npyHeader([2, 2]), Buffer.alloc(4)]);
    expect(() => parseNpy(Buffer.from("PK\u0003\u0004 a zip file"), "x")).toThrow(DataFormatError);
    expect(() => parseNpy(good.subarray(0, good.length - 1), "x")).toThrow(/truncated/);
    expect(() => parseNpy(good.subarray(0, 20), "x")).toThrow(DataFormatError);
    const f8 = Buffer.from(good.toString("latin1").replace("|u1", "<f8"), "latin1");
    expect(() => parseNpy(f8, "x")).toThrow(/not supported/);
  });
});

describe("dataset on disk", () => {
  it("stores exactly what the generator makes, across shards", async () => {
    const ds = await SynthEditDataset.open(join(dir, "ds"));
    expect(ds.length).toBe(10);
    expect(ds.meta.shards.map((s) => s.count)).toEqual([4, 4, 2]);
    for (const i of [0, 3, 4, 9]) {
      const stored = await ds.get(i);
      const fresh = await gen.example("validation", 5 + i);
      expect(stored.entry.id).toBe(fresh.id);
      expect(stored.entry.expressive).toBe(fresh.expressive);
      expect(Buffer.from(toUint8(stored.input)).equals(Buffer.from(toUint8(fresh.input)))).toBe(true);
      expect(Buffer.from(toUint8(stored.target)).equals(Buffer.from(toUint8(fresh.target)))).toBe(true);
      expect(Buffer.from(stored.mask).equals(Buffer.from(fresh.mask))).toBe(true);
    }
  });

  it("is readable by Python with numpy alone", async () => {
    const script = [
      "import json, sys, numpy as np",
      "d = sys.argv[1]",
      "meta = json.load(open(d + '/dataset.json'))",
      "rows = [json.loads(l) for l in open(d + '/index.jsonl')]",
      "x = np.load(d + '/shards/' + rows[5]['shard'] + '-input.npy')",
      "m = np.load(d + '/shards/' + rows[5]['shard'] + '-mask.npy')",
      "print(meta['res'], x.shape, x.dtype, m.shape, int(x[rows[5]['row']].sum()))",
    ].join("\n");
    const { stdout } = await run(PYTHON, ["-c", script, join(dir, "ds")]);
    const ex = await (await SynthEditDataset.open(join(dir, "ds"))).get(5);
    const sum = toUint8(ex.input).reduce((a, b) => a + b, 0);
    expect(stdout.trim()).toBe(`64 (4, 64, 64, 3) uint8 (4, 64, 64) ${sum}`);
  });

  it("names the problem when a dataset folder is wrong", async () => {
    await expect(SynthEditDataset.open(join(dir, "nothing-here"))).rejects.toThrow(/not a SynthEdit dataset/);
    const broken = join(dir, "broken");
    await run("cp", ["-r", join(dir, "ds"), broken]);
    const shard = join(broken, "shards", "00001-target.npy");
    const bytes = await readFile(shard);
    await writeFile(shard, bytes.subarray(0, bytes.length - 100));
    const ds = await SynthEditDataset.open(broken);
    await expect(ds.get(0)).resolves.toBeTruthy();
    await expect(ds.get(5)).rejects.toThrow(/truncated or corrupt/);
    await writeFile(join(broken, "index.jsonl"), "{}\n".repeat(10));
    await expect(SynthEditDataset.open(broken)).rejects.toThrow(/line 1 is not a valid entry/);
  });
});
