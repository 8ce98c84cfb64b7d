import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { MAX_INSTRUCTION_CHARS } from "../core/params.js";
import type { ByteBudget, Slots } from "./admission.js";
import { checkImage, type Editor, type ImageLimits, jobView, resolveParams } from "./editJobs.js";
import { readEditSubmission } from "./editSubmission.js";
import { ApiError } from "./httpErrors.js";
import { streamJobEvents } from "./jobEvents.js";
import { EXPIRED, isFinished, type JobRecord, type JobStore } from "./jobStore.js";
import type { ServerMetrics } from "./metrics.js";
import { openApiDocument } from "./openapi.js";
import { type Health, type ModelsResponse, modelView, type Readiness } from "./schemas.js";

export interface ApiContext {
  editor: Editor;
  store: JobStore;
  metrics: ServerMetrics;
  limits: ImageLimits;
  keepFinishedMs: number;
  tokenRequired: boolean;
  /** Uploads being decoded at once, and waiting to be. */
  decodes: Slots;
  /** Request bytes in flight. */
  bytesInFlight: ByteBudget;
  /** Largest request body accepted (what a request without Content-Length is counted as). */
  maxRequestBytes: number;
}

const busy = (what: string) => {
  const err = new ApiError(429, "BUSY", `the server is busy ${what}; try again in a second`);
  return Object.assign(err, { retryAfterSeconds: 1 });
};

/**
 * The HTTP API: edits (asynchronous, synchronous, status, cancel, image, events), models, health,
 * metrics, OpenAPI. `stopWaiting` answers the synchronous requests still waiting at shutdown with 503.
 */
export function registerApiRoutes(app: FastifyInstance, ctx: ApiContext): { stopWaiting(): void } {
  const { editor, store } = ctx;
  const waiting = new Map<string, (err: Error) => void>();

  /**
   * Before the body is read: refuses at once when the queue is full, or when the bodies in flight
   * would go over their byte budget; the reservation is released when the response ends.
   */
  const admit = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    await store.ensureCapacity();
    const declared = Number(request.headers["content-length"]);
    const bytes = Number.isFinite(declared) && declared >= 0 ? Math.min(declared, ctx.maxRequestBytes) : ctx.maxRequestBytes;
    const release = ctx.bytesInFlight.take(bytes);
    if (!release) throw busy("receiving other uploads");
    reply.raw.once("close", release);
  };

  /** Reads, validates and queues an edit: fields and instruction (in the model's tokens) first, then the image, decoded once. */
  async function submit(request: FastifyRequest): Promise<JobRecord> {
    const { image, mask, params } = await readEditSubmission(request);
    // The request is read: waiting for a decode slot or for the store is not the client being idle.
    request.raw.socket?.setTimeout(0);
    const resolved = resolveParams(params, editor);
    const release = await ctx.decodes.acquire();
    if (!release) throw busy("checking other uploads");
    try {
      await checkImage(image, ctx.limits);
      if (mask) await checkImage(mask, ctx.limits, "mask");
    } finally {
      release();
    }
    const job = await store.submit(resolved, { image, mask });
    request.log.info({ jobId: job.id }, "edit accepted");
    return job;
  }

  async function findJob(id: string): Promise<JobRecord> {
    const job = await store.get(id);
    if (job === EXPIRED) {
      const hours = Math.round((ctx.keepFinishedMs / 3600_000) * 10) / 10;
      throw new ApiError(
        410,
        "EXPIRED",
        `edit '${id}' finished and has expired (results are kept ${hours} h, within the server's disk budget): submit it again`,
      );
    }
    if (!job) throw new ApiError(404, "NOT_FOUND", `no edit '${id}': check the id (an expired edit answers 410)`);
    return job;
  }

  /** Resolves with the job once it is done or failed. */
  function finished(id: string): Promise<JobRecord> {
    return new Promise<JobRecord>((resolve, reject) => {
      const unsubscribe = store.subscribe(id, (job, event) => {
        if (event.type === "status" && isFinished(job)) {
          unsubscribe();
          resolve(job);
        }
      });
      waiting.set(id, (err) => {
        unsubscribe();
        reject(err);
      });
      findJob(id).then((job) => {
        if (isFinished(job)) {
          unsubscribe();
          resolve(job);
        }
      }, reject);
    }).finally(() => waiting.delete(id));
  }

  async function sendImage(reply: FastifyReply, job: JobRecord, headers: Record<string, string> = {}): Promise<FastifyReply> {
    const result = await store.result(job.id);
    if (!result) throw new ApiError(410, "EXPIRED", `the image of edit '${job.id}' has expired: submit it again`);
    return reply
      .header("content-type", "image/png")
      .header("content-length", String(result.bytes))
      .header("content-disposition", `inline; filename="mgie-${job.id.slice(0, 8)}.png"`)
      .header("cache-control", `private, max-age=${Math.floor(ctx.keepFinishedMs / 1000)}`)
      .headers(headers)
      .send(result.stream);
  }

  app.post("/v1/edits", { onRequest: admit }, async (request, reply) => {
    const job = await submit(request);
    return reply
      .code(202)
      .header("location", `/v1/edits/${job.id}`)
      .send(await jobView(job, store));
  });

  // "::" is a literal ":" in a Fastify route.
  app.post("/v1/edits::sync", { onRequest: admit }, async (request, reply) => {
    // From the end of the upload on, the connection waits for the edit, however long it takes.
    const accepted = await submit(request);
    // A client that hangs up before its result cancels the edit.
    const onClose = () => {
      if (!reply.raw.writableFinished) void store.cancel(accepted.id).catch(() => {});
    };
    reply.raw.once("close", onClose);
    const job = await finished(accepted.id);
    if (job.status === "failed") {
      reply.raw.off("close", onClose);
      const e = job.error!;
      const status = e.code === "INVALID_ARGUMENT" || e.code === "UNSUPPORTED_REQUEST" ? 400 : e.code === "CANCELLED" ? 409 : 500;
      throw new ApiError(status, e.code, e.message);
    }
    return sendImage(reply, job, { "x-edit-id": job.id, "x-expressive-instruction": encodeURIComponent(job.expressiveInstruction ?? "") });
  });

  app.get<{ Params: { id: string } }>("/v1/edits/:id", async (request) => jobView(await findJob(request.params.id), store));

  app.delete<{ Params: { id: string } }>("/v1/edits/:id", async (request) => {
    await findJob(request.params.id);
    const job = await store.cancel(request.params.id);
    if (job === undefined || job === EXPIRED) return jobView(await findJob(request.params.id), store);
    request.log.info({ jobId: job.id, status: job.status }, "edit cancel requested");
    return jobView(job, store);
  });

  app.get<{ Params: { id: string } }>("/v1/edits/:id/image", async (request, reply) => {
    const job = await findJob(request.params.id);
    if (job.status === "failed") throw new ApiError(409, "NOT_DONE", `edit '${job.id}' failed, so it has no image: ${job.error!.message}`);
    if (job.status !== "done") {
      throw new ApiError(409, "NOT_DONE", `edit '${job.id}' is ${job.status}; fetch the image once GET /v1/edits/${job.id} says done (or follow its /events)`);
    }
    return sendImage(reply, job);
  });

  app.get<{ Params: { id: string } }>("/v1/edits/:id/events", async (request, reply) => {
    await streamJobEvents(reply, await findJob(request.params.id), store);
  });

  app.get("/v1/models", async (): Promise<ModelsResponse> => {
    return {
      models: [modelView(editor.manifest)],
      limits: { ...ctx.limits, maxInstructionChars: MAX_INSTRUCTION_CHARS },
    };
  });

  app.get("/healthz", async (_request, reply) => {
    const health: Health = { status: store.isClosed ? "shutting-down" : "ok", queue: await store.stats() };
    return reply.code(store.isClosed ? 503 : 200).send(health);
  });

  app.get("/readyz", async (_request, reply) => {
    const s = await store.ready();
    const m = editor.manifest;
    const body: Readiness = {
      ready: s.ok,
      model: `${m.name} (${m.resolution}x${m.resolution}) loaded`,
      store: { kind: store.kind, ok: s.ok, detail: s.detail },
    };
    return reply.code(s.ok ? 200 : 503).send(body);
  });

  app.get("/metrics", async (_request, reply) => reply.header("content-type", ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics()));

  const openApi = openApiDocument({ tokenRequired: ctx.tokenRequired });
  app.get("/openapi.json", async () => openApi);

  return {
    stopWaiting() {
      for (const [id, reject] of waiting) {
        const message = `the server is shutting down before edit '${id}' finished; it is kept and runs when the server is back: follow GET /v1/edits/${id}`;
        reject(new ApiError(503, "SHUTTING_DOWN", message, undefined, 5));
      }
    },
  };
}
