import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

/**
 * The slow tier: tests that train and export a tiny model in Python, drive Chromium, or run whole
 * evaluations and CLI processes. `npm run test:unit` (MGIE_TEST_TIER=unit) leaves them out.
 */
const SLOW_TESTS = [
  "test/smoke.test.ts",
  "test/web.test.ts",
  "test/eval.test.ts",
  "test/cli.test.ts",
  "test/synthedit.test.ts",
  "test/durable.test.ts",
  "test/cliSafety.test.ts",
  "test/redisStore.test.ts",
];

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: process.env.MGIE_TEST_TIER === "unit" ? SLOW_TESTS : [],
    // The tests export many throwaway models: their ONNX Runtime caches go to a temporary folder, not ~/.cache/mgie.
    // Tests that create ONNX Runtime sessions directly keep its telemetry off too (see src/models/onnx.ts).
    // `mgie serve` started by a test keeps its jobs in a folder of this run, not in ~/.local/state/mgie.
    env: {
      MGIE_CACHE_DIR: join(tmpdir(), "mgie-test-onnx-cache"),
      ORT_DISABLE_TELEMETRY: "1",
      MGIE_DATA_DIR: join(tmpdir(), `mgie-test-serve-${process.pid}`),
    },
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
