import { ImageInputError, InvalidArgumentError, MgieError } from "../errors.js";
import { QueueClosedError, QueueFullError, StorageFullError } from "./jobStore.js";
import type { ErrorBody } from "./schemas.js";

/** An error answered with a given HTTP status; `field` names the request field at fault. */
export class ApiError extends MgieError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly field?: string,
    /** Sent as Retry-After (a 429 or 503 the client may retry). */
    readonly retryAfterSeconds?: number,
  ) {
    super(code, message);
    this.name = "ApiError";
  }
}

export interface ErrorReply {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
}

/** Framework errors that are the client's fault but come with another status, or none. */
const FRAMEWORK_STATUS: Record<string, number> = {
  FST_PARTS_LIMIT: 400,
  FST_FIELDS_LIMIT: 400,
  FST_FILES_LIMIT: 400,
  FST_ERR_BAD_URL: 400,
  FST_ERR_MAX_PARAM_LENGTH: 400,
  FST_MULTIPART_MALFORMED: 400,
  FST_INVALID_MULTIPART_CONTENT_TYPE: 415,
};

/** A multipart parser's complaint about a malformed body (busboy raises plain Errors). */
const MALFORMED_MULTIPART =
  /^(Multipart: Boundary not found|Unexpected end of (form|multipart data)|Malformed part header|Malformed urlencoded form|Unsupported content type)/;

const IMAGE_STATUS: Record<string, number> = {
  IMAGE_TOO_LARGE: 413,
  IMAGE_FORMAT: 415,
  IMAGE_UNREADABLE: 415,
  IMAGE_EMPTY: 400,
  IMAGE_CORRUPT: 400,
};

export const UNSUPPORTED_BODY_MESSAGE = "send the edit as multipart/form-data (an 'image' file and fields) or as application/json (the image in base64)";

/** Clearer words for the errors Fastify and its multipart plugin raise on malformed requests. */
function frameworkMessage(code: string, fallback: string, maxImageBytes: number): string {
  switch (code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return `the request body is too large: the image may be at most ${maxImageBytes} bytes (base64 in JSON adds a third)`;
    case "FST_REQ_FILE_TOO_LARGE":
      return `the image is over the limit of ${maxImageBytes} bytes; downscale or compress it first`;
    case "FST_FILES_LIMIT":
      return "send at most two files: the image, and optionally its mask";
    case "FST_PARTS_LIMIT":
    case "FST_FIELDS_LIMIT":
      return "too many form fields: send the image, optionally the mask, the instruction and the edit parameters (GET /v1/models lists them)";
    case "FST_ERR_MAX_PARAM_LENGTH":
      return "the id in the URL is too long: edit ids are UUIDs, as POST /v1/edits returned them";
    case "FST_ERR_BAD_URL":
      return "the URL is malformed (a bad percent-encoding?): see /openapi.json for the routes";
    case "FST_MULTIPART_MALFORMED":
      return "the multipart body is malformed (no boundary, or not multipart at all): let your HTTP client build the form, e.g. curl -F image=@photo.jpg -F instruction=...";
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return UNSUPPORTED_BODY_MESSAGE;
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return "the JSON body is empty";
    case "FST_INVALID_MULTIPART_CONTENT_TYPE":
      return "the request is not multipart/form-data";
    default:
      return fallback;
  }
}

/**
 * The reply for any error a request raised: known errors keep their status and message, and
 * anything else is a 500 whose details go to the server log, not to the client.
 */
export function errorReply(err: unknown, maxImageBytes: number): ErrorReply {
  const reply = (status: number, code: string, message: string, field?: string, headers: Record<string, string> = {}): ErrorReply => ({
    status,
    body: { error: field === undefined ? { code, message } : { code, message, field } },
    headers,
  });
  if (err instanceof ApiError) {
    const headers: Record<string, string> = err.status === 401 ? { "www-authenticate": 'Bearer realm="mgie"' } : {};
    if (err.retryAfterSeconds !== undefined) headers["retry-after"] = String(err.retryAfterSeconds);
    return reply(err.status, err.code, err.message, err.field, headers);
  }
  if (err instanceof QueueFullError) return reply(429, err.code, err.message, undefined, { "retry-after": String(err.retryAfterSeconds) });
  if (err instanceof StorageFullError) return reply(503, err.code, err.message, undefined, { "retry-after": String(err.retryAfterSeconds) });
  if (err instanceof QueueClosedError) return reply(503, err.code, err.message, undefined, { "retry-after": "5" });
  if (err instanceof ImageInputError) return reply(IMAGE_STATUS[err.code] ?? 400, err.code, err.message, err.field);
  if (err instanceof InvalidArgumentError) return reply(400, err.code, err.message, err.field);
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof e.code !== "string" && typeof e.message === "string" && MALFORMED_MULTIPART.test(e.message)) {
    return reply(400, "FST_MULTIPART_MALFORMED", `${frameworkMessage("FST_MULTIPART_MALFORMED", "", maxImageBytes)} (${e.message})`);
  }
  const status = typeof e.code === "string" && FRAMEWORK_STATUS[e.code] ? FRAMEWORK_STATUS[e.code] : e.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    const code = typeof e.code === "string" ? e.code : "BAD_REQUEST";
    return reply(status, code, frameworkMessage(code, String(e.message), maxImageBytes));
  }
  return reply(500, "INTERNAL", "the server failed on this request (a bug: the server log has the details)");
}
