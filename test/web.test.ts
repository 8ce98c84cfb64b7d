import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

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
const CHROMIUM = "/usr/bin/chromium";
const RES = (JSON.parse(readFileSync(join(MODEL, "manifest.json"), "utf8")) as { resolution: number }).resolution;
/** Generous: the machine may be busy with other work. */
const POLL = { timeout: 10_000 };
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
];

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

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup-system.sh (it installs Debian's chromium)`);
  photo = await readFile(PHOTO);
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

async function setSteps(page: Page, steps: number): Promise<void> {
  // The keyboard way a person would: Home goes to 1, each ArrowRight adds one.
  await page.focus("#steps");
  await page.keyboard.press("Home");
  for (let i = 1; i < steps; i++) await page.keyboard.press("ArrowRight");
  await expect.poll(() => page.textContent("#steps-value"), POLL).toBe(String(steps));
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
    await page.goto(server.url);
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
    const size = await page.$eval("#after", (img) => [(img as HTMLImageElement).naturalWidth, (img as HTMLImageElement).naturalHeight]);
    expect(size).toEqual([RES, RES]);
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

  it("reaches every control in a sensible order with Tab, and explains a missing instruction", async () => {
    await page.goto(server.url);
    const order: string[] = [];
    for (let i = 0; i < 11; i++) {
      await page.keyboard.press("Tab");
      order.push(await page.evaluate(() => document.activeElement?.id ?? ""));
    }
    // The region slider shows because the test model has a region head.
    expect(order).toEqual([
      "image",
      "instruction",
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
    await page.setInputFiles("#image", { name: "flower.jpg", mimeType: "image/jpeg", buffer: photo });
    await page.click("#edit-button");
    expect(await page.textContent("#error")).toMatch(/Type an instruction first/);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("instruction");
  });

  it("fits a phone-sized screen without sideways scrolling", async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    await page.goto(server.url);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    const box = await page.locator("#edit-button").boundingBox();
    expect(box!.width).toBeGreaterThan(280);
  });
});

describe("the web page with a token", () => {
  it("asks for the token, then edits with it", async () => {
    const server = await serve("--token", "open sesame");
    const page = await browser.newPage();
    try {
      await page.goto(server.url);
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
