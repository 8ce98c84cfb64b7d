import { paramsOf, resolveEditParams } from "../core/params.js";
import { ImageInputError, MgieError } from "../errors.js";
import { encodeImage, verifyImage } from "../image/io.js";
import { modelDefaults } from "../models/modelDir.js";
import type { EditProgress, MgieEditor } from "../pipeline/editor.js";
import type { EditUpload, JobRecord, JobStore } from "./jobStore.js";
import type { EditParams, JobView } from "./schemas.js";

/**
 * What the server needs of an editor (tests wrap the real one to hold edits back). `checkInstruction`,
 * where the editor has it, refuses an instruction the model cannot take (too many tokens) at the door.
 */
export type Editor = Pick<MgieEditor, "manifest" | "edit"> & Partial<Pick<MgieEditor, "checkInstruction">>;

export interface ImageLimits {
  maxImageBytes: number;
  maxImagePixels: number;
}

export interface EditOutcome {
  png: Buffer;
  expressiveInstruction: string;
  timings: Record<string, number>;
}

/** Runs one edit of a job: the editor, then the PNG (the photo's ICC profile kept). */
export async function runEdit(
  editor: Editor,
  params: Required<EditParams>,
  { image, mask }: EditUpload,
  context: { signal: AbortSignal; progress: (p: EditProgress) => void; log?: (line: string) => void },
): Promise<EditOutcome> {
  const { instruction, ...options } = params;
  try {
    const r = await editor.edit(image, instruction, { ...options, mask, onProgress: context.progress, signal: context.signal });
    // A request the model cannot do ends the job as failed, with the model's reason (it would fail the same way again).
    const refusal = (r as { unsupported?: string | null }).unsupported;
    if (refusal) throw new MgieError("UNSUPPORTED_REQUEST", refusal);
    const timings = Object.fromEntries(Object.entries(r.timings).map(([k, ms]) => [k, Math.round(ms * 10) / 10]));
    return { png: await encodeImage(r.image, "png", { icc: r.icc }), expressiveInstruction: r.expressiveInstruction, timings };
  } catch (err) {
    if (!(err instanceof MgieError)) context.log?.(`edit "${instruction}" failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    throw err;
  }
}

/**
 * The parameters an edit runs with: the request's, and the model's defaults for the rest. Resolved
 * (and so checked against the model, the instruction in the model's own tokens) before the upload
 * is queued, so that a bad one is a 400 rather than a failed job.
 */
export function resolveParams({ instruction, ...params }: EditParams, editor: Editor): Required<EditParams> {
  const resolved = resolveEditParams(modelDefaults(editor.manifest), params);
  editor.checkInstruction?.(instruction);
  return { instruction, ...Object.fromEntries(paramsOf("serve").map((name) => [name, resolved[name as keyof typeof resolved]])) } as Required<EditParams>;
}

/**
 * Decodes the upload once (as a stream, kept nowhere) before it is queued, so that a bad image is refused at once (413, 415,
 * 400) rather than reported later as a failed job. Only the encoded bytes are kept: a queued job
 * holds the upload, not a decoded float copy of it.
 */
export async function checkImage(bytes: Uint8Array, limits: ImageLimits, field = "image"): Promise<void> {
  try {
    await verifyImage(bytes, { maxBytes: limits.maxImageBytes, maxPixels: limits.maxImagePixels });
  } catch (err) {
    if (err instanceof ImageInputError && field !== "image") throw new ImageInputError(err.code, `the ${field}: ${err.message}`, { cause: err, field });
    throw err;
  }
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export async function jobView(job: JobRecord, store: JobStore): Promise<JobView> {
  const self = `/v1/edits/${job.id}`;
  return {
    id: job.id,
    status: job.status,
    position: job.status === "queued" ? await store.position(job) : null,
    params: job.params,
    createdAt: iso(job.createdAt)!,
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    progress: job.status === "running" ? (job.progress ?? null) : null,
    expressiveInstruction: job.expressiveInstruction ?? null,
    timings: job.timings ?? null,
    error: job.error ?? null,
    attempts: job.attempts,
    links: { self, image: `${self}/image`, events: `${self}/events` },
  };
}
