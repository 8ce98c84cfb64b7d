import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { MgieError } from "../src/errors.js";
import { MgieEditor } from "../src/pipeline/editor.js";
import { createServer, type MgieServer, type ServerOptions } from "../src/server/app.js";
import type { Editor } from "../src/server/editJobs.js";

/**
 * The HTTP API against a real server on a loopback port, with the tiny test model (32x32, noise
 * out, ~50 ms an edit at 2 steps). Tests that need an edit to stay queued or running wrap the
 * editor behind a gate they open themselves, so nothing depends on timing.
 */
const MODEL = fileURLToPath(new URL("./fixtures/tiny-model", import.meta.url));
let editor: MgieEditor;
let png: Buffer;
let jpeg: Buffer;
const running: MgieServer[] = [];
/** Generous: the machine may be busy with other work. */
const POLL = { timeout: 10_000 };

interface Started extends MgieServer {
  url: string;
}

async function start(options: Partial<ServerOptions> = {}, ed: Editor = editor): Promise<Started> {
  const server = await createServer(ed, options);
  const url = await server.app.listen({ host: "127.0.0.1", port: 0 });
  running.push(server);
  return { ...server, url };
}

/** An editor whose edits wait until `open()`; `entered` counts edits that reached the gate. */
function gatedEditor(): { editor: Editor; open: () => void; entered: () => number } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let entered = 0;
  return {
    editor: {
      manifest: editor.manifest,
      edit: async (...args: Parameters<MgieEditor["edit"]>) => {
        entered++;
        await gate;
        return editor.edit(...args);
      },
    },
    open,
    entered: () => entered,
  };
}

function form(fields: Record<string, string | number>, image: Uint8Array | null = png, type = "image/png"): FormData {
  const f = new FormData();
  if (image) f.append("image", new Blob([new Uint8Array(image)], { type }), "input");
  for (const [k, v] of Object.entries(fields)) f.append(k, String(v));
  return f;
}

async function post(url: string, body: FormData | object, headers: Record<string, string> = {}): Promise<Response> {
  if (body instanceof FormData) return fetch(`${url}/v1/edits`, { method: "POST", body, headers });
  return fetch(`${url}/v1/edits`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });
}

async function errorOf(response: Response): Promise<{ status: number; code: string; message: string; field?: string }> {
  const body = (await response.json()) as { error: { code: string; message: string; field?: string } };
  return { status: response.status, ...body.error };
}

interface Job {
  id: string;
  status: string;
  position: number | null;
  expressiveInstruction: string | null;
  timings: Record<string, number> | null;
  error: { code: string; message: string } | null;
  params: Record<string, unknown>;
}

async function getJob(url: string, id: string): Promise<Job> {
  const r = await fetch(`${url}/v1/edits/${id}`);
  expect(r.status).toBe(200);
  return (await r.json()) as Job;
}

async function waitFinished(url: string, id: string): Promise<Job> {
  for (;;) {
    const job = await getJob(url, id);
    if (job.status === "done" || job.status === "failed") return job;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Reads an SSE response to its end. */
async function readEvents(response: Response): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const text = await response.text();
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("event:"))
    .map((block) => {
      const [eventLine, dataLine] = block.split("\n");
      return { event: eventLine.slice("event: ".length), data: JSON.parse(dataLine.slice("data: ".length)) as Record<string, unknown> };
    });
}

beforeAll(async () => {
  editor = await MgieEditor.load(MODEL, { threads: 1 });
  const w = 64;
  const h = 48;
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set([x * 4, y * 5, 128], (y * w + x) * 3);
  png = await sharp(raw, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
  jpeg = await sharp(png).jpeg().toBuffer();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.app.close()));
});

describe("mgie serve API: edits", () => {
  it("runs a multipart edit: 202, status, the PNG at the photo's own size", async () => {
    const { url } = await start();
    const r = await post(
      url,
      form({ instruction: "make it brighter", steps: 2, seed: 3, cfgText: 5, cfgImage: 1.2, changeThreshold: 0.05, regionThreshold: 0.4, scheduler: "ddim" }),
    );
    expect(r.status).toBe(202);
    const accepted = (await r.json()) as Job;
    expect(r.headers.get("location")).toBe(`/v1/edits/${accepted.id}`);
    expect(["queued", "running"]).toContain(accepted.status);
    expect(accepted.params).toEqual({
      instruction: "make it brighter",
      steps: 2,
      seed: 3,
      cfgText: 5,
      cfgImage: 1.2,
      changeThreshold: 0.05,
      regionThreshold: 0.4,
      scheduler: "ddim",
    });

    const job = await waitFinished(url, accepted.id);
    expect(job.status).toBe("done");
    expect(typeof job.expressiveInstruction).toBe("string");
    expect(job.timings!.total).toBeGreaterThan(0);
    expect(job.timings!.diffusion).toBeGreaterThan(0);
    expect(job.error).toBeNull();

    const image = await fetch(`${url}/v1/edits/${job.id}/image`);
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toBe("image/png");
    const meta = await sharp(Buffer.from(await image.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["png", 64, 48]); // the upload's size, not the model's 32x32
  });

  it("runs a JSON edit with a base64 image (data: URL too) and fills in the model's defaults", async () => {
    const { url } = await start();
    const plain = await post(url, { image: jpeg.toString("base64"), instruction: "add a blue tint", steps: 2 });
    expect(plain.status).toBe(202);
    const job = (await plain.json()) as Job;
    const d = editor.manifest.diffusion;
    expect(job.params).toEqual({
      instruction: "add a blue tint",
      steps: 2,
      seed: 0,
      cfgText: d.cfg_text,
      cfgImage: d.cfg_image,
      changeThreshold: d.change_threshold,
      regionThreshold: d.region_threshold,
      scheduler: "euler-ancestral",
    });
    expect((await waitFinished(url, job.id)).status).toBe("done");

    const dataUrl = await post(url, { image: `data:image/png;base64,${png.toString("base64")}`, instruction: "add a blue tint", steps: 2 });
    expect(dataUrl.status).toBe(202);
    expect((await waitFinished(url, ((await dataUrl.json()) as Job).id)).status).toBe("done");
  });

  it("gives the same image for the same input and seed, by multipart, JSON or the synchronous route", async () => {
    const { url } = await start();
    const fields = { instruction: "make it warmer", steps: 2, seed: 7 };
    const a = ((await (await post(url, form(fields))).json()) as Job).id;
    const b = ((await (await post(url, { ...fields, image: png.toString("base64") })).json()) as Job).id;
    await waitFinished(url, a);
    const jobB = await waitFinished(url, b);
    const imageA = Buffer.from(await (await fetch(`${url}/v1/edits/${a}/image`)).arrayBuffer());
    const imageB = Buffer.from(await (await fetch(`${url}/v1/edits/${b}/image`)).arrayBuffer());
    expect(imageA.equals(imageB)).toBe(true);

    const sync = await fetch(`${url}/v1/edits:sync`, { method: "POST", body: form(fields) });
    expect(sync.status).toBe(200);
    expect(sync.headers.get("content-type")).toBe("image/png");
    expect(decodeURIComponent(sync.headers.get("x-expressive-instruction")!)).toBe(jobB.expressiveInstruction);
    expect(Buffer.from(await sync.arrayBuffer()).equals(imageA)).toBe(true);
    expect((await getJob(url, sync.headers.get("x-edit-id")!)).status).toBe("done");
  });

  it("streams SSE in order: the current state, every stage and diffusion step, then done", async () => {
    const gated = gatedEditor();
    const { url } = await start({}, gated.editor);
    const job = (await (await post(url, form({ instruction: "make it brighter", steps: 2 }))).json()) as Job;
    const stream = await fetch(`${url}/v1/edits/${job.id}/events`);
    expect(stream.headers.get("content-type")).toMatch(/^text\/event-stream/);
    gated.open(); // the stream is subscribed once its headers have arrived
    const events = await readEvents(stream);

    expect(events[0]).toMatchObject({ event: "status", data: { id: job.id, status: "running" } });
    expect(events.at(-1)).toMatchObject({ event: "done", data: { status: "done" } });
    const progress = events.filter((e) => e.event === "progress").map((e) => e.data);
    const stages = progress.map((p) => p.stage).filter((s, i, all) => s !== all[i - 1]);
    expect(stages).toEqual(["preprocess", "mllm", "edit-head", "vae-encode", "diffusion", "vae-decode", "render"]);
    expect(progress.filter((p) => p.step !== undefined)).toEqual([
      { stage: "diffusion", step: 1, steps: 2 },
      { stage: "diffusion", step: 2, steps: 2 },
    ]);
    expect(events.map((e) => e.event).filter((e) => e !== "progress")).toEqual(["status", "done"]);

    // A subscriber after the end still gets the final state, and the stream ends.
    const late = await readEvents(await fetch(`${url}/v1/edits/${job.id}/events`));
    expect(late.map((e) => e.event)).toEqual(["status", "done"]);
    expect(late[1].data.expressiveInstruction).toBe(events.at(-1)!.data.expressiveInstruction);
  });

  it("reports a failed edit on its status and events, and keeps serving", async () => {
    const failing: Editor = {
      manifest: editor.manifest,
      edit: async () => {
        throw new MgieError("MODEL_RUNTIME", "the UNet ran out of memory");
      },
    };
    const { url } = await start({}, failing);
    const id = ((await (await post(url, form({ instruction: "x", steps: 2 }))).json()) as Job).id;
    const job = await waitFinished(url, id);
    expect(job.status).toBe("failed");
    expect(job.error).toEqual({ code: "MODEL_RUNTIME", message: "the UNet ran out of memory" });
    const image = await errorOf(await fetch(`${url}/v1/edits/${id}/image`));
    expect(image.status).toBe(409);
    expect(image.message).toMatch(/failed.*out of memory/);
    expect((await readEvents(await fetch(`${url}/v1/edits/${id}/events`))).map((e) => e.event)).toEqual(["status", "failed"]);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});

describe("mgie serve API: bad requests are 4xx with a message, never a 500", () => {
  it("names the field of a missing, empty, too long or out-of-range parameter", async () => {
    const { url } = await start();
    const cases: [Record<string, string | number>, string, RegExp][] = [
      [{}, "instruction", /instruction is missing/],
      [{ instruction: "   " }, "instruction", /instruction is empty/],
      [{ instruction: "x".repeat(1001) }, "instruction", /1001 characters; at most 1000/],
      [{ instruction: "x", steps: 0 }, "steps", /steps must be a whole number from 1 to 100, got 0/],
      [{ instruction: "x", steps: 101 }, "steps", /from 1 to 100, got 101/],
      [{ instruction: "x", steps: 2.5 }, "steps", /whole number/],
      [{ instruction: "x", steps: "many" }, "steps", /got "many"/],
      [{ instruction: "x", seed: -1 }, "seed", /seed must be a whole number from 0/],
      [{ instruction: "x", cfgText: -0.5 }, "cfgText", /cfgText must be a number from 0 to 100/],
      [{ instruction: "x", cfgImage: 101 }, "cfgImage", /cfgImage must be a number from 0 to 100/],
      [{ instruction: "x", regionThreshold: 1.5 }, "regionThreshold", /regionThreshold must be a number from 0 to 1/],
      [{ instruction: "x", scheduler: "plms" }, "scheduler", /one of euler-ancestral, ddim/],
      [{ instruction: "x", cfg_text: 3 }, "cfg_text", /unknown field 'cfg_text'/],
    ];
    for (const [fields, field, message] of cases) {
      for (const body of [form(fields), { ...fields, image: png.toString("base64") }]) {
        const e = await errorOf(await post(url, body));
        expect([e.status, e.code, e.field], JSON.stringify(fields)).toEqual([400, "INVALID_ARGUMENT", field]);
        expect(e.message).toMatch(message);
      }
    }
    const noImage = await errorOf(await post(url, form({ instruction: "x" }, null)));
    expect([noImage.status, noImage.field]).toEqual([400, "image"]);
    const jsonNoImage = await errorOf(await post(url, { instruction: "x" }));
    expect([jsonNoImage.status, jsonNoImage.field]).toEqual([400, "image"]);
    const textImage = await errorOf(await post(url, form({ instruction: "x", image: "abc" }, null)));
    expect([textImage.status, textImage.message]).toEqual([400, expect.stringMatching(/image is a text field: send it as a file/)]);
    const numbers = await errorOf(await post(url, { instruction: 5, image: 5 }));
    expect([numbers.status, numbers.field, numbers.message]).toEqual([400, "instruction", "instruction must be text"]);
    const badBase64 = await errorOf(await post(url, { instruction: "x", image: "not base64!" }));
    expect([badBase64.status, badBase64.message]).toEqual([400, expect.stringMatching(/not valid base64/)]);
  });

  it("refuses a region threshold for a model without a region head, and takes 0", async () => {
    const { region_head: _, ...components } = editor.manifest.components;
    const manifest = { ...editor.manifest, components, diffusion: { ...editor.manifest.diffusion, region_threshold: 0 } };
    const { url } = await start({}, { manifest, edit: editor.edit.bind(editor) });
    const e = await errorOf(await post(url, form({ instruction: "x", regionThreshold: 0.3 })));
    expect([e.status, e.code, e.message]).toEqual([
      400,
      "INVALID_ARGUMENT",
      expect.stringMatching(/regionThreshold must be 0: this mgie-e2e model has no region head/),
    ]);
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { models: { regionHead: boolean }[] };
    expect(models.models[0].regionHead).toBe(false);
    const ok = await post(url, form({ instruction: "x", regionThreshold: 0, steps: 1 }));
    expect(ok.status).toBe(202);
    await waitFinished(url, ((await ok.json()) as Job).id);
  });

  it("confines an edit to a mask (multipart or JSON): outside it the result is the upload bit for bit", async () => {
    const { url } = await start();
    // The left half may change; the mask is given at another size than the photo (it is resized).
    const mask = await sharp({ create: { width: 32, height: 24, channels: 3, background: "black" } })
      .composite([
        {
          input: await sharp({ create: { width: 16, height: 24, channels: 3, background: "white" } })
            .png()
            .toBuffer(),
          left: 0,
          top: 0,
        },
      ])
      .png()
      .toBuffer();
    const original = await sharp(png).raw().toBuffer();
    const body = form({ instruction: "make it brighter", steps: 2 });
    body.append("mask", new Blob([mask], { type: "image/png" }), "mask.png");
    for (const request of [body, { image: png.toString("base64"), mask: mask.toString("base64"), instruction: "make it brighter", steps: 2 }]) {
      const accepted = (await (await post(url, request)).json()) as Job;
      expect(accepted.error ?? null, JSON.stringify(accepted)).toBeNull();
      const job = await waitFinished(url, accepted.id);
      expect(job.status).toBe("done");
      const out = await sharp(Buffer.from(await (await fetch(`${url}/v1/edits/${job.id}/image`)).arrayBuffer()))
        .raw()
        .toBuffer();
      // The right half of the 64x48 photo (the mask is black there, away from the feathered edge) is untouched.
      for (let y = 0; y < 48; y++)
        for (let x = 36; x < 64; x++) for (let c = 0; c < 3; c++) expect(out[(y * 64 + x) * 3 + c]).toBe(original[(y * 64 + x) * 3 + c]);
    }
    const notImage = await errorOf(await post(url, { image: png.toString("base64"), mask: Buffer.from("not an image").toString("base64"), instruction: "x" }));
    expect([notImage.status, notImage.field]).toEqual([415, "mask"]);
  });

  it("refuses unsupported (415), corrupt or empty (400) images", async () => {
    const { url } = await start();
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    const cases: [Uint8Array, number, string][] = [
      [Buffer.from("hello, this is text"), 415, "IMAGE_UNREADABLE"],
      [svg, 415, "IMAGE_FORMAT"],
      [png.subarray(0, Math.floor(png.length / 2)), 400, "IMAGE_CORRUPT"],
      [Buffer.alloc(0), 400, "IMAGE_EMPTY"],
    ];
    for (const [bytes, status, code] of cases) {
      const multipart = await errorOf(await post(url, form({ instruction: "x" }, bytes)));
      expect([multipart.status, multipart.code, multipart.field], code).toEqual([status, code, "image"]);
      expect(multipart.message).toMatch(/PNG|corrupt|empty/);
    }
    const json = await errorOf(await post(url, { instruction: "x", image: svg.toString("base64") }));
    expect([json.status, json.code]).toEqual([415, "IMAGE_FORMAT"]);
  });

  it("refuses a body of another type (415) and malformed JSON (400)", async () => {
    const { url } = await start();
    const text = await errorOf(await fetch(`${url}/v1/edits`, { method: "POST", body: "make it brighter", headers: { "content-type": "text/plain" } }));
    expect([text.status, text.message]).toEqual([415, expect.stringMatching(/multipart\/form-data.*application\/json/)]);
    const xml = await errorOf(await fetch(`${url}/v1/edits`, { method: "POST", body: "<a/>", headers: { "content-type": "application/xml" } }));
    expect(xml.status).toBe(415);
    const broken = await errorOf(await fetch(`${url}/v1/edits`, { method: "POST", body: "{", headers: { "content-type": "application/json" } }));
    expect(broken.status).toBe(400);
    const array = await errorOf(await post(url, [1, 2]));
    expect(array.status).toBe(400);
  });

  it("refuses an image over the byte or pixel limit with 413", async () => {
    const small = await start({ maxImageBytes: png.length - 1 });
    const bytes = await errorOf(await post(small.url, form({ instruction: "x" })));
    expect([bytes.status, bytes.message]).toEqual([413, expect.stringMatching(/over the limit of \d+ bytes/)]);
    const jsonBody = await errorOf(await post(small.url, { instruction: "x", image: Buffer.alloc(4 * png.length).toString("base64") }));
    expect(jsonBody.status).toBe(413);

    const { url } = await start({ maxImagePixels: 1000 });
    const pixels = await errorOf(await post(url, form({ instruction: "x" })));
    expect([pixels.status, pixels.code, pixels.message]).toEqual([
      413,
      "IMAGE_TOO_LARGE",
      expect.stringMatching(/64x48 = 3072 pixels, over the limit of 1000/),
    ]);
  });

  it("answers 404 for an unknown edit or route and 409 for the image of an unfinished edit", async () => {
    const gated = gatedEditor();
    const { url } = await start({}, gated.editor);
    for (const path of ["/v1/edits/nope", "/v1/edits/nope/image", "/v1/edits/nope/events"]) {
      const e = await errorOf(await fetch(url + path));
      expect([e.status, e.code], path).toEqual([404, "NOT_FOUND"]);
    }
    expect((await errorOf(await fetch(`${url}/v2/things`))).message).toMatch(/no route GET \/v2\/things/);

    const id = ((await (await post(url, form({ instruction: "x", steps: 2 }))).json()) as Job).id;
    const notYet = await errorOf(await fetch(`${url}/v1/edits/${id}/image`));
    expect([notYet.status, notYet.code, notYet.message]).toEqual([409, "NOT_DONE", expect.stringMatching(/is running/)]);
    gated.open();
    expect((await waitFinished(url, id)).status).toBe("done");
    expect((await fetch(`${url}/v1/edits/${id}/image`)).status).toBe(200);
  });
});

describe("mgie serve API: queue", () => {
  it("completes every one of N parallel submissions", async () => {
    const { url } = await start({ concurrency: 2 });
    const n = 8;
    const responses = await Promise.all(Array.from({ length: n }, (_, i) => post(url, form({ instruction: `edit ${i}`, steps: 2, seed: i }))));
    expect(responses.map((r) => r.status)).toEqual(Array(n).fill(202));
    const ids = await Promise.all(responses.map(async (r) => ((await r.json()) as Job).id));
    expect(new Set(ids).size).toBe(n);
    const jobs = await Promise.all(ids.map((id) => waitFinished(url, id)));
    expect(jobs.map((j) => j.status)).toEqual(Array(n).fill("done"));
  });

  it("refuses with 429 and Retry-After beyond the queue limit, reports queue positions, and runs what it accepted", async () => {
    const gated = gatedEditor();
    const { url } = await start({ concurrency: 1, maxQueued: 2 }, gated.editor);
    const submit = async () => post(url, form({ instruction: "x", steps: 2 }));
    const accepted: Job[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await submit();
      expect(r.status).toBe(202);
      accepted.push((await r.json()) as Job);
    }
    expect(accepted.map((j) => [j.status, j.position])).toEqual([
      ["running", null],
      ["queued", 1],
      ["queued", 2],
    ]);

    const refused = await submit();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await errorOf(refused)).code).toBe("QUEUE_FULL");
    const health = (await (await fetch(`${url}/healthz`)).json()) as { queue: unknown };
    expect(health.queue).toEqual({ running: 1, queued: 2, concurrency: 1, maxQueued: 2, workers: 1 });

    const last = await fetch(`${url}/v1/edits/${accepted[2].id}/events`);
    gated.open();
    const statuses = (await readEvents(last)).filter((e) => e.event !== "progress").map((e) => [e.event, e.data.status, e.data.position]);
    expect(statuses).toEqual([
      ["status", "queued", 2],
      ["status", "queued", 1],
      ["status", "running", null],
      ["done", "done", null],
    ]);
    const jobs = await Promise.all(accepted.map((j) => waitFinished(url, j.id)));
    expect(jobs.map((j) => j.status)).toEqual(["done", "done", "done"]);
    expect((await submit()).status).toBe(202);
  });

  it("on shutdown lets the running edit finish, keeps the waiting one on disk for the next start, and refuses new ones", async () => {
    const gated = gatedEditor();
    const dataDir = await mkdtemp(join(tmpdir(), "mgie-serve-test-"));
    const server = await start({ concurrency: 1, dataDir }, gated.editor);
    const first = ((await (await post(server.url, form({ instruction: "x", steps: 2 }))).json()) as Job).id;
    const second = ((await (await post(server.url, form({ instruction: "y", steps: 2 }))).json()) as Job).id;
    await expect.poll(gated.entered, POLL).toBe(1);
    const closed = server.app.close();
    await expect.poll(() => server.store.isClosed, POLL).toBe(true);
    await expect(server.store.submit((await server.store.get(first)) as never, { image: png })).rejects.toThrow(/shutting down/);
    gated.open();
    await closed;
    expect(await server.store.get(first)).toMatchObject({ status: "done" });
    expect(await server.store.get(second)).toMatchObject({ status: "queued" });

    const again = await start({ dataDir });
    expect((await waitFinished(again.url, second)).status).toBe("done");
    expect((await fetch(`${again.url}/v1/edits/${first}/image`)).status).toBe(200);
  });
});

describe("mgie serve API: models, health, OpenAPI, auth", () => {
  it("describes the model, its defaults and the limits; reports health; serves OpenAPI 3", async () => {
    const { url } = await start();
    const models = (await (await fetch(`${url}/v1/models`)).json()) as {
      models: { parameters: { name: string; default: unknown; max?: number }[] }[];
      limits: Record<string, number>;
    };
    const d = editor.manifest.diffusion;
    expect(models.models).toEqual([{ name: "mgie-e2e", variant: "mgie-e2e", resolution: 32, regionHead: true, parameters: expect.any(Array) }]);
    const parameters = Object.fromEntries(models.models[0].parameters.map((p) => [p.name, p]));
    expect(Object.keys(parameters)).toEqual(["cfgText", "cfgImage", "changeThreshold", "regionThreshold", "steps", "seed", "scheduler"]);
    const defaults = Object.fromEntries(Object.entries(parameters).map(([name, p]) => [name, p.default]));
    expect(defaults).toEqual({
      steps: d.steps,
      seed: 0,
      cfgText: d.cfg_text,
      cfgImage: d.cfg_image,
      changeThreshold: d.change_threshold,
      regionThreshold: d.region_threshold,
      scheduler: "euler-ancestral",
    });
    expect(parameters.steps.max).toBe(100); // a server bounds the work one request may ask for
    expect(models.limits).toMatchObject({ maxInstructionChars: 1000 });
    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ status: "ok" });

    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties?: object }> };
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/edits", "/v1/edits:sync", "/v1/edits/{id}", "/v1/edits/{id}/image", "/v1/edits/{id}/events", "/v1/models", "/healthz"]),
    );
    expect(Object.keys(doc.components.schemas.EditJsonRequest.properties!)).toEqual([
      "instruction",
      "cfgText",
      "cfgImage",
      "changeThreshold",
      "regionThreshold",
      "steps",
      "seed",
      "scheduler",
      "image",
      "mask",
    ]);
  });

  it("with a token, refuses every API route without it (401) and serves the page's files to anyone", async () => {
    const { url } = await start({ token: "s3cret" });
    const routes: [string, RequestInit?][] = [
      ["/v1/models"],
      ["/healthz"],
      ["/openapi.json"],
      ["/v1/edits/some-id"],
      ["/v1/edits", { method: "POST", body: form({ instruction: "x" }) }],
    ];
    for (const [path, init] of routes) {
      const missing = await fetch(url + path, init);
      expect(missing.status, path).toBe(401);
      expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect((await errorOf(missing)).message).toMatch(/Authorization: Bearer/);
      const wrong = await fetch(url + path, { ...init, headers: { authorization: "Bearer nope" } });
      expect([wrong.status, (await errorOf(wrong)).message]).toEqual([401, "the bearer token is wrong"]);
    }
    const auth = { authorization: "Bearer s3cret" };
    expect((await fetch(`${url}/v1/models`, { headers: auth })).status).toBe(200);
    const r = await post(url, form({ instruction: "x", steps: 2 }), auth);
    expect(r.status).toBe(202);
    const id = ((await r.json()) as Job).id;
    await expect.poll(async () => ((await (await fetch(`${url}/v1/edits/${id}`, { headers: auth })).json()) as Job).status, POLL).toBe("done");
    expect((await fetch(`${url}/v1/edits/${id}/image`, { headers: auth })).status).toBe(200);

    for (const path of ["/", "/app.js", "/api.js", "/style.css"]) expect((await fetch(url + path)).status, path).toBe(200);
    const page = await fetch(url);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toMatch(/default-src 'self'/);
  });
});
