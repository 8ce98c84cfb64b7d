import { ImageInputError, InvalidArgumentError, MgieError } from "../errors.js";
import { QueueClosedError, QueueFullError } from "./jobQueue.js";
import type { ErrorBody } from "./schemas.js";

/** An error answered with a given HTTP status; `field` names the request field at fault. */
export class ApiError extends MgieError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly field?: string,
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
    const challenge = err.status === 401 ? { "www-authenticate": 'Bearer realm="mgie"' } : undefined;
    return reply(err.status, err.code, err.message, err.field, challenge);
  }
  if (err instanceof QueueFullError) return reply(429, err.code, err.message, undefined, { "retry-after": String(err.retryAfterSeconds) });
  if (err instanceof QueueClosedError) return reply(503, err.code, err.message);
  if (err instanceof ImageInputError) return reply(IMAGE_STATUS[err.code] ?? 400, err.code, err.message, err.field);
  if (err instanceof InvalidArgumentError) return reply(400, err.code, err.message, err.field);
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    const code = typeof e.code === "string" ? e.code : "BAD_REQUEST";
    return reply(e.statusCode, code, frameworkMessage(code, String(e.message), maxImageBytes));
  }
  return reply(500, "INTERNAL", "the server failed on this request (a bug: the server log has the details)");
}
