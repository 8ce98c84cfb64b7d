import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { followAll, type Proc, startRedis, startServe, startWorker, submitEdit } from "../src/bench/cluster.js";
import { MgieEditor } from "../src/pipeline/editor.js";
import { createServer } from "../src/server/app.js";
import type { EditParams } from "../src/server/schemas.js";

/**
 * Nothing lost, nothing done twice: real processes of the built CLI (npm run build first), killed
 * with SIGKILL mid-edit. The single-machine server restarted on its data directory; and with Redis,
 * two API processes and two workers, one of each killed.
 */
const MODEL = fileURLToPath(new URL("./fixtures/tiny-model", import.meta.url));
let png: Buffer;
const procs: Proc[] = [];
const track = <T extends { proc: Proc } | Proc>(p: T): T => {
  procs.push("proc" in p ? p.proc : p);
  return p;
};

beforeAll(async () => {
  png = await sharp({ create: { width: 96, height: 64, channels: 3, background: "#806040" } })
    .png()
    .toBuffer();
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop("SIGKILL")));
});

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("the single-machine server", () => {
  it("loses nothing across kill -9 with edits queued and running: the restarted server resumes them and still serves the finished", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "mgie-durable-"));
    const args = ["--model", MODEL, "--threads", "1", "--queue", "100", "--data-dir", dataDir];
    const first = track(await startServe(args));
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await submitEdit(first.url, png, { instruction: `make it brighter ${i}`, steps: "100", seed: String(i) });
      expect(r.status, r.body).toBe(202);
      ids.push(r.id!);
    }
    const health = async () => ((await (await fetch(`${first.url}/healthz`)).json()) as { queue: { running: number; queued: number } }).queue;
    let doneBefore: string | undefined;
    await waitUntil("one edit done and one running", async () => {
      for (const id of ids) {
        const job = (await (await fetch(`${first.url}/v1/edits/${id}`)).json()) as { status: string };
        if (job.status === "done") doneBefore ??= id;
      }
      const q = await health();
      return doneBefore !== undefined && q.running === 1 && q.queued > 0;
    });
    const imageBefore = Buffer.from(await (await fetch(`${first.url}/v1/edits/${doneBefore}/image`)).arrayBuffer());
    let runningAtKill: string | undefined;
    await waitUntil("an edit running", async () => {
      for (const id of ids) {
        if (((await (await fetch(`${first.url}/v1/edits/${id}`)).json()) as { status: string }).status === "running") runningAtKill = id;
      }
      return runningAtKill !== undefined;
    });
    await first.proc.stop("SIGKILL");

    const second = track(await startServe(args));
    const finished = await followAll([second.url], ids, 120_000);
    expect([...finished.values()].map((j) => j.status)).toEqual(Array(ids.length).fill("done"));
    // The one that was running when it died ran again (it counts 2 starts, or 1 if it died before the start was written); none more.
    expect(finished.get(runningAtKill!)!.attempts).toBeGreaterThanOrEqual(1);
    expect(Math.max(...[...finished.values()].map((j) => j.attempts))).toBeLessThanOrEqual(2);
    const imageAfter = Buffer.from(await (await fetch(`${second.url}/v1/edits/${doneBefore}/image`)).arrayBuffer());
    expect(imageAfter.equals(imageBefore)).toBe(true);
    await second.proc.stop();
  });

  it("expires finished edits by retention time and disk budget, oldest first, with 410 rather than 404", async () => {
    const editor = await MgieEditor.load(MODEL, { threads: 1 });
    const dataDir = await mkdtemp(join(tmpdir(), "mgie-retention-"));
    const { app } = await createServer(editor, { dataDir, keepFinishedMs: 1500, diskBudgetBytes: 64 * 1024 });
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await fetch(`${url}/v1/edits:sync`, { method: "POST", body: formOf(png, { instruction: "x", steps: "2", seed: String(i) }) });
        expect(r.status).toBe(200);
        ids.push(r.headers.get("x-edit-id")!);
      }
      // Each result is ~8 KB and the uploads are small: all fit in 64 KB, so all are still there.
      for (const id of ids) expect((await fetch(`${url}/v1/edits/${id}/image`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1700));
      const gone = await fetch(`${url}/v1/edits/${ids[0]}`);
      expect(gone.status).toBe(410);
      expect(((await gone.json()) as { error: { code: string } }).error.code).toBe("EXPIRED");
      expect((await fetch(`${url}/v1/edits/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
    } finally {
      await app.close();
    }

    // A budget that holds two results: submitting more evicts the oldest first.
    const small = await createServer(editor, { dataDir: await mkdtemp(join(tmpdir(), "mgie-budget-")), diskBudgetBytes: 20 * 1024 });
    const smallUrl = await small.app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await fetch(`${smallUrl}/v1/edits:sync`, { method: "POST", body: formOf(png, { instruction: "x", steps: "2", seed: String(i) }) });
        expect(r.status).toBe(200);
        ids.push(r.headers.get("x-edit-id")!);
      }
      const statuses = await Promise.all(ids.map(async (id) => (await fetch(`${smallUrl}/v1/edits/${id}`)).status));
      expect(statuses[0]).toBe(410);
      expect(statuses.at(-1)).toBe(200);
      expect(statuses).toEqual([...statuses].sort((a, b) => b - a)); // the evicted ones are the oldest
    } finally {
      await small.app.close();
    }
  });
});

describe("a job that kills the server", () => {
  it("is not run again after --max-attempts deaths: it fails with ABANDONED and the reason", async () => {
    const editor = await MgieEditor.load(MODEL, { threads: 1 });
    const dataDir = await mkdtemp(join(tmpdir(), "mgie-abandoned-"));
    const first = await createServer(editor, { dataDir, maxAttempts: 2 });
    const params = { ...(await paramsOf(first.app)), instruction: "x" } as Required<EditParams>;
    const id = (await first.store.submit(params, { image: png })).id;
    await first.app.close();
    // As a server that died while running it twice would have left it:
    const record = join(dataDir, "jobs", `${id}.json`);
    const job = JSON.parse(await readFile(record, "utf8"));
    await writeFile(record, JSON.stringify({ ...job, status: "running", startedAt: Date.now(), attempts: 2 }));
    const again = await createServer(editor, { dataDir, maxAttempts: 2 });
    try {
      expect(await again.store.get(id)).toMatchObject({ status: "failed", error: { code: "ABANDONED", message: expect.stringMatching(/stopped 2 times/) } });
    } finally {
      await again.app.close();
    }
  });
});

/** The parameters an edit runs with by default, as GET /v1/models lists them. */
async function paramsOf(app: Awaited<ReturnType<typeof createServer>>["app"]) {
  const models = (await (await app.inject({ url: "/v1/models", headers: { host: "127.0.0.1" } })).json()) as {
    models: { parameters: { name: string; default: unknown }[] }[];
  };
  return Object.fromEntries(models.models[0].parameters.map((p) => [p.name, p.default]));
}

function formOf(image: Uint8Array, fields: Record<string, string>): FormData {
  const f = new FormData();
  f.append("image", new Blob([new Uint8Array(image)], { type: "image/png" }), "x.png");
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  return f;
}

describe("Redis: two API processes and two workers", () => {
  it("loses nothing and records nothing twice across kill -9 of a worker mid-edit and of an API process; any API answers any id", async () => {
    const redis = track(await startRedis());
    const apiArgs = ["--model", MODEL, "--threads", "1", "--redis", redis.url, "--queue", "1000"];
    const apis = [track(await startServe(apiArgs)), track(await startServe(apiArgs))];
    const workerArgs = ["--model", MODEL, "--threads", "1", "--redis", redis.url, "--lock-s", "2"];
    const workers = [track(await startWorker(workerArgs)), track(await startWorker(workerArgs))];

    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await submitEdit(apis[i % 2].url, png, { instruction: `make it warmer ${i}`, steps: "30", seed: String(i) });
      expect(r.status, r.body).toBe(202);
      ids.push(r.id!);
    }
    // Kill worker 0 while it runs an edit (it said "started" for one it has not finished), and API process 0.
    const startedNotDone = (out: string) => {
      const started = [...out.matchAll(/(\S{36}) started/g)].map((m) => m[1]);
      const done = new Set([...out.matchAll(/(\S{36}) recorded/g)].map((m) => m[1]));
      return started.filter((id) => !done.has(id));
    };
    await waitUntil(
      "worker 0 mid-edit after a few done",
      () => (workers[0].output().match(/recorded done/g)?.length ?? 0) >= 3 && startedNotDone(workers[0].output()).length > 0,
    );
    const killedMidEdit = startedNotDone(workers[0].output());
    await workers[0].stop("SIGKILL");
    await apis[0].proc.stop("SIGKILL");

    const finished = await followAll([apis[1].url], ids, 120_000);
    expect(finished.size).toBe(ids.length);
    expect([...finished.values()].every((j) => j.status === "done")).toBe(true);
    // The edit the killed worker was running went to the other one, and ran again.
    expect(finished.get(killedMidEdit[0])!.attempts).toBeGreaterThanOrEqual(2);
    // Each outcome recorded exactly once, by one worker.
    const recorded = [...(workers[0].output() + workers[1].output()).matchAll(/(\S{36}) recorded done/g)].map((m) => m[1]);
    expect(recorded.length).toBe(ids.length);
    expect(new Set(recorded).size).toBe(ids.length);
    // The surviving API process serves every image, whichever process accepted the edit.
    for (const id of ids.slice(0, 5)) expect((await fetch(`${apis[1].url}/v1/edits/${id}/image`)).status).toBe(200);
    const metrics = await (await fetch(`${apis[1].url}/metrics`)).text();
    expect(metrics).toMatch(/^mgie_workers 1$/m);
    const ready = (await (await fetch(`${apis[1].url}/readyz`)).json()) as { ready: boolean; store: { kind: string } };
    expect(ready).toMatchObject({ ready: true, store: { kind: "redis" } });
  });
});
