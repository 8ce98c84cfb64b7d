import { copyFile, mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Command } from "commander";
import { MAX_INSTRUCTION_CHARS } from "../core/params.js";
import { MgieError } from "../errors.js";
import { DEFAULT_MODEL_DIR } from "../platform/node.js";
import { loadModelDir } from "../platform/nodeFiles.js";
import { deviceConfig, deviceFiles } from "../server/deviceFiles.js";
import { modelView } from "../server/schemas.js";
import { CONTENT_SECURITY_POLICY, ISOLATION_HEADERS, PUBLIC_DIR } from "../server/staticFiles.js";

/**
 * Writes the web page with its on-device editor and the model into `out`, for any static host: the page
 * edits on the device only (no server behind it). The answer the page asks the server for (GET
 * /v1/models) is written as the file v1/models; _headers gives hosts that read it (Netlify, Cloudflare
 * Pages) the cross-origin isolation that WebAssembly threads need (docs/WEB.md).
 */
export async function buildWeb(modelDir: string, out: string, force: boolean): Promise<{ files: number; bytes: number }> {
  const existing = await readdir(out).catch(() => []);
  if (existing.length > 0 && !force) throw new MgieError("INVALID_ARGUMENT", `${out} is not empty: give an empty or new folder, or --force to write over it`);
  const m = (await loadModelDir(modelDir)).manifest;
  const copies = [...(await readdir(PUBLIC_DIR)).map((name) => ({ url: name, path: join(PUBLIC_DIR, name) })), ...(await deviceFiles(modelDir))];
  const models = {
    models: [modelView(m)],
    limits: { maxInstructionChars: MAX_INSTRUCTION_CHARS },
  };
  const headers = ["/*", ...Object.entries({ ...ISOLATION_HEADERS, "content-security-policy": CONTENT_SECURITY_POLICY }).map(([k, v]) => `  ${k}: ${v}`)];
  const written = [
    { url: "web/config.json", text: JSON.stringify({ ...deviceConfig(false), device: true }) },
    { url: "v1/models", text: JSON.stringify(models) },
    { url: "_headers", text: `${headers.join("\n")}\n` },
  ];
  let bytes = 0;
  for (const f of copies) {
    await mkdir(dirname(join(out, f.url)), { recursive: true });
    await copyFile(f.path, join(out, f.url));
  }
  for (const f of written) {
    await mkdir(dirname(join(out, f.url)), { recursive: true });
    await writeFile(join(out, f.url), f.text);
    bytes += Buffer.byteLength(f.text);
  }
  for (const f of copies) bytes += (await stat(f.path)).size;
  return { files: copies.length + written.length, bytes };
}

export function buildWebCommand(): Command {
  return new Command("build-web")
    .description("write the web page, its on-device editor and the model into a folder any static host can serve")
    .requiredOption("--out <dir>", "the folder to write (empty or new)")
    .option("--model <dir>", "model directory", DEFAULT_MODEL_DIR)
    .option("--force", "write into a folder that is not empty", false)
    .action(async (o: { out: string; model: string; force: boolean }) => {
      const { files, bytes } = await buildWeb(o.model, o.out, o.force);
      console.log(
        `mgie build-web: wrote ${files} files (${(bytes / 1e6).toFixed(1)} MB) to ${o.out}; serve the folder over https (or on localhost), see docs/WEB.md`,
      );
    });
}
