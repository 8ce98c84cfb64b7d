import type { FastifyRequest } from "fastify";
import type { z } from "zod";
import { ApiError, UNSUPPORTED_BODY_MESSAGE } from "./httpErrors.js";
import { EditJsonBodySchema, type EditParams, EditParamsSchema, fromFormFields } from "./schemas.js";

/** Multipart text fields are short; this bounds each one (the instruction needs at most 4 KB of UTF-8). */
export const MAX_FIELD_BYTES = 16 * 1024;

export interface EditSubmission {
  image: Uint8Array;
  /** The optional mask confining the edit (an image: white edits, black keeps the photo exactly). */
  mask?: Uint8Array;
  params: EditParams;
}

const FILE_FIELDS = new Set(["image", "mask"]);

/**
 * Reads POST /v1/edits: multipart/form-data with an `image` file and text fields, or JSON with the
 * image in base64. Fields are validated (400 naming the field); the image bytes are not decoded yet.
 */
export async function readEditSubmission(request: FastifyRequest): Promise<EditSubmission> {
  if (request.isMultipart()) return readMultipart(request);
  if (/^application\/json\b/i.test(request.headers["content-type"] ?? "")) return readJson(request.body);
  throw new ApiError(415, "UNSUPPORTED_MEDIA_TYPE", UNSUPPORTED_BODY_MESSAGE);
}

async function readMultipart(request: FastifyRequest): Promise<EditSubmission> {
  const fields: Record<string, string> = {};
  const files: Record<string, Uint8Array> = {};
  for await (const part of request.parts()) {
    if (part.type === "file") {
      if (!FILE_FIELDS.has(part.fieldname)) {
        await part.toBuffer(); // drain it, so the request can be answered
        throw new ApiError(
          400,
          "INVALID_ARGUMENT",
          `unexpected file field '${part.fieldname}': send the image as the file field 'image' (and a mask as 'mask')`,
          part.fieldname,
        );
      }
      if (files[part.fieldname]) {
        await part.toBuffer();
        throw new ApiError(400, "INVALID_ARGUMENT", `the file field '${part.fieldname}' is given twice: send it once`, part.fieldname);
      }
      files[part.fieldname] = await part.toBuffer();
    } else {
      if (FILE_FIELDS.has(part.fieldname))
        throw new ApiError(
          400,
          "INVALID_ARGUMENT",
          `${part.fieldname} is a text field: send it as a file (multipart file field '${part.fieldname}')`,
          part.fieldname,
        );
      if (part.valueTruncated) throw new ApiError(400, "INVALID_ARGUMENT", `field '${part.fieldname}' is over ${MAX_FIELD_BYTES} bytes`, part.fieldname);
      if (Object.hasOwn(fields, part.fieldname)) {
        throw new ApiError(400, "INVALID_ARGUMENT", `field '${part.fieldname}' is given twice: send each field once`, part.fieldname);
      }
      fields[part.fieldname] = String(part.value);
    }
  }
  const params = parseFields(EditParamsSchema, fromFormFields(fields));
  if (!files.image) throw new ApiError(400, "INVALID_ARGUMENT", "no image: send the image file as the multipart file field 'image'", "image");
  return { image: files.image, ...(files.mask ? { mask: files.mask } : {}), params };
}

const DATA_URL = /^data:[\w/+.-]*;base64,/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function readJson(body: unknown): EditSubmission {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ApiError(400, "INVALID_ARGUMENT", 'the JSON body must be an object: {"image": "<base64>", "instruction": "...", ...}');
  }
  const { image, mask, ...params } = parseFields(EditJsonBodySchema, body);
  return { image: fromBase64(image, "image"), ...(mask ? { mask: fromBase64(mask, "mask") } : {}), params };
}

function fromBase64(text: string, field: string): Uint8Array {
  const base64 = text.replace(DATA_URL, "").replace(/\s+/g, "");
  if (base64.length % 4 !== 0 || !BASE64.test(base64)) {
    throw new ApiError(400, "INVALID_ARGUMENT", `${field} is not valid base64: send the file's bytes base64-encoded, optionally as a data: URL`, field);
  }
  return Buffer.from(base64, "base64");
}

/** Validates request fields with `schema`; the first problem becomes a 400 naming the field. */
function parseFields<S extends z.ZodObject>(schema: S, fields: unknown): z.output<S> {
  const parsed = schema.safeParse(fields);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue.code === "unrecognized_keys") {
    const known = Object.keys(schema.shape).join(", ");
    throw new ApiError(400, "INVALID_ARGUMENT", `unknown field '${issue.keys[0]}'; the fields are ${known}`, issue.keys[0]);
  }
  const field = issue.path.length > 0 ? String(issue.path[0]) : undefined;
  throw new ApiError(400, "INVALID_ARGUMENT", issue.message, field);
}
