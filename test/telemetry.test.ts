import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TINY = join(ROOT, "test/fixtures/tiny-model");

/**
 * Runs `code` as an ES module in a fresh Node process without ORT_DISABLE_TELEMETRY in its environment.
 * The process gives its pid and waits; `beforeRun(pid)` runs, then `code`. Resolves with the pid.
 */
async function runWithPid(code: string, beforeRun: (pid: number) => void): Promise<number> {
  const { ORT_DISABLE_TELEMETRY: _, ...env } = process.env;
  const script = `console.log(process.pid); await new Promise((r) => process.stdin.once("data", r)); ${code}; process.exit(0);`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, env, stdio: ["pipe", "pipe", "inherit"] });
  const [first] = (await once(child.stdout, "data")) as [Buffer];
  const pid = Number(first.toString().trim());
  beforeRun(pid);
  child.stdin.write("go\n");
  const [status] = (await once(child, "exit")) as [number];
  expect(status).toBe(0);
  return pid;
}

describe("ONNX Runtime's telemetry", () => {
  // Its 1DS telemetry leaves /tmp/mat-debug-<pid>.log behind in every process where it started (checked
  // by hand: a bare onnxruntime-node session without ORT_DISABLE_TELEMETRY writes it; the test does not
  // start the telemetry itself, as it may try to upload). Pids are reused: a file left by an earlier
  // process with the same pid is removed before the model loads.
  it("stays off when mgie loads a model, though the environment does not ask", async () => {
    const log = (pid: number) => `/tmp/mat-debug-${pid}.log`;
    const pid = await runWithPid(`const { MgieEditor } = await import("mgie"); await MgieEditor.load(${JSON.stringify(TINY)})`, (p) =>
      rmSync(log(p), { force: true }),
    );
    expect(pid).toBeGreaterThan(0);
    expect(existsSync(log(pid))).toBe(false);
  });
});
