/**
 * Seconds per edit on the device (headless Chromium, onnxruntime-web: WebAssembly with 1 thread and with
 * threads; WebGPU on the adapter Chromium offers with --enable-unsafe-webgpu, SwiftShader here, and the
 * automatic choice's first load, which times both) against onnxruntime-node on the same machine, and the
 * model's download + load time in the browser (first visit, then from the Cache API). Prints a Markdown
 * table (docs/WEB.md).
 *
 *   npx tsx scripts/bench-web.ts [--model models/mgie-e2e] [--repeats 5] [--webgpu-repeats 2]
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { buildWeb } from "../src/cli/buildWeb.js";
import { MgieEditor } from "../src/pipeline/editor.js";
import { contentType, WASM_URL } from "../src/server/deviceFiles.js";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "models/mgie-e2e" },
    repeats: { type: "string", default: "5" },
    "webgpu-repeats": { type: "string", default: "2" },
  },
});
const MODEL = values.model!;
const REPEATS = Number(values.repeats);
/** Fewer: a software adapter takes tens of seconds an edit. */
const WEBGPU_REPEATS = Number(values["webgpu-repeats"]);
const PHOTO = "assets/photos/darknet/dog.jpg";
const INSTRUCTION = "make it look like night";
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const site = await mkdtemp(join(tmpdir(), "mgie-bench-site-"));
await buildWeb(MODEL, site, true);
await writeFile(join(site, "photo.jpg"), await readFile(PHOTO));
await writeFile(join(site, "bench.html"), '<!doctype html><script type="module" src="bench.js"></script>');
const entry = `import { describeDevice, MgieEditor } from "mgie/web";
const query = new URLSearchParams(location.search);
const threads = Number(query.get("threads"));
const t0 = performance.now();
let fetched = 0;
const editor = await MgieEditor.load("web/model/", {
  wasmPaths: new URL("${WASM_URL}", location.href).href,
  threads,
  device: query.get("device"),
  measureSoftwareAdapters: true,
  onProgress: (p) => (fetched = p.fetched),
});
const loadMs = performance.now() - t0;
const photo = new Uint8Array(await (await fetch("photo.jpg")).arrayBuffer());
const times = [];
let timings = {};
for (let i = 0; i <= Number(query.get("repeats")); i++) {
  const t = performance.now();
  const r = await editor.edit(photo, ${JSON.stringify(INSTRUCTION)}, { seed: 1 });
  if (i > 0) times.push(performance.now() - t);
  timings = r.timings;
}
globalThis.result = { loadMs, fetched, times, timings, isolated: crossOriginIsolated, adapter: editor.device.adapter, device: describeDevice(editor.device) };
`;
await build({
  stdin: { contents: entry, loader: "ts", resolveDir: process.cwd() },
  outfile: join(site, "bench.js"),
  bundle: true,
  format: "esm",
  conditions: ["onnxruntime-web-use-extern-wasm"],
  logLevel: "silent",
});

const server = createServer(async (request, response) => {
  const path = decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname);
  const file = normalize(join(site, path));
  try {
    const body = await readFile(file);
    response
      .writeHead(200, { "content-type": contentType(file), "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" })
      .end(body);
  } catch {
    response.writeHead(404).end();
  }
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

interface PageResult {
  loadMs: number;
  fetched: number;
  times: number[];
  timings: Record<string, number>;
  isolated: boolean;
  /** The WebGPU adapter, where there was one. */
  adapter: string | null;
  /** Where it ran and why, as the page says it. */
  device: string;
}
const profile = await mkdtemp(join(tmpdir(), "mgie-bench-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  // WebGPU on whatever adapter Chromium finds (SwiftShader, on the CPU, where there is no usable GPU).
  args: ["--headless", "--no-sandbox", "--no-first-run", "--disable-background-networking", "--enable-unsafe-webgpu"],
});
async function inBrowser(threads: number, device: "wasm" | "webgpu" | "auto", repeats: number): Promise<PageResult> {
  const page = await browser.newPage();
  const query = new URLSearchParams({ threads: String(threads), device, repeats: String(repeats) });
  await page.goto(`${origin}/bench.html?${query}`);
  await page.waitForFunction(() => (globalThis as unknown as { result?: unknown }).result, null, { timeout: 600_000 });
  const r = await page.evaluate(() => (globalThis as unknown as { result: PageResult }).result);
  await page.close();
  return r;
}
const threads = Math.min(4, availableParallelism());
// The first page downloads the model (an empty profile); the others read it from the Cache API.
const first = await inBrowser(1, "wasm", REPEATS);
const wasm1 = await inBrowser(1, "wasm", REPEATS);
const wasmN = await inBrowser(threads, "wasm", REPEATS);
const webgpu = await inBrowser(threads, "webgpu", WEBGPU_REPEATS);
// The automatic choice's first load (forced devices record nothing): the probe edit timed on both devices.
const auto = await inBrowser(threads, "auto", REPEATS);
await browser.close();
server.close();

async function inNode(n: number): Promise<{ loadMs: number; times: number[] }> {
  const t0 = performance.now();
  const editor = await MgieEditor.load(MODEL, { threads: n });
  const loadMs = performance.now() - t0;
  const times: number[] = [];
  for (let i = 0; i <= REPEATS; i++) {
    const t = performance.now();
    await editor.edit(PHOTO, INSTRUCTION, { seed: 1 });
    if (i > 0) times.push(performance.now() - t);
  }
  return { loadMs, times };
}
const node1 = await inNode(1);
const nodeN = await inNode(threads);
await rm(site, { recursive: true, force: true });
await rm(profile, { recursive: true, force: true });

const s = (ms: number) => (ms / 1000).toFixed(3);
const mb = (b: number) => (b / 1e6).toFixed(1);
console.log(
  `Model ${MODEL}, ${PHOTO} (full size) "${INSTRUCTION}", median of ${REPEATS} edits (WebGPU: ${WEBGPU_REPEATS}) after one warm-up; ${availableParallelism()} cores.\n`,
);
console.log("| runtime | threads | seconds per edit | model load (s) | model bytes fetched |");
console.log("|---|---|---|---|---|");
console.log(`| Chromium, onnxruntime-web WebAssembly (SIMD), first visit | 1 | ${s(median(first.times))} | ${s(first.loadMs)} | ${mb(first.fetched)} MB |`);
console.log(`| Chromium, onnxruntime-web WebAssembly (SIMD) | 1 | ${s(median(wasm1.times))} | ${s(wasm1.loadMs)} (from the cache) | ${mb(wasm1.fetched)} MB |`);
console.log(
  `| Chromium, onnxruntime-web WebAssembly (SIMD) | ${threads}${wasmN.isolated ? "" : " (not isolated: 1)"} | ${s(median(wasmN.times))} | ${s(wasmN.loadMs)} (from the cache) | ${mb(wasmN.fetched)} MB |`,
);
console.log(
  `| Chromium, onnxruntime-web WebGPU on ${webgpu.adapter}${webgpu.adapter?.includes("swiftshader") ? " (a software adapter: the GPU emulated on the CPU)" : ""} | ${threads} | ${s(median(webgpu.times))} (median of ${WEBGPU_REPEATS}) | ${s(webgpu.loadMs)} (from the cache) | ${mb(webgpu.fetched)} MB |`,
);
console.log(
  `| Chromium, "auto", first load: a probe edit timed on both, then ${auto.device} | ${threads} | ${s(median(auto.times))} | ${s(auto.loadMs)} (from the cache, with the probe) | ${mb(auto.fetched)} MB |`,
);
console.log(`| Node, onnxruntime-node | 1 | ${s(median(node1.times))} | ${s(node1.loadMs)} | – |`);
console.log(`| Node, onnxruntime-node | ${threads} | ${s(median(nodeN.times))} | ${s(nodeN.loadMs)} | – |`);
console.log(
  `\nBrowser stages (ms, last edit, ${threads} threads): ${JSON.stringify(Object.fromEntries(Object.entries(wasmN.timings).map(([k, v]) => [k, Math.round(v)])))}`,
);
