import { createReadStream } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { CONTENT_TYPES, contentType, deviceConfig, deviceFiles } from "./deviceFiles.js";

/**
 * The web page's files. The build copies src/server/public to dist/server/public, so this path
 * is right both for the built server and for tests that import the sources.
 */
export const PUBLIC_DIR = fileURLToPath(new URL("./public/", import.meta.url));

/**
 * The page loads only its own files and talks only to this server; images are blob: URLs. The on-device
 * editor compiles WebAssembly ('wasm-unsafe-eval') in a worker of its own origin.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** Cross-origin isolation: what lets the on-device editor use SharedArrayBuffer, so WebAssembly threads. */
export const ISOLATION_HEADERS = { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" };

/**
 * Serves the web page: every file of PUBLIC_DIR at /<name>, index.html also at /; with `deviceModelDir`,
 * the files of the on-device editor (deviceFiles) below /web/ and its settings at /web/config.json. The
 * page's files are read once at start-up, the device files listed once: no request path ever reaches the file system.
 */
export async function registerStaticFiles(app: FastifyInstance, deviceModelDir?: string): Promise<void> {
  const page = { "cache-control": "no-cache", "content-security-policy": CONTENT_SECURITY_POLICY, ...ISOLATION_HEADERS };
  const names = (await readdir(PUBLIC_DIR)).filter((n) => CONTENT_TYPES[extname(n)]);
  for (const name of names) {
    const body = await readFile(PUBLIC_DIR + name);
    const headers = { ...page, "content-type": CONTENT_TYPES[extname(name)] };
    const paths = name === "index.html" ? ["/", "/index.html"] : [`/${name}`];
    for (const url of paths) app.get(url, { config: { public: true } }, async (_request, reply) => reply.headers(headers).send(body));
  }
  const config = { ...deviceConfig(true), device: deviceModelDir !== undefined };
  app.get("/web/config.json", { config: { public: true } }, async (_request, reply) => reply.headers(page).send(config));
  if (deviceModelDir === undefined) return;
  for (const file of await deviceFiles(deviceModelDir)) {
    // The runtime's folder is named by its version: its files never change under that name.
    const caching = file.url.startsWith("web/ort-") ? "public, max-age=31536000, immutable" : "no-cache";
    const headers = { ...page, "content-type": contentType(file.url), "cache-control": caching };
    app.get(`/${file.url}`, { config: { public: true } }, async (_request, reply) => reply.headers(headers).send(createReadStream(file.path)));
  }
}
