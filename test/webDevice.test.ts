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

/**
 * Editing on the device, in Debian's headless Chromium: `mgie build-web` writes the page, its worker,
 * onnxruntime-web and the model into a folder, served here by a plain static server that counts what it
 * is asked for. The page edits a real photo in the browser; the result must match Node's edit of the same
 * photo with the same seed (the same expressive instruction, pixels within 2/255), and a second visit must
 * read the model from the Cache API. Then "mgie/web" is bundled by esbuild and run in a page of its own.
 * The tiny model by default; MGIE_TEST_MODEL=models/mgie-e2e for the shipped one.
 */
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist/cli/main.js");
const MODEL = process.env.MGIE_TEST_MODEL ?? join(ROOT, "test/fixtures/tiny-model");
const PHOTO = join(ROOT, "assets/photos/python3-sklearn/flower.jpg");
const INSTRUCTION = "make it look like autumn";
const SEED = 7;
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/**
 * How far the device's pixels may be from Node's (of 255). The model's 64x64 view of the photo is resampled by
 * src/image/resample.ts in the browser, by libvips in Node: up to 2 levels apart, which the model's edit can
 * carry further (measured, docs/WEB.md: the shipped model 3/255 at most, mean 0.09; the tiny test model 6, mean 0.3).
 */
const TOLERANCE = { max: 8, mean: 0.5 };
/** Generous: the machine may be busy with other work. */
const LOAD = { timeout: 120_000 };

let site: string;
let profile: string;
let browser: BrowserContext;
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
  editor = await MgieEditor.load(MODEL);
  reference = await nodeEdit({ seed: SEED });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
  for (const dir of [site, profile]) if (dir) await rm(dir, { recursive: true, force: true });
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
    expect(await waitUntilReady(page)).toMatch(/WebAssembly, \d threads?; [\d.]+ MB downloaded/);
    expect(requests).toContain("/web/model/unet.onnx");

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

describe('import { MgieEditor } from "mgie/web"', () => {
  it("bundles with esbuild and edits in Chromium", async () => {
    const entry = `import { MgieEditor } from "mgie/web";
const editor = await MgieEditor.load("web/model/", { wasmPaths: new URL(${JSON.stringify(`web/ort-${(await readFile(join(ROOT, "node_modules/onnxruntime-web/package.json"), "utf8")).match(/"version": "([^"]+)"/)![1]}/`)}, location.href).href });
const photo = new Uint8Array(await (await fetch("photo.jpg")).arrayBuffer());
const r = await editor.edit(photo, ${JSON.stringify(INSTRUCTION)}, { seed: ${SEED} });
(globalThis as unknown as { result: unknown }).result = { expressive: r.expressiveInstruction, width: r.image.width, height: r.image.height, rgb: Array.from(r.image.data, (v) => Math.round(v * 255)) };
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
    const page = await browser.newPage();
    await page.goto(`${origin}/lib.html`);
    await page.waitForFunction(() => (globalThis as unknown as { result?: unknown }).result, null, LOAD);
    const { rgb, ...result } = await page.evaluate(
      () => (globalThis as unknown as { result: { expressive: string; width: number; height: number; rgb: number[] } }).result,
    );
    expect(result).toEqual({ expressive: reference.expressive, width: reference.width, height: reference.height });
    let worst = 0;
    let total = 0;
    for (let i = 0; i < rgb.length; i++) {
      worst = Math.max(worst, Math.abs(rgb[i] - reference.rgb[i]));
      total += Math.abs(rgb[i] - reference.rgb[i]);
    }
    console.log(`mgie/web vs Node: max ${worst}/255, mean ${(total / rgb.length).toFixed(3)}/255`);
    expect(worst).toBeLessThanOrEqual(TOLERANCE.max);
    expect(total / rgb.length).toBeLessThanOrEqual(TOLERANCE.mean);
    await page.close();
  }, 240_000);
});
