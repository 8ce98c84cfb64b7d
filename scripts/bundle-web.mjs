// Bundles the page's on-device editor (src/web/worker.ts and everything it imports) for browsers:
// dist/web/bundle/worker.js, an ES module worker, and a chunk per onnxruntime-web build (WebAssembly,
// WebGPU), loaded only when used. onnxruntime-web's own .mjs/.wasm files stay separate files
// ("extern wasm"): its threads are workers started from them. Run by `npm run build`.
import { rmSync } from "node:fs";
import { build } from "esbuild";

rmSync("dist/web/bundle", { recursive: true, force: true });
await build({
  entryPoints: { worker: "src/web/worker.ts" },
  outdir: "dist/web/bundle",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  conditions: ["onnxruntime-web-use-extern-wasm"],
  chunkNames: "chunks/[name]-[hash]",
  minify: true,
  sourcemap: false,
  legalComments: "linked",
  logLevel: "warning",
});
