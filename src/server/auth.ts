import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { MgieError } from "../errors.js";
import { ApiError } from "./httpErrors.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Served without the bearer token: the web page's own static files, which hold no data. */
    public?: boolean;
  }
}

/** Refuses a token that is empty or blank (an unset variable, say), which would otherwise turn auth off silently. */
export function checkToken(token: string): void {
  if (token.trim() === "") {
    throw new MgieError(
      "TOKEN",
      "the token is empty: give a secret with --token or MGIE_TOKEN (e.g. $(openssl rand -hex 16)), or leave both unset to serve loopback only",
    );
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
