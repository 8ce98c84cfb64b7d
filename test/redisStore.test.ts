import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Proc, startRedis } from "../src/bench/cluster.js";
import { MgieEditor } from "../src/pipeline/editor.js";
import { createServer, type MgieServer } from "../src/server/app.js";
import type { Editor } from "../src/server/editJobs.js";
import { type EditWorker, startEditWorker } from "../src/server/redisWorker.js";

/**
 * The Redis store and worker in this process, against a real redis-server on a loopback port:
 * retries, final failures, and cancelling a running edit on another process's worker.
 */
const MODEL = fileURLToPath(new URL("./fixtures/tiny-model", import.meta.url));
let editor: MgieEditor;
let png: Buffer;
let redis: { url: string; proc: Proc };
const servers: MgieServer[] = [];
const workers: EditWorker[] = [];
const POLL = { timeout: 15_000 };

beforeAll(async () => {
  editor = await MgieEditor.load(MODEL, { threads: 1 });
  png = await sharp({ create: { width: 40, height: 30, channels: 3, background: "#204060" } })
    .png()
    .toBuffer();
  redis = await startRedis();
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.app.close()));
  await Promise.all(workers.splice(0).map((w) => w.close()));
});

afterAll(async () => {
  await redis?.proc.stop("SIGKILL");
});

async function start(ed: Editor): Promise<string> {
  const server = await createServer(editor, { redis: redis.url, maxAttempts: 3 });
  servers.push(server);
  workers.push(await startEditWorker(redis.url, ed, { concurrency: 1, lockMs: 2000, maxStalls: 3 }));
  return server.app.listen({ host: "127.0.0.1", port: 0 });
}

async function submit(url: string): Promise<string> {
  const f = new FormData();
  f.append("image", new Blob([new Uint8Array(png)], { type: "image/png" }), "x.png");
  f.append("instruction", "make it brighter");
  f.append("steps", "2");
  const r = await fetch(`${url}/v1/edits`, { method: "POST", body: f });
  expect(r.status).toBe(202);
  return ((await r.json()) as { id: string }).id;
}

const job = async (url: string, id: string) =>
  (await (await fetch(`${url}/v1/edits/${id}`)).json()) as { status: string; attempts: number; error: { code: string } | null };

describe("the Redis store and worker", () => {
  it("retries an edit that failed unexpectedly, and records it done once", async () => {
    let calls = 0;
    const flaky: Editor = {
      manifest: editor.manifest,
      edit: async (...args: Parameters<MgieEditor["edit"]>) => {
        if (++calls === 1) throw new Error("the first try breaks");
        return editor.edit(...args);
      },
    };
    const url = await start(flaky);
    const id = await submit(url);
    await expect.poll(async () => (await job(url, id)).status, POLL).toBe("done");
    expect((await job(url, id)).attempts).toBe(2);
    expect((await fetch(`${url}/v1/edits/${id}/image`)).status).toBe(200);
  });

  it("fails an edit that keeps failing after its attempts, with the reason", async () => {
    let calls = 0;
    const broken: Editor = {
      manifest: editor.manifest,
      edit: async () => {
        calls++;
        throw new Error("always broken");
      },
    };
    const url = await start(broken);
    const id = await submit(url);
    await expect.poll(async () => (await job(url, id)).status, POLL).toBe("failed");
    expect(await job(url, id)).toMatchObject({ attempts: 3, error: { code: "INTERNAL", message: expect.stringMatching(/always broken/) } });
    expect(calls).toBe(3);
  });

  it("cancels a running edit through its AbortSignal on the worker that has it (DELETE on the API)", async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const signals: AbortSignal[] = [];
    const gated: Editor = {
      manifest: editor.manifest,
      edit: async (...args: Parameters<MgieEditor["edit"]>) => {
        signals.push(args[2]!.signal!);
        await gate;
        return editor.edit(...args);
      },
    };
    const url = await start(gated);
    const id = await submit(url);
    await expect.poll(() => signals.length, POLL).toBe(1);
    const cancelling = fetch(`${url}/v1/edits/${id}`, { method: "DELETE" });
    await expect.poll(() => signals[0].aborted, POLL).toBe(true);
    open();
    expect(await (await cancelling).json()).toMatchObject({ status: "failed", error: { code: "CANCELLED" } });
  });
});
