import type { EditExample } from "../data/example.js";
import { expressiveCatalogue } from "../data/language/expressive.js";
import { SynthEdit } from "../data/synthedit.js";
import { unsupportedReason } from "../pipeline/unsupported.js";
import { handwrittenExamples, handwrittenUnsupported } from "./handwritten.js";
import { l1 } from "./metrics.js";
import { type EditSettings, editExamples, loadModels } from "./models.js";

/**
 * How well a model understands instructions as people type them (issue "Understand instructions as
 * people type them"): the expressive instruction it derives, its edit, and whether it refuses, on four
 * sets: the fixed synthedit-1 test split (continuity), synthedit-2's test split (wording held out from
 * training), the hand-written set, and requests mgie cannot do (generated and hand-written).
 */
export const LANGUAGE_SETS = ["synthedit-1 test", "held-out wording", "hand-written", "out-of-scope"] as const;
export type LanguageSet = (typeof LANGUAGE_SETS)[number];

export interface LanguageScores {
  n: number;
  /** Share whose expressive instruction is exactly the wanted one (null for a model without an LM). */
  exact: number | null;
  /** Share the model refused as a request it cannot do. */
  refused: number | null;
  /** Share whose expressive instruction is neither one the generator gives nor a refusal. */
  garbled: number | null;
  /** Mean L1 of the result to the target, and of the unedited input (in-scope sets). */
  l1: number;
  l1Input: number;
}

export interface LanguageModelResult {
  name: string;
  variant: string;
  sets: Record<LanguageSet, LanguageScores>;
  /** Exact match per operation (and ambiguity family) on the hand-written set. */
  handwrittenByOp: Record<string, { n: number; exact: number | null }>;
}

export interface LanguageReport {
  limit: number;
  settings: EditSettings;
  sizes: Record<LanguageSet, number>;
  models: LanguageModelResult[];
}

export interface LanguageEvalOptions {
  models: string[];
  /** Examples of each generated test split (synthedit-1 and synthedit-2) to take. */
  limit: number;
  settings: EditSettings;
  onProgress?: (task: string, done: number, total: number) => void;
}

const norm = (s: string) => s.trim().toLowerCase().replace(/\s+/g, " ");

/** The four sets' examples at resolution `res`. */
export async function languageSets(res: number, limit: number): Promise<Record<LanguageSet, EditExample[]>> {
  const v1 = await SynthEdit.create({ res, generator: "synthedit-1" });
  const v2 = await SynthEdit.create({ res, generator: "synthedit-2" });
  const continuity: EditExample[] = [];
  const heldOut: EditExample[] = [];
  const outOfScope: EditExample[] = [];
  for (let i = 0; i < limit; i++) {
    continuity.push(await v1.example("test", i));
    const ex = await v2.example("test", i);
    (ex.op === "unsupported" ? outOfScope : heldOut).push(ex);
  }
  return {
    "synthedit-1 test": continuity,
    "held-out wording": heldOut,
    "hand-written": await handwrittenExamples(v2),
    "out-of-scope": [...outOfScope, ...(await handwrittenUnsupported(v2))],
  };
}

function scores(examples: readonly EditExample[], outputs: { image: EditExample["input"]; text: string | null }[], known: Set<string>): LanguageScores {
  const n = examples.length;
  const share = (f: (i: number) => boolean) => (n === 0 ? 0 : examples.filter((_, i) => f(i)).length / n);
  const withText = outputs.every((o) => o.text !== null);
  return {
    n,
    exact: withText ? share((i) => norm(outputs[i].text!) === norm(examples[i].expressive)) : null,
    refused: withText ? share((i) => unsupportedReason(outputs[i].text!) !== null) : null,
    garbled: withText ? share((i) => unsupportedReason(outputs[i].text!) === null && !known.has(norm(outputs[i].text!))) : null,
    l1: n === 0 ? 0 : examples.reduce((s, ex, i) => s + l1(outputs[i].image, ex.target), 0) / n,
    l1Input: n === 0 ? 0 : examples.reduce((s, ex) => s + l1(ex.input, ex.target), 0) / n,
  };
}

export async function evaluateLanguage(o: LanguageEvalOptions): Promise<LanguageReport> {
  const models = await loadModels(o.models);
  const sets = await languageSets(models[0].editor.manifest.resolution, o.limit);
  const known = new Set(expressiveCatalogue().map(norm));
  const results: LanguageModelResult[] = [];
  for (const { name, editor } of models) {
    const withText = editor.manifest.variant !== "inspix2pix";
    const perSet = {} as Record<LanguageSet, LanguageScores>;
    let handwrittenByOp: LanguageModelResult["handwrittenByOp"] = {};
    for (const set of LANGUAGE_SETS) {
      const examples = sets[set];
      const edits = await editExamples(editor, examples, o.settings, (done) => o.onProgress?.(`${name}: ${set}`, done, examples.length));
      const outputs = edits.map((r) => ({ image: r.image, text: withText ? r.expressiveInstruction : null }));
      perSet[set] = scores(examples, outputs, known);
      if (set === "hand-written") {
        const groups = new Map<string, number[]>();
        examples.forEach((ex, i) => {
          for (const key of [ex.op, ...(ex.ambiguity ? [`family ${ex.ambiguity}`] : [])]) groups.set(key, [...(groups.get(key) ?? []), i]);
        });
        handwrittenByOp = Object.fromEntries(
          [...groups].map(([key, idx]) => [
            key,
            { n: idx.length, exact: withText ? idx.filter((i) => norm(outputs[i].text!) === norm(examples[i].expressive)).length / idx.length : null },
          ]),
        );
      }
    }
    results.push({ name, variant: editor.manifest.variant, sets: perSet, handwrittenByOp });
  }
  const sizes = Object.fromEntries(LANGUAGE_SETS.map((s) => [s, sets[s].length])) as Record<LanguageSet, number>;
  return { limit: o.limit, settings: o.settings, sizes, models: results };
}

const pct = (v: number | null) => (v === null ? "–" : `${(100 * v).toFixed(1)} %`);

export function languageMarkdown(r: LanguageReport): string {
  const lines = [
    "# Understanding instructions: four test sets",
    "",
    `Written by \`mgie eval --language\` (first ${r.limit} examples of each generated test split; steps ${r.settings.steps ?? "model default"}, seed ${r.settings.seed}).`,
    "Exact: the expressive instruction is the wanted one. Refused: the model answered that it cannot do the request",
    "(on the in-scope sets, a false refusal). Garbled: an expressive instruction that names no edit the model knows.",
    "",
    "| set | n | model | exact | refused | garbled | L1 | L1 input |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const set of LANGUAGE_SETS) {
    for (const m of r.models) {
      const s = m.sets[set];
      const l1Cells = set === "out-of-scope" ? "– | –" : `${s.l1.toFixed(4)} | ${s.l1Input.toFixed(4)}`;
      lines.push(`| ${set} | ${s.n} | ${m.name} | ${pct(s.exact)} | ${pct(s.refused)} | ${pct(s.garbled)} | ${l1Cells} |`);
    }
  }
  const lm = r.models.filter((m) => m.sets["hand-written"].exact !== null);
  if (lm.length > 0) {
    lines.push("", "## Hand-written set, per operation and ambiguity family (exact)", "", `| operation | n | ${lm.map((m) => m.name).join(" | ")} |`);
    lines.push(`|---|---|${lm.map(() => "---").join("|")}|`);
    for (const key of Object.keys(lm[0].handwrittenByOp).sort()) {
      lines.push(`| ${key} | ${lm[0].handwrittenByOp[key].n} | ${lm.map((m) => pct(m.handwrittenByOp[key]?.exact ?? null)).join(" | ")} |`);
    }
  }
  return lines.join("\n");
}
