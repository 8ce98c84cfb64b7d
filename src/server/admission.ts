import type { FastifyRequest } from "fastify";
import { ApiError } from "./httpErrors.js";

/**
 * A counting semaphore with a bounded wait: at most `slots` holders, at most `maxWaiting` callers
 * waiting; one more is refused (null) at once rather than queued without bound.
 */
export class Slots {
  private held = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(
    readonly slots: number,
    readonly maxWaiting: number,
  ) {}

  /** Resolves with the release function, or null when all slots and waiting places are taken. */
  async acquire(): Promise<(() => void) | null> {
    if (this.held >= this.slots) {
      if (this.waiters.length >= this.maxWaiting) return null;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    } else this.held++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.held--;
    };
  }

  get inUse(): number {
    return this.held;
  }
}

/** A budget of bytes shared by the requests in flight (their declared body sizes). */
export class ByteBudget {
  private used = 0;

  constructor(readonly maxBytes: number) {}

  /** Takes `bytes` of the budget, or returns null when they do not fit. */
  take(bytes: number): (() => void) | null {
    if (this.used + bytes > this.maxBytes) return null;
    this.used += bytes;
    let released = false;
    return () => {
      if (!released) this.used -= bytes;
      released = true;
    };
  }

  get inUse(): number {
    return this.used;
  }
}

const LOOPBACK_HOST = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])(:\d{1,5})?$/i;

/**
 * Without a token, the server answers only requests addressed to a loopback name (so a web page
 * cannot reach it through DNS rebinding) and, when the browser names an Origin, only its own (so a
 * page of another site cannot submit edits with the user's browser). 403 otherwise.
 */
export function loopbackOnly() {
  return async (request: FastifyRequest): Promise<void> => {
    const host = request.headers.host ?? "";
    if (!LOOPBACK_HOST.test(host)) {
      throw new ApiError(
        403,
        "FORBIDDEN_HOST",
        `this server has no token, so it answers only requests to a loopback address (localhost, 127.0.0.1, [::1]), not to '${host}'; start it with --token to serve other names`,
      );
    }
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `http://${host}`) {
      throw new ApiError(
        403,
        "FORBIDDEN_ORIGIN",
        `requests from the page at '${origin}' are refused: without a token, only this server's own page (http://${host}) may call the API`,
      );
    }
  };
}
