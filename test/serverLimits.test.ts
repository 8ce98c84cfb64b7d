import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { MgieEditor } from "../src/pipeline/editor.js";
import { Slots } from "../src/server/admission.js";
import { createServer, type MgieServer, type ServerOptions } from "../src/server/app.js";
import type { Editor } from "../src/server/editJobs.js";
import { DrainRate } from "../src/server/jobStore.js";

/**
 * Issue 30's defects, each reproduced against a real server on a loopback port (the tiny model):
 * admission and limits, slow clients, cancel, safe defaults, Fastify's own errors, metrics.
 */
const MODEL = fileURLToPath(new URL("./fixtures/tiny-model", import.meta.url));
const POLL = { timeout: 10_000 };
let editor: MgieEditor;
let png: Buffer;
const running: MgieServer[] = [];

async function start(options: Partial<ServerOptions> = {}, ed: Editor = editor): Promise<MgieServer & { url: string; port: number }> {
  const server = await createServer(ed, options);
  const url = await server.app.listen({ host: "127.0.0.1", port: 0 });
  running.push(server);
  return { ...server, url, port: Number(new URL(url).port) };
}

/** An editor whose edits wait until `open()`; it keeps each edit's AbortSignal. */
function gatedEditor() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const signals: AbortSignal[] = [];
  return {
    editor: {
      manifest: editor.manifest,
      edit: async (...args: Parameters<MgieEditor["edit"]>) => {
        signals.push(args[2]!.signal!);
        await gate;
        return editor.edit(...args);
      },
    } as Editor,
    open,
    signals,
  };
}

function form(fields: Record<string, string>, image: Uint8Array = png): FormData {
  const f = new FormData();
  f.append("image", new Blob([new Uint8Array(image)], { type: "image/png" }), "input.png");
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  return f;
}

async function errorOf(r: Response): Promise<[number, string, string]> {
  const body = (await r.json()) as { error: { code: string; message: string } };
  return [r.status, body.error.code, body.error.message];
}

/** A raw HTTP request with headers fetch will not send as given (Host, Origin). */
function raw(port: number, path: string, headers: Record<string, string>, method = "GET", body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, method, headers }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Opens a socket and resolves with how long the server kept it open while `dribble` wrote every 200 ms. */
function heldOpen(port: number, first: string, dribble: string): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const socket: Socket = connect(port, "127.0.0.1", () => socket.write(first));
    const timer = setInterval(() => socket.writable && socket.write(dribble), 200);
    socket.on("data", () => {});
    socket.on("error", () => {});
    socket.on("close", () => {
      clearInterval(timer);
      resolve(performance.now() - t0);
    });
  });
}

beforeAll(async () => {
  editor = await MgieEditor.load(MODEL, { threads: 1 });
  png = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#4080c0" } })
    .png()
    .toBuffer();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.app.close()));
});

describe("safe defaults", () => {
  it("refuses an empty or blank token at start-up instead of turning auth off", async () => {
    for (const token of ["", "   ", "\t"]) await expect(createServer(editor, { token })).rejects.toThrow(/token is empty/);
  });

  it("without a token answers only requests to a loopback name, from no page or its own (DNS rebinding, cross-site POST)", async () => {
    const { port } = await start();
    expect((await raw(port, "/v1/models", { host: `127.0.0.1:${port}` })).status).toBe(200);
    expect((await raw(port, "/v1/models", { host: `localhost:${port}` })).status).toBe(200);
    expect((await raw(port, "/v1/models", { host: `[::1]:${port}` })).status).toBe(200);
    const rebound = await raw(port, "/v1/models", { host: `evil.example:${port}` });
    expect([rebound.status, JSON.parse(rebound.body).error.code]).toEqual([403, "FORBIDDEN_HOST"]);
    const crossSite = await raw(
      port,
      "/v1/edits",
      { host: `127.0.0.1:${port}`, origin: "http://evil.example", "content-type": "application/json" },
      "POST",
      "{}",
    );
    expect([crossSite.status, JSON.parse(crossSite.body).error.code]).toEqual([403, "FORBIDDEN_ORIGIN"]);
    const ownPage = await raw(port, "/v1/models", { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` });
    expect(ownPage.status).toBe(200);
  });

  it("with a token, serves any Host (it is meant for the network)", async () => {
    const { port } = await start({ token: "s3cret" });
    const r = await raw(port, "/v1/models", { host: "mgie.internal", authorization: "Bearer s3cret" });
    expect(r.status).toBe(200);
  });

  it("answers malformed requests with 400 and the documented body: bad URL, multipart without boundary or with JSON inside, too many parts", async () => {
    const { url, port } = await start();
    const badUrl = await raw(port, "/v1/edits/%E0%A4%A", { host: `127.0.0.1:${port}` });
    expect(badUrl.status).toBe(400);
    expect(JSON.parse(badUrl.body).error).toMatchObject({ code: "FST_ERR_BAD_URL", message: expect.any(String) });
    const noBoundary = await fetch(`${url}/v1/edits`, { method: "POST", headers: { "content-type": "multipart/form-data" }, body: "--x\r\n" });
    expect((await errorOf(noBoundary)).slice(0, 1)).toEqual([400]);
    const jsonInside = await fetch(`${url}/v1/edits`, {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=abc" },
      body: JSON.stringify({ instruction: "x" }),
    });
    expect((await errorOf(jsonInside)).slice(0, 1)).toEqual([400]);
    const many = new FormData();
    for (let i = 0; i < 30; i++) many.append(`f${i}`, "x");
    const tooMany = await errorOf(await fetch(`${url}/v1/edits`, { method: "POST", body: many }));
    expect(tooMany[0]).toBe(400);
  });

  it("answers 503 with the documented body while shutting down", async () => {
    const gated = gatedEditor();
    const server = await start({ shutdownGraceMs: 5000 }, gated.editor);
    await fetch(`${server.url}/v1/edits`, { method: "POST", body: form({ instruction: "x", steps: "2" }) });
    await expect.poll(() => gated.signals.length, POLL).toBe(1);
    const closing = server.app.close();
    await expect.poll(() => server.store.isClosed, POLL).toBe(true);
    // While the running edit gets its grace period the server still listens: new requests get 503 and the JSON body.
    const r = await raw(server.port, "/v1/models", { host: `127.0.0.1:${server.port}` });
    expect([r.status, JSON.parse(r.body).error.code]).toEqual([503, "SHUTTING_DOWN"]);
    gated.open();
    await closing;
  });
});

describe("instruction length in the model's own tokens, before 202", () => {
  it("refuses 58 repetitions of 'make it brighter' and 1,000 emoji with 400, not a failed job", async () => {
    const { url } = await start();
    const repeated = Array(58).fill("make it brighter").join(" ");
    expect(repeated.length).toBeLessThanOrEqual(1000);
    const r1 = await errorOf(await fetch(`${url}/v1/edits`, { method: "POST", body: form({ instruction: repeated, steps: "2" }) }));
    expect(r1).toEqual([400, "INVALID_ARGUMENT", expect.stringMatching(/tokens/)]);
    const emoji = "😀".repeat(1000);
    const r2 = await errorOf(await fetch(`${url}/v1/edits`, { method: "POST", body: form({ instruction: emoji, steps: "2" }) }));
    expect(r2.slice(0, 2)).toEqual([400, "INVALID_ARGUMENT"]);
    const ok = await fetch(`${url}/v1/edits`, { method: "POST", body: form({ instruction: "make it brighter", steps: "2" }) });
    expect(ok.status).toBe(202);
  });
});

describe("admission and limits", () => {
  it("cuts off a client dribbling its headers within the headers timeout, and one dribbling its body within the request timeout", async () => {
    const { port } = await start({ headersTimeoutMs: 1000, requestTimeoutMs: 2000, idleTimeoutMs: 30_000 });
    const headers = await heldOpen(port, `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`, "X-Slow: 1\r\n");
    // Node checks every second: cut off between the timeout and one check later.
    expect(headers).toBeGreaterThanOrEqual(900);
    expect(headers).toBeLessThan(1000 + 1500);
    const body = await heldOpen(
      port,
      `POST /v1/edits HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"instruction":`,
      " ",
    );
    expect(body).toBeGreaterThanOrEqual(1900);
    expect(body).toBeLessThan(2000 + 1500);
  });

  it("caps open connections", async () => {
    const { port } = await start({ maxConnections: 3 });
    const sockets = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<Socket>((resolve) => {
            const s = connect(port, "127.0.0.1", () => resolve(s));
            s.on("error", () => {});
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    const open = sockets.filter((s) => !s.destroyed && s.readyState === "open");
    expect(open.length).toBe(3);
    for (const s of sockets) s.destroy();
  });

  it("refuses a body over the bytes-in-flight budget with 429 before reading it", async () => {
    const { url } = await start({ maxBytesInFlight: 10_000 });
    const big = Buffer.alloc(20_000, 1);
    const r = await fetch(`${url}/v1/edits`, { method: "POST", body: form({ instruction: "x" }, big) });
    expect((await errorOf(r)).slice(0, 2)).toEqual([429, "BUSY"]);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await fetch(`${url}/v1/edits`, { method: "POST", body: form({ instruction: "x", steps: "2" }) })).status).toBe(202);
  });

  it("bounds the uploads being decoded and those waiting to be", async () => {
    const slots = new Slots(1, 1);
    const first = await slots.acquire();
    const second = slots.acquire(); // waits
    expect(await slots.acquire()).toBeNull(); // no place left: refused at once
    first!();
    const release = await second;
    expect(slots.inUse).toBe(1);
    release!();
    expect(slots.inUse).toBe(0);
  });

  it("sets Retry-After from the measured drain rate", () => {
    const slow = new DrainRate();
    expect(slow.retryAfterSeconds()).toBe(2); // nothing measured yet
    for (const t of [0, 4000, 8000]) slow.finished(t);
    expect(slow.retryAfterSeconds()).toBe(4);
    const fast = new DrainRate();
    for (let t = 0; t <= 1000; t += 100) fast.finished(t);
    expect(fast.retryAfterSeconds()).toBe(1);
  });
});

describe("cancel", () => {
  it("DELETE removes a queued edit and aborts a running one through the pipeline's AbortSignal", async () => {
    const gated = gatedEditor();
    const { url } = await start({ concurrency: 1 }, gated.editor);
    const submit = async () =>
      ((await (await fetch(`${url}/v1/edits`, { method: "POST", body: form({ instruction: "x", steps: "2" }) })).json()) as { id: string }).id;
    const first = await submit();
    const second = await submit();
    await expect.poll(() => gated.signals.length, POLL).toBe(1);

    const queued = await fetch(`${url}/v1/edits/${second}`, { method: "DELETE" });
    expect(await queued.json()).toMatchObject({ status: "failed", error: { code: "CANCELLED" } });
    const cancelling = fetch(`${url}/v1/edits/${first}`, { method: "DELETE" });
    await expect.poll(() => gated.signals[0].aborted, POLL).toBe(true);
    gated.open();
    expect(await (await cancelling).json()).toMatchObject({ status: "failed", error: { code: "CANCELLED" } });
    expect(gated.signals.length).toBe(1); // the queued one never started
    expect((await fetch(`${url}/v1/edits/nope`, { method: "DELETE" })).status).toBe(404);
  });

  it("a synchronous client that hangs up cancels its edit", async () => {
    const gated = gatedEditor();
    const { port, store } = await start({ concurrency: 1 }, gated.editor);
    const req = httpRequest({ host: "127.0.0.1", port, path: "/v1/edits:sync", method: "POST", headers: { "content-type": "application/json" } });
    req.on("error", () => {});
    req.end(JSON.stringify({ instruction: "x", steps: 2, image: png.toString("base64") }));
    await expect.poll(() => gated.signals.length, POLL).toBe(1);
    req.destroy();
    await expect.poll(() => gated.signals[0].aborted, POLL).toBe(true);
    gated.open();
    await expect.poll(async () => (await store.stats()).running, POLL).toBe(0);
  });
});

describe("operable", () => {
  it("serves Prometheus metrics, health and readiness, and a request id on every response", async () => {
    const { url } = await start();
    const r = await fetch(`${url}/v1/edits:sync`, { method: "POST", body: form({ instruction: "x", steps: "2" }) });
    expect(r.status).toBe(200);
    expect(r.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^mgie_queue_depth 0$/m);
    expect(metrics).toMatch(/^mgie_workers 1$/m);
    expect(metrics).toMatch(/^mgie_edits_total\{outcome="done"\} 1$/m);
    expect(metrics).toMatch(/^mgie_edit_stage_seconds_count\{stage="diffusion"\} 1$/m);
    expect(metrics).toMatch(/^mgie_process_resident_memory_bytes \d+/m);
    const ready = await fetch(`${url}/readyz`);
    expect([ready.status, ((await ready.json()) as { store: { kind: string } }).store.kind]).toEqual([200, "local"]);
    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ status: "ok", queue: { workers: 1 } });
  });
});
