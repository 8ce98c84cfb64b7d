import { readdir, readFile } from "node:fs/promises";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";

/**
 * The web page's files. The build copies src/server/public to dist/server/public, so this path
 * is right both for the built server and for tests that import the sources.
 */
export const PUBLIC_DIR = fileURLToPath(new URL("./public/", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** The page loads only its own files and talks only to this server; images are blob: URLs. */
const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/**
 * Serves the web page: every file of PUBLIC_DIR at /<name>, index.html also at /. The files are
 * read once at start-up, and only those: no request path ever reaches the file system.
 */
export async function registerStaticFiles(app: FastifyInstance): Promise<void> {
  const names = (await readdir(PUBLIC_DIR)).filter((n) => CONTENT_TYPES[extname(n)]);
  for (const name of names) {
    const body = await readFile(PUBLIC_DIR + name);
    const headers = { "content-type": CONTENT_TYPES[extname(name)], "cache-control": "no-cache", "content-security-policy": CONTENT_SECURITY_POLICY };
    const paths = name === "index.html" ? ["/", "/index.html"] : [`/${name}`];
    for (const url of paths) app.get(url, { config: { public: true } }, async (_request, reply) => reply.headers(headers).send(body));
  }
}
