import { z } from "zod";
import {
  EDIT_PARAMETERS,
  InstructionSchema,
  type ModelDefaults,
  maxOf,
  type ParamSpec,
  paramSchema,
  paramsOf,
  paramsSchema,
  resolveEditParams,
} from "../core/params.js";
import { type Manifest, modelDefaults } from "../models/modelDir.js";
import { EDIT_STAGES } from "../pipeline/editor.js";

/** The parameters of one edit, as JSON fields or multipart form fields (those EDIT_PARAMETERS offers to "serve"). */
export const EditParamsSchema = z.strictObject({ instruction: InstructionSchema, ...paramsSchema("serve").shape });
export type EditParams = z.output<typeof EditParamsSchema>;

/** POST /v1/edits with Content-Type application/json. */
export const EditJsonBodySchema = EditParamsSchema.extend({
  image: z
    .string({ error: (i) => `image is ${i.input === undefined ? "missing" : "not a string"}: send the image file as base64 in 'image'` })
    .min(1, { error: "image is empty: send the image file as base64 in 'image'" })
    .meta({ description: "the image file (JPEG, PNG, WebP, GIF, TIFF, AVIF) in base64, optionally as a data: URL" }),
  mask: z
    .string({ error: "mask must be a string: the mask image in base64" })
    .optional()
    .meta({ description: "optional: an image confining the edit, white where it may act, black where the photo stays exactly as it is (any size), in base64" }),
});

const NUMERIC_FIELDS = new Set<string>(paramsOf("serve").filter((name) => EDIT_PARAMETERS[name].type !== "choice" && EDIT_PARAMETERS[name].type !== "text"));

/** Multipart fields are text: numbers are converted, empty fields count as absent. */
export function fromFormFields(fields: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (!NUMERIC_FIELDS.has(key)) out[key] = value;
    else if (value.trim() !== "") out[key] = Number.isFinite(Number(value)) ? Number(value) : value;
  }
  return out;
}

/* Responses. They are not validated at run time; they type the handlers and generate /openapi.json. */

const StageSchema = z.enum(EDIT_STAGES);

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
  params: z
    .object({ instruction: InstructionSchema, ...Object.fromEntries(paramsOf("serve").map((name) => [name, paramSchema(name, "serve")])) })
    .meta({ description: "the parameters the edit runs with, defaults filled in" }),
  createdAt: z.string().meta({ description: "ISO 8601" }),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  progress: ProgressSchema.nullable().meta({ description: "the latest stage (and diffusion step) of a running edit" }),
  expressiveInstruction: z.string().nullable().meta({ description: "what the model understood the instruction to mean" }),
  timings: z.record(z.string(), z.number()).nullable().meta({ description: "milliseconds per stage, and total" }),
  error: ErrorBodySchema.shape.error.nullable(),
  attempts: z.number().int().meta({ description: "times the edit was started; more than 1 when a worker or the server died while it ran and it was retried" }),
  links: z.object({ self: z.string(), image: z.string(), events: z.string() }),
});
export type JobView = z.infer<typeof JobViewSchema>;

const ParameterViewSchema = z.object({
  name: z.string(),
  type: z.enum(["integer", "number", "choice"]),
  label: z.string(),
  description: z.string(),
  default: z.union([z.number(), z.string()]).meta({ description: "the value used when a request leaves the parameter out" }),
  min: z.number().optional(),
  max: z.number().optional(),
  choices: z.array(z.string()).optional(),
  slider: z.object({ max: z.number(), step: z.number() }).optional().meta({ description: "the part of the range a form's slider covers, and its step" }),
});
type ParameterView = z.infer<typeof ParameterViewSchema>;

export const ModelsResponseSchema = z.object({
  models: z.array(
    z.object({
      name: z.string(),
      variant: z.string(),
      resolution: z.number().int().meta({ description: "side of the square the input is cropped and resized to, and of the result" }),
      regionHead: z
        .boolean()
        .meta({ description: "whether the model has a region head (where its edits change the image), so that regionThreshold may be above 0" }),
      parameters: z.array(ParameterViewSchema).meta({ description: "the edit parameters a request may set, in form order, with this model's defaults" }),
    }),
  ),
  limits: z.object({
    maxImageBytes: z.number().int(),
    maxImagePixels: z.number().int(),
    maxInstructionChars: z.number().int(),
  }),
});
export type ModelsResponse = z.infer<typeof ModelsResponseSchema>;

/** The parameters a request may set, as EDIT_PARAMETERS specifies them, with the model's defaults. */
export function parameterViews(model: ModelDefaults): ParameterView[] {
  const defaults = resolveEditParams(model, {});
  return paramsOf("serve").map((name) => {
    const spec: ParamSpec = EDIT_PARAMETERS[name];
    const base = { name, label: spec.label, description: spec.description };
    if (spec.type === "text") throw new Error(`text parameter ${name} cannot be offered to the server`);
    if (spec.type === "choice") return { ...base, type: spec.type, choices: [...spec.choices], default: defaults[name as "scheduler"] };
    const value = defaults[name as keyof typeof defaults] as number;
    return { ...base, type: spec.type, min: spec.min, max: maxOf(spec, "serve"), default: value, ...(spec.slider ? { slider: spec.slider } : {}) };
  });
}

/** What GET /v1/models says of a model (the server's answer, and the static build's file v1/models). */
export function modelView(m: Manifest): ModelsResponse["models"][number] {
  return {
    name: m.name,
    variant: m.variant,
    resolution: m.resolution,
    regionHead: m.components.region_head !== undefined,
    parameters: parameterViews(modelDefaults(m)),
  };
}

export const HealthSchema = z.object({
  status: z.enum(["ok", "shutting-down"]),
  queue: z.object({
    running: z.number().int(),
    queued: z.number().int(),
    concurrency: z.number().int(),
    maxQueued: z.number().int(),
    workers: z.number().int().meta({ description: "processes running edits: 1 for the single-machine server, the live workers with Redis" }),
  }),
});
export type Health = z.infer<typeof HealthSchema>;

export const ReadinessSchema = z.object({
  ready: z.boolean().meta({ description: "whether this process can take edits: the model is loaded and the job store (its data directory, or Redis) is up" }),
  model: z.string(),
  store: z.object({ kind: z.enum(["local", "redis"]), ok: z.boolean(), detail: z.string() }),
});
export type Readiness = z.infer<typeof ReadinessSchema>;
