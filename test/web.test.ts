import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, CHROMIUM_ARGS } from "./helpers/chromium.js";

/**
 * The web page end to end, as a person uses it: `mgie serve` (the built CLI) with the tiny model,
 * driven in Debian's headless Chromium (scripts/setup-system.sh installs it). It takes a screenshot
 * into the temp folder; with MGIE_WRITE_DOCS=1 into docs/web-page.png instead (the picture in docs/SERVER.md,
 * made with the shipped model: MGIE_WRITE_DOCS=1 MGIE_TEST_MODEL=models/mgie-e2e npx vitest run test/web.test.ts).
 */
const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const MODEL = process.env.MGIE_TEST_MODEL ?? fileURLToPath(new URL("./fixtures/tiny-model", import.meta.url));
const PHOTO = fileURLToPath(new URL("../assets/photos/python3-sklearn/flower.jpg", import.meta.url));
const SCREENSHOT = process.env.MGIE_WRITE_DOCS === "1" ? fileURLToPath(new URL("../docs/web-page.png", import.meta.url)) : join(tmpdir(), "mgie-web-page.png");
const RES = (JSON.parse(readFileSync(join(MODEL, "manifest.json"), "utf8")) as { resolution: number }).resolution;
/** Generous: the machine may be busy with other work. */
const POLL = { timeout: 10_000 };

interface Served {
  url: string;
  process: ChildProcess;
  output: () => string;
}

/** Starts `mgie serve` on a free loopback port and resolves once it prints its URL. */
async function serve(...args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [CLI, "serve", "--model", MODEL, "--port", "0", "--threads", "1", ...args], {
    env: { ...process.env, MGIE_TOKEN: "" },
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d));
  child.stderr.on("data", (d: Buffer) => (output += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", () => {
      const m = /mgie serve: (http:\/\/\S+?)\/ /.exec(output);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`mgie serve exited with ${code}: ${output}`)));
  });
  return { url, process: child, output: () => output };
}

/** Stops the server as Ctrl-C would, and checks it shut down cleanly. */
async function stop(server: Served): Promise<void> {
  const exited = once(server.process, "exit");
  server.process.kill("SIGINT");
  const [code] = await exited;
  expect(code, server.output()).toBe(0);
  expect(server.output()).toMatch(/mgie serve: stopped/);
}

let profile: string;
let browser: BrowserContext;
let photo: Buffer;
/** The flower photo's size: not square, and not the model's. */
const PHOTO_SIZE = [384, 256];
/** A non-square PNG of another size, with detail everywhere, for the mask tests. */
const PATTERN = { width: 240, height: 150 };
let pattern: Buffer;

async function makePattern(): Promise<Buffer> {
  const { width, height } = PATTERN;
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = (x * 255) / width;
      raw[i + 1] = (y * 255) / height;
      raw[i + 2] = 128 + 100 * Math.sin(x / 7) * Math.cos(y / 5);
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

interface Pixels {
  width: number;
  height: number;
  channels: number;
  data: Buffer;
}

/** Decodes an image as the server reads one: upright, on white, sRGB, no alpha. */
async function pixels(bytes: Buffer, channels: 1 | 3 = 3): Promise<Pixels> {
  let pipeline = sharp(bytes).rotate().flatten({ background: "#ffffff" }).toColourspace("srgb").removeAlpha();
  if (channels === 1) pipeline = pipeline.extractChannel(0);
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data };
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup-system.sh (it installs Debian's chromium)`);
  photo = await readFile(PHOTO);
  pattern = await makePattern();
  profile = await mkdtemp(join(tmpdir(), "mgie-chromium-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1200, height: 900 },
  });
});

afterAll(async () => {
  await browser?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

/** Opens the page and chooses to edit on the server (the page edits on the device by default: test/webDevice.test.ts). */
async function openOnServer(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector("#where-server", { state: "visible", ...POLL });
  // Chosen without moving the keyboard focus (the tests of the focus order start from the page's start).
  await page.$eval("#where-server", (radio) => {
    (radio as HTMLInputElement).checked = true;
    radio.dispatchEvent(new Event("change"));
  });
}

async function setSteps(page: Page, steps: number): Promise<void> {
  // The keyboard way a person would: Home goes to 1, each ArrowRight adds one.
  await page.focus("#steps");
  await page.keyboard.press("Home");
  for (let i = 1; i < steps; i++) await page.keyboard.press("ArrowRight");
  await expect.poll(() => page.textContent("#steps-value"), POLL).toBe(String(steps));
}

async function naturalSize(page: Page, selector: string): Promise<number[]> {
  return page.$eval(selector, (img) => [(img as HTMLImageElement).naturalWidth, (img as HTMLImageElement).naturalHeight]);
}

/** Drags the mouse over the mask canvas, from and to points given as fractions of its width and height. */
async function paint(page: Page, from: [number, number], to: [number, number]): Promise<void> {
  const canvas = page.locator("#mask-canvas");
  await canvas.scrollIntoViewIfNeeded();
  const box = (await canvas.boundingBox())!;
  const at = ([fx, fy]: [number, number]) => [box.x + fx * box.width, box.y + fy * box.height] as const;
  await page.mouse.move(...at(from));
  await page.mouse.down();
  await page.mouse.move(...at(to), { steps: 10 });
  await page.mouse.up();
}

/** Uploads an image and waits until its mask can be painted. */
async function upload(page: Page, name: string, mimeType: string, buffer: Buffer): Promise<void> {
  await page.setInputFiles("#image", { name, mimeType, buffer });
  await page.waitForSelector("#mask-canvas", { state: "visible", ...POLL });
}

/**
 * Submits the edit; resolves with the files of the multipart request the page sent (by field name)
 * and the result PNG, fetched from the API (the page's CSP keeps even its own fetch off blob: URLs). Chromium does not show tests the body of a request made of blobs,
 * so the page's next fetch with a FormData body is watched from inside the page.
 */
async function editAndCapture(page: Page, server: Served, turn: number): Promise<{ files: Map<string, Buffer>; result: Buffer }> {
  type Watched = { fetch: typeof fetch; sentFiles?: Promise<[string, number[]][]> };
  await page.evaluate(() => {
    const w = window as unknown as Watched;
    const original = w.fetch;
    w.fetch = (input, init) => {
      if (init?.body instanceof FormData) {
        w.fetch = original;
        const files = [...init.body.entries()].filter((e): e is [string, File] => e[1] instanceof Blob);
        w.sentFiles = Promise.all(files.map(async ([name, blob]) => [name, Array.from(new Uint8Array(await blob.arrayBuffer()))] as [string, number[]]));
      }
      return original(input, init);
    };
  });
  const submitted = page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/v1/edits");
  await page.click("#edit-button");
  const job = (await (await submitted).json()) as { links: { image: string } };
  await waitForResult(page, turn);
  const sent = await page.evaluate(() => (window as unknown as Watched).sentFiles);
  if (!sent) throw new Error("the page sent no multipart request");
  const response = await fetch(server.url + job.links.image);
  expect(response.headers.get("content-type")).toBe("image/png");
  return { files: new Map(sent.map(([name, bytes]) => [name, Buffer.from(bytes)])), result: Buffer.from(await response.arrayBuffer()) };
}

async function waitForResult(page: Page, turn: number): Promise<void> {
  await page.waitForFunction(
    (expected) => {
      const after = document.getElementById("after") as HTMLImageElement;
      return document.getElementById("download")!.getAttribute("download") === `mgie-turn-${expected}.png` && after.complete && after.naturalWidth > 0;
    },
    turn,
    { timeout: 15_000 },
  );
}

describe("the web page", () => {
  let server: Served;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    server = await serve();
    page = await browser.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
  });

  afterEach(() => {
    expect(pageErrors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await page?.close();
    if (server) await stop(server);
  });

  it("edits an uploaded image, shows progress, the expressive instruction and the result", async () => {
    await openOnServer(page, server.url);
    await expect.poll(() => page.textContent("#model-info"), POLL).toMatch(new RegExp(`mgie-e2e .*${RES}×${RES}`));
    await page.setInputFiles("#image", { name: "flower.jpg", mimeType: "image/jpeg", buffer: photo });
    await expect.poll(() => page.getAttribute("#input-preview", "src"), POLL).toMatch(/^blob:/);
    await setSteps(page, 2);
    await page.fill("#instruction", "make the flower look like autumn");
    const statuses: string[] = [];
    await page.exposeFunction("recordStatus", (s: string) => statuses.push(s));
    await page.evaluate(() => {
      const status = document.getElementById("status")!;
      new MutationObserver(() => (window as unknown as { recordStatus: (s: string) => void }).recordStatus(status.textContent ?? "")).observe(status, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    await page.click("#edit-button");
    await waitForResult(page, 1);

    expect(await page.isVisible("#result")).toBe(true);
    expect((await page.textContent("#expressive"))!.length).toBeGreaterThan(0);
    expect(await page.getAttribute("#download", "href")).toMatch(/^blob:/);
    expect(await page.textContent("#status")).toMatch(/^Done in (\d+ ms|\d+\.\d s)\.$/);
    expect(statuses).toContain("Editing: step 2 of 2");
    // The result at the photo's own size (not the model's RES×RES), and the page says so.
    expect(await naturalSize(page, "#after")).toEqual(PHOTO_SIZE);
    await expect.poll(() => page.textContent("#result-size"), POLL).toMatch(new RegExp(`^${PHOTO_SIZE[0]}×${PHOTO_SIZE[1]} pixels`));
    expect(await page.isVisible("#error")).toBe(false);
  });

  it("continues from the result by keyboard alone (Enter submits), keeps a history to step back through", async () => {
    await page.focus("#continue");
    await page.keyboard.press("Enter");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("instruction");
    expect(await page.locator("#history li").count()).toBe(2);
    await page.keyboard.type("add a blue tint");
    await page.keyboard.press("Enter");
    await waitForResult(page, 2);
    expect(await page.textContent("#status")).toMatch(/^Done/);

    await page.click("#continue");
    const items = page.locator("#history .history-item");
    expect(await items.count()).toBe(3);
    expect(await items.nth(2).textContent()).toMatch(/Turn 2: add a blue tint/);

    await items.nth(0).focus();
    await page.keyboard.press("Enter");
    expect(await items.nth(0).getAttribute("aria-current")).toBe("step");
    expect(await page.textContent("#status")).toMatch(/original is the input again/);
    await page.keyboard.type("make the flower look like autumn");
    await page.keyboard.press("Enter");
    await waitForResult(page, 1);
    expect(await items.count()).toBe(3); // editing from an earlier turn keeps the later ones until one continues

    await page.setViewportSize({ width: 1200, height: 1300 });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it("paints a mask with the pointer: the edit sends it and leaves the photo bit for bit outside it", async () => {
    await openOnServer(page, server.url);
    await upload(page, "pattern.png", "image/png", pattern);
    // The canvas is drawn in the photo's own pixels, whatever size it shows at.
    expect(await page.$eval("#mask-canvas", (c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height])).toEqual([PATTERN.width, PATTERN.height]);
    expect(await page.textContent("#mask-status")).toMatch(/Nothing painted/);
    await setSteps(page, 2);
    // A stroke across the upper left of the photo, with the smallest brush (keyboard: Home).
    await page.focus("#brush-size");
    await page.keyboard.press("Home");
    expect(await page.textContent("#brush-size-value")).toBe("4 px");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    expect(await page.textContent("#brush-size-value")).toBe("20 px");
    await paint(page, [0.1, 0.25], [0.45, 0.3]);
    expect(await page.textContent("#mask-status")).toMatch(/only where you painted/);
    await page.fill("#instruction", "make it brighter");
    const { files, result } = await editAndCapture(page, server, 1);

    expect([...files.keys()]).toEqual(["image", "mask"]);
    const mask = await pixels(files.get("mask")!, 1);
    expect([mask.width, mask.height]).toEqual([PATTERN.width, PATTERN.height]);
    const at = (fx: number, fy: number) => mask.data[Math.round(fy * (mask.height - 1)) * mask.width + Math.round(fx * (mask.width - 1))];
    expect(at(0.1, 0.25)).toBe(255); // painted: white
    expect(at(0.3, 0.275)).toBe(255);
    expect(at(0.3, 0.8)).toBe(0); // elsewhere: black
    expect(at(0.9, 0.25)).toBe(0);

    const input = await pixels(pattern);
    const output = await pixels(result);
    expect([output.width, output.height]).toEqual([PATTERN.width, PATTERN.height]);
    expect(await naturalSize(page, "#after")).toEqual([PATTERN.width, PATTERN.height]);
    let outside = 0;
    let differ = 0;
    for (let p = 0; p < mask.width * mask.height; p++) {
      if (mask.data[p] !== 0) continue;
      outside++;
      for (let c = 0; c < 3; c++) if (output.data[p * 3 + c] !== input.data[p * 3 + c]) differ++;
    }
    expect(outside).toBeGreaterThan(0.8 * mask.width * mask.height);
    expect(differ).toBe(0);
    // ...and the edit did act where it was painted (else the check above would prove nothing).
    let inside = 0;
    for (let p = 0; p < mask.width * mask.height; p++)
      if (mask.data[p] === 255 && [0, 1, 2].some((c) => output.data[p * 3 + c] !== input.data[p * 3 + c])) inside++;
    expect(inside).toBeGreaterThan(0);

    // Continuing makes the result the input: a new input starts with no mask.
    await page.click("#continue");
    await expect.poll(() => page.textContent("#mask-status"), POLL).toMatch(/Nothing painted/);
  });

  it("erases and clears the mask: with nothing painted no mask is sent", async () => {
    await openOnServer(page, server.url);
    await upload(page, "pattern.png", "image/png", pattern);
    await setSteps(page, 1);
    await paint(page, [0.2, 0.5], [0.6, 0.5]);
    expect(await page.textContent("#mask-status")).toMatch(/only where you painted/);

    // The eraser, by keyboard: a toggle button. Erasing the whole stroke with the largest brush empties the mask.
    await page.focus("#eraser");
    await page.keyboard.press("Space");
    expect(await page.getAttribute("#eraser", "aria-pressed")).toBe("true");
    await page.focus("#brush-size");
    await page.keyboard.press("End");
    await paint(page, [0.1, 0.5], [0.7, 0.5]);
    expect(await page.textContent("#mask-status")).toMatch(/Nothing painted/);
    await page.click("#eraser");
    expect(await page.getAttribute("#eraser", "aria-pressed")).toBe("false");

    // Paint again, then clear: the edit goes without a mask.
    await paint(page, [0.3, 0.3], [0.4, 0.6]);
    expect(await page.textContent("#mask-status")).toMatch(/only where you painted/);
    await page.click("#clear-mask");
    expect(await page.textContent("#mask-status")).toMatch(/Nothing painted/);
    expect(await page.textContent("#status")).toMatch(/Mask cleared/);
    await page.fill("#instruction", "make it brighter");
    const { files, result } = await editAndCapture(page, server, 1);
    expect([...files.keys()]).toEqual(["image"]);
    const output = await pixels(result);
    expect([output.width, output.height]).toEqual([PATTERN.width, PATTERN.height]);
    // Without a mask the tiny model's edit changes most of the photo, far from where the stroke was too.
    const input = await pixels(pattern);
    let changed = 0;
    for (let i = 0; i < input.data.length; i++) if (input.data[i] !== output.data[i]) changed++;
    expect(changed).toBeGreaterThan(input.data.length / 2);
  });

  it("starts every setting at the model's default, also one that lies between a slider's marks", async () => {
    await openOnServer(page, server.url);
    await page.waitForSelector("#scheduler");
    const { models } = (await (await fetch(`${server.url}/v1/models`)).json()) as { models: { parameters: { name: string; default: unknown }[] }[] };
    const defaults = Object.fromEntries(models[0].parameters.map((p) => [p.name, String(p.default)]));
    // The test model's α_X is 1.25, between the marks of a slider that steps by 0.5.
    expect(defaults.cfgText).toBe("1.25");
    const shown = await page.$$eval("#parameters input, #parameters select", (els) => els.map((e) => [e.id, (e as HTMLInputElement).value]));
    expect(Object.fromEntries(shown)).toEqual(defaults);
  });

  it("reaches every control in a sensible order with Tab, and explains a missing instruction", async () => {
    await openOnServer(page, server.url);
    // The settings are built from GET /v1/models once it answers: tab through them after that.
    await page.waitForSelector("#scheduler");
    const order: string[] = [];
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press("Tab");
      order.push(await page.evaluate(() => document.activeElement?.id ?? ""));
    }
    // The region slider shows because the test model has a region head.
    expect(order).toEqual([
      "image",
      "instruction",
      "where-server",
      "cfgText",
      "cfgImage",
      "changeThreshold",
      "regionThreshold",
      "steps",
      "seed",
      "new-seed",
      "scheduler",
      "edit-button",
    ]);
    await page.keyboard.press("Enter");
    expect(await page.textContent("#error")).toMatch(/Choose an image first/);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("image");
    // With an image, its mask tools come between it and the instruction.
    await upload(page, "flower.jpg", "image/jpeg", photo);
    await page.focus("#image");
    const withImage: string[] = [];
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press("Tab");
      withImage.push(await page.evaluate(() => document.activeElement?.id ?? ""));
    }
    expect(withImage).toEqual(["brush-size", "eraser", "clear-mask", "instruction"]);
    // Each has a name a screen reader says; the eraser says whether it is on.
    expect(await page.getByRole("slider", { name: "Brush size" }).getAttribute("id")).toBe("brush-size");
    expect(await page.getByRole("button", { name: "Eraser", pressed: false }).getAttribute("id")).toBe("eraser");
    expect(await page.getByRole("button", { name: "Clear mask" }).getAttribute("id")).toBe("clear-mask");
    await page.click("#edit-button");
    expect(await page.textContent("#error")).toMatch(/Type an instruction first/);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("instruction");
  });

  it("fits a phone-sized screen without sideways scrolling", async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    await openOnServer(page, server.url);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    const box = await page.locator("#edit-button").boundingBox();
    expect(box!.width).toBeGreaterThan(280);
    // With an image, its preview and mask fit the width too.
    await upload(page, "flower.jpg", "image/jpeg", photo);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    const canvas = (await page.locator("#mask-canvas").boundingBox())!;
    expect(canvas.x).toBeGreaterThanOrEqual(0);
    expect(canvas.x + canvas.width).toBeLessThanOrEqual(375);
    expect(canvas.width / canvas.height).toBeCloseTo(PHOTO_SIZE[0] / PHOTO_SIZE[1], 1);
  });

  it("accepts the formats the server reads, by type or, when the browser gives none, by name", async () => {
    await openOnServer(page, server.url);
    const accept = (await page.getAttribute("#image", "accept"))!.split(",");
    for (const type of ["image/jpeg", "image/png", "image/webp", "image/gif", "image/tiff", "image/avif", "image/heic", ".heic", ".tif"])
      expect(accept).toContain(type);
    expect(await page.textContent("#drop-text")).toMatch(/JPEG, PNG, WebP, GIF, TIFF or AVIF/);
    const gif = await sharp(pattern).gif().toBuffer();
    await upload(page, "pattern.gif", "image/gif", gif);
    expect(await page.isVisible("#error")).toBe(false);
    // No type (as browsers give HEIC and TIFF): the name decides. Chromium cannot show a TIFF: no preview, no mask, still editable.
    const tiff = await sharp(pattern).tiff().toBuffer();
    await page.setInputFiles("#image", { name: "pattern.tif", mimeType: "", buffer: tiff });
    await expect.poll(() => page.textContent("#drop-text"), POLL).toMatch(/cannot show pattern\.tif/);
    expect(await page.isVisible("#error")).toBe(false);
    expect(await page.isVisible("#mask-tools")).toBe(false);
    await setSteps(page, 1);
    await page.fill("#instruction", "make it brighter");
    await page.click("#edit-button");
    await waitForResult(page, 1);
    expect(await naturalSize(page, "#after")).toEqual([PATTERN.width, PATTERN.height]);
    expect(await page.isVisible("#compare-control")).toBe(false); // nothing to compare with
    await page.setInputFiles("#image", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello") });
    expect(await page.textContent("#error")).toMatch(/notes\.txt is not a JPEG, PNG, WebP, GIF, TIFF or AVIF image/);
  });
});

describe("the web page with a token", () => {
  it("asks for the token, then edits with it", async () => {
    const server = await serve("--token", "open sesame");
    const page = await browser.newPage();
    try {
      await openOnServer(page, server.url);
      await page.waitForSelector("#token-form", { state: "visible" });
      expect(await page.evaluate(() => document.activeElement?.id)).toBe("token");
      await page.keyboard.type("open says me");
      await page.keyboard.press("Enter");
      await expect.poll(() => page.textContent("#error"), POLL).toMatch(/access token was not accepted/);
      expect(await page.isVisible("#token-form")).toBe(true);
      await page.fill("#token", "open sesame");
      await page.press("#token", "Enter");
      await expect.poll(() => page.textContent("#model-info"), POLL).toMatch(/mgie-e2e/);
      expect(await page.isVisible("#token-form")).toBe(false);
      await page.setInputFiles("#image", { name: "flower.jpg", mimeType: "image/jpeg", buffer: photo });
      await setSteps(page, 2);
      await page.fill("#instruction", "make it brighter");
      await page.press("#instruction", "Enter");
      await waitForResult(page, 1);
      expect((await page.textContent("#expressive"))!.length).toBeGreaterThan(0);
    } finally {
      await page.close();
      await stop(server);
    }
  });
});
