import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TINY = join(ROOT, "test/fixtures/tiny-model");

/** Runs `code` as an ES module in a fresh Node process without ORT_DISABLE_TELEMETRY in its environment; returns its pid. */
function pidOfRun(code: string): number {
  const { ORT_DISABLE_TELEMETRY: _, ...env } = process.env;
  return Number(execFileSync(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT, env }).toString().trim());
}

describe("ONNX Runtime's telemetry", () => {
  // Its 1DS telemetry leaves /tmp/mat-debug-<pid>.log behind in every process where it started (checked
  // by hand: a bare onnxruntime-node session without ORT_DISABLE_TELEMETRY writes it; the test does not
  // start the telemetry itself, as it may try to upload).
  it("stays off when mgie loads a model, though the environment does not ask", () => {
    const pid = pidOfRun(`const { MgieEditor } = await import("mgie"); await MgieEditor.load(${JSON.stringify(TINY)}); console.log(process.pid);`);
    expect(pid).toBeGreaterThan(0);
    expect(existsSync(`/tmp/mat-debug-${pid}.log`)).toBe(false);
  });
});
