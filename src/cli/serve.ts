import { Command } from "commander";
import { MgieError } from "../errors.js";
import { DEFAULT_MODEL_DIR, MgieEditor } from "../pipeline/editor.js";
import { createServer, DEFAULT_SERVER_OPTIONS } from "../server/app.js";
import { wholeNumber } from "./parse.js";

interface ServeCliOptions {
  model: string;
  host: string;
  port: number;
  token?: string;
  concurrency: number;
  queue: number;
  threads?: number;
  maxPixels: number;
  maxUploadMb: number;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

export function serveCommand(): Command {
  return new Command("serve")
    .description("serve the HTTP API (see /openapi.json) and the web page for editing")
    .option("--model <dir>", "model directory", DEFAULT_MODEL_DIR)
    .option("--host <address>", "address to listen on (0.0.0.0 for every interface)", "127.0.0.1")
    .option("--port <n>", "port (0 picks a free one)", wholeNumber("--port", 0, 65535), 8080)
    .option("--token <secret>", "require 'Authorization: Bearer <secret>' on every API route (default: $MGIE_TOKEN)")
    .option("--concurrency <n>", "edits run at once", wholeNumber("--concurrency", 1, 64), DEFAULT_SERVER_OPTIONS.concurrency)
    .option("--queue <n>", "edits that may wait; more get 429", wholeNumber("--queue", 1, 10_000), DEFAULT_SERVER_OPTIONS.maxQueued)
    .option("--threads <n>", "ONNX Runtime threads per component (default: one per core)", wholeNumber("--threads", 1, 1024))
    .option("--max-pixels <n>", "largest image accepted, width x height", wholeNumber("--max-pixels", 1, 2 ** 31), DEFAULT_SERVER_OPTIONS.maxImagePixels)
    .option("--max-upload-mb <n>", "largest upload accepted, in MiB", wholeNumber("--max-upload-mb", 1, 1024), DEFAULT_SERVER_OPTIONS.maxImageBytes / 2 ** 20)
    .action(async (o: ServeCliOptions) => {
      const token = o.token ?? (process.env.MGIE_TOKEN || undefined);
      const editor = await MgieEditor.load(o.model, { threads: o.threads });
      const { app } = await createServer(editor, {
        concurrency: o.concurrency,
        maxQueued: o.queue,
        token,
        maxImagePixels: o.maxPixels,
        maxImageBytes: o.maxUploadMb * 2 ** 20,
        log: (line) => console.error(`mgie serve: ${line}`),
      });
      try {
        await app.listen({ host: o.host, port: o.port });
      } catch (cause) {
        const code = (cause as NodeJS.ErrnoException).code;
        const why =
          code === "EADDRINUSE"
            ? "the port is in use: choose another --port"
            : code === "EACCES"
              ? "permission denied: ports below 1024 need privileges"
              : (cause as Error).message;
        throw new MgieError("LISTEN", `cannot listen on ${o.host}:${o.port}: ${why}`, { cause });
      }
      const address = app.server.address();
      const port = typeof address === "object" && address ? address.port : o.port;
      const host = o.host.includes(":") ? `[${o.host}]` : o.host;
      const m = editor.manifest;
      console.log(
        `mgie serve: http://${host}:${port}/ (model ${m.name}, ${m.resolution}x${m.resolution}; API at /openapi.json${token ? "; bearer token required" : ""})`,
      );
      if (!token && !LOOPBACK.test(o.host)) console.error(`mgie serve: warning: listening on ${o.host} without --token: anyone who can reach it can use it`);

      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) {
          console.error(`mgie serve: ${signal} again, exiting now`);
          process.exit(1);
        }
        stopping = true;
        console.log(`mgie serve: ${signal}: finishing running edits, then stopping (${signal} again to stop now)`);
        app.close().then(
          () => console.log("mgie serve: stopped"),
          (err: unknown) => {
            console.error(`mgie serve: shutdown failed: ${(err as Error).message}`);
            process.exitCode = 2;
          },
        );
      };
      process.on("SIGINT", () => shutdown("SIGINT"));
      process.on("SIGTERM", () => shutdown("SIGTERM"));
    });
}
