import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");
const tmp = mkdtempSync(join(tmpdir(), "mgie-modules-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The modules a fresh Node process loads for `code` (an ES module body), as reported by the resolve hook. */
function modulesLoadedBy(code: string): string[] {
  const trace = join(tmp, `trace-${Math.random().toString(36).slice(2)}.txt`);
  execFileSync(process.execPath, ["--import", join(ROOT, "test/fixtures/traceModules.mjs"), "--input-type=module", "-e", code], {
    cwd: ROOT,
    env: { ...process.env, MGIE_TRACE_MODULES: trace },
  });
  return [...new Set(readFileSync(trace, "utf8").split("\n").filter(Boolean))];
}

/** Relative imports and re-exports of each source file (type-only ones too: a cycle of types is still a cycle to read). */
function importGraph(): Map<string, string[]> {
  const files = (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith(".ts")).map((f) => join(SRC, f));
  const graph = new Map<string, string[]>();
  const pattern = /^\s*(?:import|export)\s(?:[^;]*?\sfrom\s)?\s*"(\.{1,2}\/[^"]+)"/gm;
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const targets = [...text.matchAll(pattern)].map((m) => resolve(dirname(file), m[1].replace(/\.js$/, ".ts")));
    graph.set(file, targets);
  }
  return graph;
}

describe("the module graph", () => {
  it('import { MgieEditor } from "mgie" loads no server, chart or data-generator module', () => {
    const loaded = modulesLoadedBy('const { MgieEditor } = await import("mgie"); if (typeof MgieEditor !== "function") process.exit(3);');
    const ours = loaded.filter((u) => u.startsWith("file:")).map((u) => relative(ROOT, fileURLToPath(u)));
    expect(ours).toContain(join("dist", "pipeline", "editor.js"));
    const forbidden = ours.filter(
      (p) => /^dist[/\\](data|server|eval|bench|cli)[/\\]/.test(p) || /node_modules[/\\](fastify|@fastify|vega|vega-lite)[/\\]/.test(p),
    );
    expect(forbidden).toEqual([]);
  });

  it("the subpath exports load: mgie/data, mgie/server, mgie/eval", () => {
    const loaded = modulesLoadedBy(
      'const d = await import("mgie/data"); const s = await import("mgie/server"); const e = await import("mgie/eval"); if (!d.SynthEdit || !s.createServer || !e.evaluate) process.exit(3);',
    );
    expect(loaded.some((u) => u.includes("/dist/data/synthedit.js"))).toBe(true);
  });

  it("has no import cycle in src/", () => {
    const graph = importGraph();
    const cycles: string[] = [];
    const state = new Map<string, "active" | "done">();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "active") {
        cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(" -> "));
        return;
      }
      state.set(file, "active");
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, "done");
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
