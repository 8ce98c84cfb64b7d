import type { FastifyInstance, FastifyRequest } from "fastify";
import { MAX_INSTRUCTION_CHARS } from "../core/params.js";
import { modelDefaults } from "../models/modelDir.js";
import { checkImage, type EditJob, type Editor, type EditQueue, type ImageLimits, jobView, resolveParams } from "./editJobs.js";
import { readEditSubmission } from "./editSubmission.js";
import { ApiError } from "./httpErrors.js";
import { streamJobEvents } from "./jobEvents.js";
import { openApiDocument } from "./openapi.js";
import { type Health, type ModelsResponse, parameterViews } from "./schemas.js";

export interface ApiContext {
  editor: Editor;
  queue: EditQueue;
  limits: ImageLimits;
  keepFinishedMs: number;
  tokenRequired: boolean;
}

/** The HTTP API: edits (asynchronous, synchronous, status, image, events), models, health, OpenAPI. */
export function registerApiRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { editor, queue } = ctx;

  /** Reads, validates and queues an edit; refuses at once when the queue is full. */
  async function submit(request: FastifyRequest): Promise<EditJob> {
    queue.ensureCapacity(); // before the upload is decoded: a busy server should answer 429 cheaply
    const { image, mask, params } = await readEditSubmission(request);
    await checkImage(image, ctx.limits);
    if (mask) await checkImage(mask, ctx.limits, "mask");
    return queue.submit({ params: resolveParams(params, editor) }, { image, mask });
  }

  function findJob(id: string): EditJob {
    const job = queue.get(id);
    if (!job) {
      const minutes = Math.round(ctx.keepFinishedMs / 60_000);
      throw new ApiError(404, "NOT_FOUND", `no edit '${id}': it never existed, or it finished more than ${minutes} min ago and was dropped`);
    }
    return job;
  }

  app.post("/v1/edits", async (request, reply) => {
    const job = await submit(request);
    return reply.code(202).header("location", `/v1/edits/${job.id}`).send(jobView(job, queue));
  });

  // "::" is a literal ":" in a Fastify route.
  app.post("/v1/edits::sync", async (request, reply) => {
    const job = await queue.finishedJob((await submit(request)).id);
    if (job.status === "failed") {
      const e = job.error!;
      const status = e.code === "SHUTTING_DOWN" || e.code === "ABORTED" ? 503 : e.code === "INVALID_ARGUMENT" ? 400 : 500;
      throw new ApiError(status, e.code, e.message);
    }
    const r = job.result!;
    return reply
      .header("content-type", "image/png")
      .header("x-edit-id", job.id)
      .header("x-expressive-instruction", encodeURIComponent(r.expressiveInstruction))
      .send(r.png);
  });

  app.get<{ Params: { id: string } }>("/v1/edits/:id", async (request) => jobView(findJob(request.params.id), queue));

  app.get<{ Params: { id: string } }>("/v1/edits/:id/image", async (request, reply) => {
    const job = findJob(request.params.id);
    if (job.status === "failed") throw new ApiError(409, "NOT_DONE", `edit '${job.id}' failed, so it has no image: ${job.error!.message}`);
    if (job.status !== "done") {
      throw new ApiError(409, "NOT_DONE", `edit '${job.id}' is ${job.status}; fetch the image once GET /v1/edits/${job.id} says done (or follow its /events)`);
    }
    return reply
      .header("content-type", "image/png")
      .header("content-disposition", `inline; filename="mgie-${job.id.slice(0, 8)}.png"`)
      .header("cache-control", `private, max-age=${Math.floor(ctx.keepFinishedMs / 1000)}`)
      .send(job.result!.png);
  });

  app.get<{ Params: { id: string } }>("/v1/edits/:id/events", async (request, reply) => {
    streamJobEvents(reply, findJob(request.params.id), queue);
  });

  app.get("/v1/models", async (): Promise<ModelsResponse> => {
    const m = editor.manifest;
    return {
      models: [
        {
          name: m.name,
          variant: m.variant,
          resolution: m.resolution,
          regionHead: m.components.region_head !== undefined,
          parameters: parameterViews(modelDefaults(m)),
        },
      ],
      limits: { ...ctx.limits, maxInstructionChars: MAX_INSTRUCTION_CHARS },
    };
  });

  app.get("/healthz", async (_request, reply) => {
    const health: Health = { status: queue.isClosed ? "shutting-down" : "ok", queue: queue.stats() };
    return reply.code(queue.isClosed ? 503 : 200).send(health);
  });

  const openApi = openApiDocument({ tokenRequired: ctx.tokenRequired });
  app.get("/openapi.json", async () => openApi);
}
