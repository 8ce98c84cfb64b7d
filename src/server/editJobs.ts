import { paramsOf, resolveEditParams } from "../core/params.js";
import { ImageInputError, MgieError } from "../errors.js";
import { encodeImage, readImage } from "../image/io.js";
import { modelDefaults } from "../models/modelDir.js";
import type { EditProgress, MgieEditor } from "../pipeline/editor.js";
import { type Job, JobQueue, type JobQueueOptions } from "./jobQueue.js";
import type { EditParams, JobView } from "./schemas.js";

/** What the server needs of an editor (tests wrap the real one to hold edits back). */
export type Editor = Pick<MgieEditor, "manifest" | "edit">;

export interface ImageLimits {
  maxImageBytes: number;
  maxImagePixels: number;
}

/** An accepted edit: every parameter resolved. Its payload is the upload (encoded, validated). */
export interface EditRequest {
  params: Required<EditParams>;
}

export interface EditOutcome {
  png: Buffer;
  expressiveInstruction: string;
  timings: Record<string, number>;
}

export type EditJob = Job<EditRequest, EditOutcome, EditProgress>;
/** The upload: the image, and the optional mask that confines the edit (both encoded, validated). */
export interface EditUpload {
  image: Uint8Array;
  mask?: Uint8Array;
}

export type EditQueue = JobQueue<EditRequest, EditUpload, EditOutcome, EditProgress>;

/** The queue of edits; an edit that fails other than by an MgieError (a bug) is also logged. */
export function createEditQueue(editor: Editor, options: JobQueueOptions, log?: (line: string) => void): EditQueue {
  return new JobQueue<EditRequest, EditUpload, EditOutcome, EditProgress>(async ({ params }, { image, mask }, { signal, progress }) => {
    const { instruction, ...options } = params;
    try {
      const r = await editor.edit(image, instruction, { ...options, mask, onProgress: progress, signal });
      const timings = Object.fromEntries(Object.entries(r.timings).map(([k, ms]) => [k, Math.round(ms * 10) / 10]));
      return { png: await encodeImage(r.image, "png", { icc: r.icc }), expressiveInstruction: r.expressiveInstruction, timings };
    } catch (err) {
      if (!(err instanceof MgieError)) log?.(`edit "${instruction}" failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      throw err;
    }
  }, options);
}

/**
 * The parameters an edit runs with: the request's, and the model's defaults for the rest. Resolved
 * (and so checked against the model) before the upload is queued, so that a bad one is a 400.
 */
export function resolveParams({ instruction, ...params }: EditParams, editor: Editor): Required<EditParams> {
  const resolved = resolveEditParams(modelDefaults(editor.manifest), params);
  return { instruction, ...Object.fromEntries(paramsOf("serve").map((name) => [name, resolved[name as keyof typeof resolved]])) } as Required<EditParams>;
}

/**
 * Decodes the upload once before it is queued, so that a bad image is refused at once (413, 415,
 * 400) rather than reported later as a failed job. Only the encoded bytes are kept: a queued job
 * holds the upload, not a decoded float copy of it.
 */
export async function checkImage(bytes: Uint8Array, limits: ImageLimits, field = "image"): Promise<void> {
  try {
    await readImage(bytes, { maxBytes: limits.maxImageBytes, maxPixels: limits.maxImagePixels });
  } catch (err) {
    if (err instanceof ImageInputError && field !== "image") throw new ImageInputError(err.code, `the ${field}: ${err.message}`, { cause: err, field });
    throw err;
  }
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function jobView(job: EditJob, queue: EditQueue): JobView {
  const self = `/v1/edits/${job.id}`;
  return {
    id: job.id,
    status: job.status,
    position: queue.position(job),
    params: job.input.params,
    createdAt: iso(job.createdAt)!,
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    progress: job.status === "running" ? (job.progress ?? null) : null,
    expressiveInstruction: job.result?.expressiveInstruction ?? null,
    timings: job.result?.timings ?? null,
    error: job.error ?? null,
    links: { self, image: `${self}/image`, events: `${self}/events` },
  };
}
