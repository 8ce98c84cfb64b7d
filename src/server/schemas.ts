import { z } from "zod";
import { MAX_INSTRUCTION_CHARS, SCHEDULERS } from "../pipeline/editor.js";
import { ApiError } from "./httpErrors.js";

/** A server bounds the work one request may ask for (the library itself allows 1000 steps). */
export const MAX_STEPS = 100;
const MAX_GUIDANCE = 100;
const MAX_SEED = 2 ** 32 - 1;

function numberField(field: string, min: number, max: number, integer: boolean) {
  const expected = `${field} must be ${integer ? "a whole number" : "a number"} from ${min} to ${max}`;
  const error = (issue: { input?: unknown }) => `${expected}, got ${JSON.stringify(issue.input) ?? "nothing"}`;
  const n = z.number({ error });
  return (integer ? n.int({ error }) : n).min(min, { error }).max(max, { error });
}

/** The parameters of one edit, as JSON fields or multipart form fields. */
export const EditParamsSchema = z.strictObject({
  instruction: z
    .string({ error: (i) => (i.input === undefined ? "instruction is missing: say what to change, e.g. \"make it brighter\"" : "instruction must be text") })
    .trim()
    .min(1, { error: "instruction is empty: say what to change, e.g. \"make it brighter\"" })
    .max(MAX_INSTRUCTION_CHARS, { error: (i) => `instruction is ${String(i.input).length} characters; at most ${MAX_INSTRUCTION_CHARS}` })
    .meta({ description: "what to change, in plain words" }),
  steps: numberField("steps", 1, MAX_STEPS, true).optional().meta({ description: "diffusion steps (default: the model's)" }),
  seed: numberField("seed", 0, MAX_SEED, true).optional().meta({ description: "random seed; the same seed and input give the same edit (default 0)" }),
  cfgText: numberField("cfgText", 0, MAX_GUIDANCE, false).optional().meta({ description: "instruction guidance scale alpha_X (default: the model's)" }),
  cfgImage: numberField("cfgImage", 0, MAX_GUIDANCE, false).optional().meta({ description: "image guidance scale alpha_V (default: the model's)" }),
  changeThreshold: numberField("changeThreshold", 0, 1, false)
    .optional()
    .meta({ description: "keep the input where the change is below this in every channel, in [0, 1] units; 0 keeps every change (default: the model's)" }),
  regionThreshold: numberField("regionThreshold", 0, 1, false)
    .optional()
    .meta({ description: "keep the input where the model's region head gives the edit less than this probability; 0 keeps every change; only a model with a region head takes more than 0 (default: the model's)" }),
  scheduler: z
    .enum(SCHEDULERS, { error: (i) => `scheduler must be one of ${SCHEDULERS.join(", ")}, got ${JSON.stringify(i.input)}` })
    .optional()
    .meta({ description: "sampler (default euler-ancestral)" }),
});
export type EditParams = z.output<typeof EditParamsSchema>;

/** POST /v1/edits with Content-Type application/json. */
export const EditJsonBodySchema = EditParamsSchema.extend({
  image: z
    .string({ error: (i) => `image is ${i.input === undefined ? "missing" : "not a string"}: send the PNG, JPEG or WebP file as base64 in 'image'` })
    .min(1, { error: "image is empty: send the PNG, JPEG or WebP file as base64 in 'image'" })
    .meta({ description: "the image file (PNG, JPEG or WebP) in base64, optionally as a data: URL" }),
});

const NUMERIC_FIELDS = new Set(["steps", "seed", "cfgText", "cfgImage", "changeThreshold", "regionThreshold"]);

/** Multipart fields are text: numbers are converted, empty fields count as absent. */
export function fromFormFields(fields: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (!NUMERIC_FIELDS.has(key)) out[key] = value;
    else if (value.trim() !== "") out[key] = Number.isFinite(Number(value)) ? Number(value) : value;
  }
  return out;
}

/** Validates request fields with `schema`; the first problem becomes a 400 naming the field. */
export function parseFields<S extends z.ZodType>(schema: S, fields: unknown): z.output<S> {
  const parsed = schema.safeParse(fields);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue.code === "unrecognized_keys") {
    const known = Object.keys((schema as unknown as z.ZodObject).shape).join(", ");
    throw new ApiError(400, "INVALID_ARGUMENT", `unknown field '${issue.keys[0]}'; the fields are ${known}`, issue.keys[0]);
  }
  const field = issue.path.length > 0 ? String(issue.path[0]) : undefined;
  throw new ApiError(400, "INVALID_ARGUMENT", issue.message, field);
}

/* Responses. They are not validated at run time; they type the handlers and generate /openapi.json. */

const StageSchema = z.enum(["preprocess", "mllm", "edit-head", "vae-encode", "diffusion", "vae-decode"]);

export const ProgressSchema = z.object({
  stage: StageSchema,
  step: z.number().int().optional().meta({ description: "diffusion step done, from 1" }),
  steps: z.number().int().optional(),
});

export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string().meta({ description: "stable machine-readable code, e.g. INVALID_ARGUMENT, IMAGE_CORRUPT, QUEUE_FULL" }),
    message: z.string().meta({ description: "what went wrong and what to do" }),
    field: z.string().optional().meta({ description: "the request field at fault" }),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

export const JobViewSchema = z.object({
  id: z.string(),
  status: z.enum(["queued", "running", "done", "failed"]),
  position: z.number().int().nullable().meta({ description: "place in the queue, 1 = next to start; null unless queued" }),
  params: EditParamsSchema.required().meta({ description: "the parameters the edit runs with, defaults filled in" }),
  createdAt: z.string().meta({ description: "ISO 8601" }),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  progress: ProgressSchema.nullable().meta({ description: "the latest stage (and diffusion step) of a running edit" }),
  expressiveInstruction: z.string().nullable().meta({ description: "what the model understood the instruction to mean" }),
  timings: z.record(z.string(), z.number()).nullable().meta({ description: "milliseconds per stage, and total" }),
  error: ErrorBodySchema.shape.error.nullable(),
  links: z.object({ self: z.string(), image: z.string(), events: z.string() }),
});
export type JobView = z.infer<typeof JobViewSchema>;

export const ModelsResponseSchema = z.object({
  models: z.array(
    z.object({
      name: z.string(),
      variant: z.string(),
      resolution: z.number().int().meta({ description: "side of the square the input is cropped and resized to, and of the result" }),
      regionHead: z.boolean().meta({ description: "whether the model has a region head (where its edits change the image), so that regionThreshold may be above 0" }),
      defaults: z.object({ steps: z.number().int(), cfgText: z.number(), cfgImage: z.number(), changeThreshold: z.number(), regionThreshold: z.number(), scheduler: z.enum(SCHEDULERS) }),
    }),
  ),
  limits: z.object({
    maxImageBytes: z.number().int(),
    maxImagePixels: z.number().int(),
    maxInstructionChars: z.number().int(),
    maxSteps: z.number().int(),
  }),
});
export type ModelsResponse = z.infer<typeof ModelsResponseSchema>;

export const HealthSchema = z.object({
  status: z.enum(["ok", "shutting-down"]),
  queue: z.object({ running: z.number().int(), queued: z.number().int(), concurrency: z.number().int(), maxQueued: z.number().int() }),
});
export type Health = z.infer<typeof HealthSchema>;
