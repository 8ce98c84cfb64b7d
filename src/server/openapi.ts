import { z } from "zod";
import {
  EditJsonBodySchema,
  EditParamsSchema,
  ErrorBodySchema,
  HealthSchema,
  JobViewSchema,
  ModelsResponseSchema,
  ProgressSchema,
  ReadinessSchema,
} from "./schemas.js";

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses) of a request or response schema. */
function schema(s: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(s, { io, unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string) => ({ "application/json": { schema: ref(name) } });
const error = (description: string) => ({ description, content: json("Error") });
const idParam = {
  name: "id",
  in: "path",
  required: true,
  schema: { type: "string", format: "uuid", maxLength: 36 },
  description: "the id POST /v1/edits returned (a UUID)",
};

/**
 * The OpenAPI 3.1 description of the HTTP API, served at GET /openapi.json. The request and
 * response schemas are generated from the zod schemas the server validates with, so they cannot
 * drift; the paths are written here.
 */
export function openApiDocument(options: { tokenRequired: boolean }): Record<string, unknown> {
  const formBody = schema(EditParamsSchema, "input") as { properties: Record<string, unknown>; required: string[] };
  const multipart = {
    ...formBody,
    properties: {
      image: { type: "string", format: "binary", description: "the image file: JPEG, PNG, WebP, GIF, TIFF or AVIF" },
      mask: {
        type: "string",
        format: "binary",
        description: "optional: an image confining the edit, white where it may act, black where the photo stays exactly as it is (any size)",
      },
      ...formBody.properties,
    },
    required: ["image", ...formBody.required],
  };
  const editBody = {
    required: true,
    content: { "multipart/form-data": { schema: multipart }, "application/json": { schema: ref("EditJsonRequest") } },
  };
  const badRequest = {
    "400": error("a field is missing or out of range (the error names it), or the image is corrupt or empty"),
    "413": error("the image is over the byte or pixel limit (GET /v1/models says them)"),
    "415": error("the image is not in a format mgie reads (JPEG, PNG, WebP, GIF, TIFF, AVIF), or the body is neither multipart nor JSON"),
    "429": {
      ...error("the queue is full (QUEUE_FULL), or the server is busy receiving or checking other uploads (BUSY); try again after Retry-After seconds"),
      headers: { "Retry-After": { schema: { type: "integer" } } },
    },
    "503": { ...error("the server is shutting down, or its storage budget is full"), headers: { "Retry-After": { schema: { type: "integer" } } } },
  };
  // Every route may answer these: a bad token, or (without a token) a request not to a loopback name or from another site's page.
  const auth = options.tokenRequired
    ? { "401": error("the bearer token is missing or wrong") }
    : { "403": error("without a token the server answers only requests to a loopback name, from no page or its own") };
  const common = { ...auth, "400": error("a malformed request (e.g. a bad URL)"), "503": error("the server is shutting down") };
  const gone = { "404": error("no such edit"), "410": error("the edit finished and expired") };
  return {
    openapi: "3.1.0",
    info: {
      title: "mgie",
      version: "1.0.0",
      description:
        "MLLM-guided image editing. Submit an image and an instruction; the edit runs in a bounded queue. " +
        "Follow it by polling GET /v1/edits/{id} or by Server-Sent Events, then fetch the PNG.",
    },
    ...(options.tokenRequired ? { security: [{ bearer: [] }] } : {}),
    paths: {
      "/v1/edits": {
        post: {
          summary: "Submit an edit",
          requestBody: editBody,
          responses: {
            "202": {
              description: "accepted; Location is the job's URL",
              content: json("Job"),
              headers: { Location: { schema: { type: "string" } } },
              links: Object.fromEntries(
                [
                  ["GetEdit", "getEdit"],
                  ["CancelEdit", "cancelEdit"],
                  ["GetEditImage", "getEditImage"],
                  ["GetEditEvents", "getEditEvents"],
                ].map(([name, operationId]) => [name, { operationId, parameters: { id: "$response.body#/id" } }]),
              ),
            },
            ...common,
            ...badRequest,
          },
        },
      },
      "/v1/edits:sync": {
        post: {
          summary: "Submit an edit and wait for the result (through the same queue)",
          requestBody: editBody,
          responses: {
            "200": {
              description: "the edited image",
              content: { "image/png": { schema: { type: "string", format: "binary" } } },
              headers: {
                "X-Expressive-Instruction": { schema: { type: "string" }, description: "what the model understood, percent-encoded UTF-8" },
                "X-Edit-Id": { schema: { type: "string" } },
              },
            },
            ...common,
            ...badRequest,
            "409": error("the edit was cancelled (DELETE /v1/edits/{id})"),
            "410": error("the result expired before it could be sent"),
            "500": error("the edit failed"),
          },
        },
      },
      "/v1/edits/{id}": {
        get: {
          operationId: "getEdit",
          summary: "An edit's status, queue position, expressive instruction, timings or error",
          parameters: [idParam],
          responses: { "200": { description: "the job", content: json("Job") }, ...common, ...gone },
        },
        delete: {
          operationId: "cancelEdit",
          summary: "Cancel an edit: a queued one is removed, a running one aborted; a finished one is left as it is",
          parameters: [idParam],
          responses: {
            "200": { description: "the job as it ended (failed with code CANCELLED, unless it had finished)", content: json("Job") },
            ...common,
            ...gone,
          },
        },
      },
      "/v1/edits/{id}/image": {
        get: {
          operationId: "getEditImage",
          summary: "The edited image",
          parameters: [idParam],
          responses: {
            "200": {
              description: "the edited photo as PNG, at the photo's own size",
              content: { "image/png": { schema: { type: "string", format: "binary" } } },
            },
            ...common,
            ...gone,
            "409": error("the edit is not done (queued, running or failed)"),
          },
        },
      },
      "/v1/edits/{id}/events": {
        get: {
          operationId: "getEditEvents",
          summary: "Server-Sent Events of an edit",
          description:
            "Events: `status` (a Job; first the current state, then on each status or queue-position change), " +
            "`progress` (a Progress), and last `done` or `failed` (a Job), after which the stream ends.",
          parameters: [idParam],
          responses: {
            "200": { description: "the event stream", content: { "text/event-stream": { schema: { type: "string" } } } },
            ...common,
            ...gone,
          },
        },
      },
      "/v1/models": {
        get: {
          summary: "The model served, its defaults, and the request limits",
          responses: { "200": { description: "models", content: json("Models") }, ...common },
        },
      },
      "/healthz": {
        get: {
          summary: "Liveness and queue occupancy",
          responses: {
            ...common,
            "200": { description: "serving", content: json("Health") },
            "503": { description: "shutting down", content: json("Health") },
          },
        },
      },
      "/readyz": {
        get: {
          summary: "Readiness: the model is loaded and the job store (data directory, or Redis) is up",
          responses: {
            ...common,
            "200": { description: "ready", content: json("Readiness") },
            "503": { description: "not ready", content: json("Readiness") },
          },
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus metrics: queue depth, running edits, workers, edits by outcome, stage durations, refusals, process memory",
          responses: { "200": { description: "Prometheus text format", content: { "text/plain": { schema: { type: "string" } } } }, ...common },
        },
      },
      "/openapi.json": { get: { summary: "This document", responses: { "200": { description: "OpenAPI 3.1" }, ...common } } },
    },
    components: {
      schemas: {
        EditJsonRequest: schema(EditJsonBodySchema, "input"),
        Job: schema(JobViewSchema, "output"),
        Progress: schema(ProgressSchema, "output"),
        Models: schema(ModelsResponseSchema, "output"),
        Health: schema(HealthSchema, "output"),
        Readiness: schema(ReadinessSchema, "output"),
        Error: schema(ErrorBodySchema, "output"),
      },
      ...(options.tokenRequired ? { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } } : {}),
    },
  };
}
