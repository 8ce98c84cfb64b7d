import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { ApiError } from "./httpErrors.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Served without the bearer token: the web page's own static files, which hold no data. */
    public?: boolean;
  }
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * An onRequest hook that requires `Authorization: Bearer <token>` on every route but the page's
 * static files. Digests are compared in constant time, so the comparison leaks neither the token
 * nor its length.
 */
export function bearerAuth(token: string) {
  const expected = digest(token);
  return async (request: FastifyRequest): Promise<void> => {
    if (request.routeOptions.config?.public) return;
    const header = request.headers.authorization ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (match && timingSafeEqual(digest(match[1].trim()), expected)) return;
    throw new ApiError(
      401,
      "UNAUTHORIZED",
      match ? "the bearer token is wrong" : "this server needs a bearer token: send the header 'Authorization: Bearer <token>'",
    );
  };
}
