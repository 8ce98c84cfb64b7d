import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EditParams } from "../src/core/params.js";
import { MgieEditor } from "../src/pipeline/editor.js";
import { contentType } from "../src/server/deviceFiles.js";
import type { DeviceChoice } from "../src/web/deviceChoice.js";
import { CHROMIUM, CHROMIUM_ARGS } from "./helpers/chromium.js";

/**
 * Editing on the device, in Debian's headless Chromium: `mgie build-web` writes the page, its worker,
 * onnxruntime-web and the model into a folder, served here by a plain static server that counts what it
 * is asked for. The page edits a real photo in the browser; the result must match Node's edit of the same
 * photo with the same seed (the same expressive instruction, pixels within 2/255), and a second visit must
 * read the model from the Cache API. Then "mgie/web" is bundled by esbuild and run in a page of its own.
 * This browser offers no WebGPU adapter (it has navigator.gpu, but without --enable-unsafe-webgpu no adapter), so
 * both choose WebAssembly without measuring. A second Chromium, launched
 * with --enable-unsafe-webgpu, offers WebGPU on SwiftShader (a software adapter): a forced WebGPU edit
 * must match Node too, and the automatic choice must measure both devices, keep the faster and remember it.
 * The tiny model by default; MGIE_TEST_MODEL=models/mgie-e2e for the shipped one (its WebGPU edits take
 * half a minute each on SwiftShader here).
 */
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist/cli/main.js");
const MODEL = process.env.MGIE_TEST_MODEL ?? join(ROOT, "test/fixtures/tiny-model");
const PHOTO = join(ROOT, "assets/photos/python3-sklearn/flower.jpg");
const INSTRUCTION = "make it look like night";
const SEED = 7;
/**
 * How far the device's pixels may be from Node's (of 255). The model's 64x64 view of the photo is resampled by
 * src/image/resample.ts in the browser, by libvips in Node: up to 2 levels apart, which the model's edit can
 * carry further (measured, docs/WEB.md: the shipped model 2/255 at most, mean 0.11; the tiny test model 6, mean 0.3).
 */
const TOLERANCE = { max: 8, mean: 0.5 };
/**
 * How far a WebGPU edit's pixels may be from Node's (of 255): the view's resampling as above, and WebGPU's
 * float32 kernels summing in another order than onnxruntime's CPU kernels (measured, docs/WEB.md).
 */
const WEBGPU_TOLERANCE = { max: 8, mean: 0.5 };
/** Generous: the machine may be busy with other work, and SwiftShader runs WebGPU on the CPU. */
const LOAD = { timeout: 240_000 };
/** onnxruntime-web's binaries: the WebAssembly build's and the WebGPU build's, fetched only when opened. */
const WASM_BINARY = /\/ort-wasm-simd-threaded\.wasm$/;
const WEBGPU_BINARY = /\/ort-wasm-simd-threaded\.asyncify\.wasm$/;

let site: string;
let profile: string;
let browser: BrowserContext;
/** Chromium with WebGPU (SwiftShader), its own profile. */
let gpuBrowser: BrowserContext;
let gpuProfile: string;
let server: Server;
let origin: string;
/** Paths asked of the static server, in order. */
const requests: string[] = [];
let editor: MgieEditor;
type Reference = { expressive: string; width: number; height: number; rgb: Buffer };
/** Node's edit of the photo with the library's defaults. */
let reference: Reference;

async function nodeEdit(params: EditParams): Promise<Reference> {
  const r = await editor.edit(PHOTO, INSTRUCTION, params);
  return { expressive: r.expressiveInstruction, width: r.image.width, height: r.image.height, rgb: Buffer.from(r.image.data.map((v) => Math.round(v * 255))) };
}

/** A static host: the folder's files with the headers of its _headers file (cross-origin isolation). */
async function serveFolder(dir: string): Promise<void> {
  const headers = Object.fromEntries(
    (await readFile(join(dir, "_headers"), "utf8"))
      .split("\n")
      .slice(1)
      .filter((l) => l.includes(":"))
      .map((l) => [l.slice(0, l.indexOf(":")).trim(), l.slice(l.indexOf(":") + 1).trim()]),
  );
  server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname);
    requests.push(path);
    const file = normalize(join(dir, path.endsWith("/") ? `${path}index.html` : path));
    if (!file.startsWith(dir)) return response.writeHead(403).end();
    try {
      const body = await readFile(file);
      response.writeHead(200, { ...headers, "content-type": contentType(file.endsWith("/v1/models") ? `${file}.json` : file) }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The page's result as RGB: the after image drawn on a canvas (the page's CSP keeps fetch off blob: URLs). */
async function resultPixels(page: Page): Promise<{ width: number; height: number; rgb: Buffer }> {
  const { width, height, rgba } = await page.$eval("#after", (img) => {
    const image = img as HTMLImageElement;
    const canvas = new OffscreenCanvas(image.naturalWidth, image.naturalHeight);
    const context = canvas.getContext("2d")!;
    context.drawImage(image, 0, 0);
    return { width: canvas.width, height: canvas.height, rgba: Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data) };
  });
  const rgb = Buffer.alloc(width * height * 3);
  for (let p = 0; p < width * height; p++) for (let c = 0; c < 3; c++) rgb[p * 3 + c] = rgba[p * 4 + c];
  return { width, height, rgb };
}

async function waitUntilReady(page: Page): Promise<string> {
  await page.waitForFunction(() => /stays on this device|could not be loaded/.test(document.getElementById("where-hint")?.textContent ?? ""), null, LOAD);
  expect(await page.textContent("#error")).toBe("");
  return (await page.textContent("#where-hint"))!;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup-system.sh (it installs Debian's chromium)`);
  site = await mkdtemp(join(tmpdir(), "mgie-site-"));
  await promisify(execFile)(process.execPath, [CLI, "build-web", "--out", site, "--model", MODEL, "--force"]);
  await serveFolder(site);
  profile = await mkdtemp(join(tmpdir(), "mgie-chromium-device-"));
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  gpuProfile = await mkdtemp(join(tmpdir(), "mgie-chromium-webgpu-"));
  gpuBrowser = await chromium.launchPersistentContext(gpuProfile, {
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS.filter((a) => a !== "--disable-gpu"), "--enable-unsafe-webgpu"],
    headless: true,
  });
  await bundleLibraryPage();
  editor = await MgieEditor.load(MODEL);
  reference = await nodeEdit({ seed: SEED });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await gpuBrowser?.close();
  await new Promise((resolve) => server?.close(resolve));
  for (const dir of [site, profile, gpuProfile]) if (dir) await rm(dir, { recursive: true, force: true });
});

describe("editing on the device (a static build)", () => {
  it("edits a real photo in the browser as Node does, then reads the model from the cache on the next visit", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${origin}/`);
    // A static build has no server: the page edits on the device, cross-origin isolated, so with threads.
    expect(await page.isVisible("#where")).toBe(false);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    // No WebGPU adapter in this browser: WebAssembly, and WebGPU's runtime is never fetched.
    expect(await waitUntilReady(page)).toMatch(/on WebAssembly, \d threads? \(this browser offers no WebGPU adapter\); [\d.]+ MB downloaded/);
    expect(requests).toContain("/web/model/unet.onnx");
    expect(requests.filter((p) => WASM_BINARY.test(p))).toHaveLength(1);
    expect(requests.filter((p) => WEBGPU_BINARY.test(p))).toEqual([]);

    await page.setInputFiles("#image", PHOTO);
    await page.fill("#instruction", INSTRUCTION);
    await page.fill("#seed", String(SEED));
    // The form's values, as the page sends them, for Node's edit.
    const form = await page.$$eval("#parameters input, #parameters select", (els) =>
      els.map((e) => [e.id, (e as HTMLInputElement).value, e.tagName === "SELECT"] as const),
    );
    const params = Object.fromEntries(form.map(([name, value, choice]) => [name, choice ? value : Number(value)])) as EditParams;
    const expected = await nodeEdit(params);
    await page.click("#edit-button");
    await page.waitForFunction(
      () => /^Done|^Cancelled/.test(document.getElementById("status")!.textContent ?? "") || document.getElementById("error")!.textContent,
      null,
      LOAD,
    );
    expect(await page.textContent("#error")).toBe("");
    expect(await page.textContent("#expressive")).toBe(expected.expressive);
    await page.waitForFunction(() => (document.getElementById("after") as HTMLImageElement).naturalWidth > 0);
    const got = await resultPixels(page);
    expect([got.width, got.height]).toEqual([expected.width, expected.height]);
    let worst = 0;
    let total = 0;
    let over2 = 0;
    for (let i = 0; i < got.rgb.length; i++) {
      const d = Math.abs(got.rgb[i] - expected.rgb[i]);
      worst = Math.max(worst, d);
      total += d;
      if (d > 2) over2++;
    }
    console.log(
      `device vs Node: max ${worst}/255, mean ${(total / got.rgb.length).toFixed(3)}/255, ${over2} of ${got.rgb.length} values more than 2/255 apart`,
    );
    expect(worst).toBeLessThanOrEqual(TOLERANCE.max);
    expect(total / got.rgb.length).toBeLessThanOrEqual(TOLERANCE.mean);

    // The second visit: the model's files come from the Cache API (only its manifest is asked for again).
    requests.length = 0;
    await page.reload();
    expect(await waitUntilReady(page)).toMatch(/from this browser's cache/);
    const modelBytes = requests.filter((p) => p.startsWith("/web/model/") && !p.endsWith("/manifest.json"));
    expect(modelBytes).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);
});

/** What the library page reports: where it runs and, when asked to edit, Node-comparable results. */
interface LibraryResult {
  device: DeviceChoice;
  summary: string;
  edit?: { expressive: string; width: number; height: number; rgb: number[] };
}

/**
 * "mgie/web" bundled by esbuild as an app would bundle it, in lib.html: it loads the model with the options
 * of its URL's query (device, measureSoftwareAdapters, cacheName), reports editor.device, and edits the photo
 * when the query says edit.
 */
async function bundleLibraryPage(): Promise<void> {
  const ortVersion = (await readFile(join(ROOT, "node_modules/onnxruntime-web/package.json"), "utf8")).match(/"version": "([^"]+)"/)![1];
  const entry = `import { describeDevice, MgieEditor } from "mgie/web";
const query = new URLSearchParams(location.search);
const editor = await MgieEditor.load("web/model/", {
  wasmPaths: new URL(${JSON.stringify(`web/ort-${ortVersion}/`)}, location.href).href,
  device: query.get("device") ?? undefined,
  measureSoftwareAdapters: query.has("measureSoftwareAdapters"),
  cacheName: query.get("cacheName") ?? undefined,
});
const result = { device: editor.device, summary: describeDevice(editor.device) };
if (query.has("edit")) {
  const photo = new Uint8Array(await (await fetch("photo.jpg")).arrayBuffer());
  const r = await editor.edit(photo, ${JSON.stringify(INSTRUCTION)}, { seed: ${SEED} });
  result.edit = { expressive: r.expressiveInstruction, width: r.image.width, height: r.image.height, rgb: Array.from(r.image.data, (v) => Math.round(v * 255)) };
}
(globalThis as unknown as { result: unknown }).result = result;
`;
  // Resolved from the checkout, as an app that depends on mgie resolves it.
  await build({
    stdin: { contents: entry, loader: "ts", resolveDir: ROOT },
    outfile: join(site, "lib.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["onnxruntime-web-use-extern-wasm"],
    logLevel: "silent",
  });
  await writeFile(join(site, "lib.html"), '<!doctype html><script type="module" src="lib.js"></script>');
  await writeFile(join(site, "photo.jpg"), await readFile(PHOTO));
}

async function libraryPage(context: BrowserContext, query: string): Promise<LibraryResult> {
  const page = await context.newPage();
  const failed = new Promise<never>((_, reject) => page.on("pageerror", reject));
  await page.goto(`${origin}/lib.html?${query}`);
  await Promise.race([page.waitForFunction(() => (globalThis as unknown as { result?: unknown }).result, null, LOAD), failed]);
  const result = await page.evaluate(() => (globalThis as unknown as { result: LibraryResult }).result);
  await page.close();
  return result;
}

/** How far an edit's pixels are from Node's, checked against `tolerance`. */
function expectCloseToNode(rgb: number[], tolerance: { max: number; mean: number }, what: string): void {
  let worst = 0;
  let total = 0;
  for (let i = 0; i < rgb.length; i++) {
    worst = Math.max(worst, Math.abs(rgb[i] - reference.rgb[i]));
    total += Math.abs(rgb[i] - reference.rgb[i]);
  }
  console.log(`${what} vs Node: max ${worst}/255, mean ${(total / rgb.length).toFixed(3)}/255`);
  expect(worst).toBeLessThanOrEqual(tolerance.max);
  expect(total / rgb.length).toBeLessThanOrEqual(tolerance.mean);
}

describe('import { MgieEditor } from "mgie/web"', () => {
  it("bundles with esbuild and edits in Chromium, on WebAssembly where the browser offers no WebGPU adapter", async () => {
    requests.length = 0;
    const { device, edit } = await libraryPage(browser, "edit");
    expect(device).toMatchObject({ device: "wasm", adapter: null, measured: null, remembered: false, reason: "this browser offers no WebGPU adapter" });
    expect(requests.filter((p) => WEBGPU_BINARY.test(p))).toEqual([]);
    const { rgb, ...result } = edit!;
    expect(result).toEqual({ expressive: reference.expressive, width: reference.width, height: reference.height });
    expectCloseToNode(rgb, TOLERANCE, "mgie/web");
  }, 240_000);
});

describe("WebGPU (Chromium with --enable-unsafe-webgpu: SwiftShader, a software adapter)", () => {
  it('edits as Node does with device "webgpu"', async () => {
    requests.length = 0;
    const { device, edit } = await libraryPage(gpuBrowser, "device=webgpu&edit");
    expect(device).toMatchObject({ device: "webgpu", adapter: "google swiftshader", reason: "as asked" });
    expect(requests.filter((p) => WASM_BINARY.test(p))).toEqual([]);
    const { rgb, ...result } = edit!;
    expect(result).toEqual({ expressive: reference.expressive, width: reference.width, height: reference.height });
    expectCloseToNode(rgb, WEBGPU_TOLERANCE, "mgie/web on WebGPU");
  }, 480_000);

  it("passes a software adapter over by default, on the page too", async () => {
    requests.length = 0;
    const { device } = await libraryPage(gpuBrowser, "cacheName=lib-default");
    expect(device).toMatchObject({ device: "wasm", adapter: "google swiftshader", measured: null });
    expect(device.reason).toBe("WebGPU's only adapter, google swiftshader, runs on the CPU: not measured");
    expect(requests.filter((p) => WEBGPU_BINARY.test(p))).toEqual([]);

    const page = await gpuBrowser.newPage();
    await page.goto(`${origin}/`);
    expect(await waitUntilReady(page)).toMatch(/on WebAssembly, \d threads? \(WebGPU's only adapter, google swiftshader, runs on the CPU: not measured\);/);
    await page.close();
  }, 240_000);

  it("measures both devices, keeps the faster and remembers it for the next load", async () => {
    requests.length = 0;
    const first = await libraryPage(gpuBrowser, "measureSoftwareAdapters&cacheName=lib-measured");
    const { measured } = first.device;
    console.log(`probe edit: WebAssembly ${measured?.wasm.toFixed(0)} ms, WebGPU ${measured?.webgpu.toFixed(0)} ms; ${first.summary}`);
    expect(measured).toEqual({ wasm: expect.any(Number), webgpu: expect.any(Number) });
    expect(first.device.device).toBe(measured!.webgpu < measured!.wasm ? "webgpu" : "wasm");
    expect(first.device.remembered).toBe(false);
    expect(first.device.reason).toMatch(/^(WebGPU|WebAssembly) measured [\d.]+ m?s against [\d.]+ m?s$/);
    // Both were opened to be measured.
    expect(requests.filter((p) => WASM_BINARY.test(p))).toHaveLength(1);
    expect(requests.filter((p) => WEBGPU_BINARY.test(p))).toHaveLength(1);

    // The next load reads the record: the same choice and times, and only the chosen device's runtime is fetched.
    requests.length = 0;
    const second = await libraryPage(gpuBrowser, "measureSoftwareAdapters&cacheName=lib-measured");
    expect(second.device).toEqual({ ...first.device, remembered: true });
    expect(second.summary).toBe(`${first.summary.slice(0, -1)}, on an earlier visit)`);
    expect(requests.filter((p) => WASM_BINARY.test(p))).toHaveLength(first.device.device === "wasm" ? 1 : 0);
    expect(requests.filter((p) => WEBGPU_BINARY.test(p))).toHaveLength(first.device.device === "webgpu" ? 1 : 0);
  }, 480_000);
});
