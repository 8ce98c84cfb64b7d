import { cpus } from "node:os";
import type { EditExample } from "../data/example.js";
import type { EditProgress } from "../pipeline/editor.js";
import type { EvalModel } from "./models.js";

/** The paper's Table 4: seconds per edit in each stage, at batch 1 and at batch 8. */
export const TIMED_STAGES = ["preprocess", "mllm", "edit-head", "vae-encode", "diffusion", "vae-decode", "total"] as const satisfies readonly (
  | EditProgress["stage"]
  | "total"
)[];
export type TimedStage = (typeof TIMED_STAGES)[number];

const SINGLE_EDITS = 4;
const BATCH = 8;

export interface EfficiencyRow {
  model: string;
  batch: number;
  /** Edits timed. */
  edits: number;
  /** Seconds per edit in each stage; null for a stage the model does not have. */
  seconds: Record<TimedStage, number | null>;
}

export interface Efficiency {
  machine: string;
  rows: EfficiencyRow[];
}

export function machineName(): string {
  const cpu = cpus();
  return `${cpu[0]?.model.trim() ?? "unknown CPU"}, ${cpu.length} cores`;
}

/**
 * Times 4 single edits and one batch of 8 per model (the examples repeated if fewer). The models
 * should have edited before, so that no session's first run is timed.
 */
export async function measureEfficiency(
  models: readonly EvalModel[],
  examples: readonly EditExample[],
  s: { steps?: number; seed: number },
  onProgress?: (task: string, done: number, total: number) => void,
): Promise<Efficiency> {
  const items = Array.from({ length: BATCH }, (_, i) => examples[i % examples.length]).map((ex) => ({ image: ex.input, instruction: ex.instruction }));
  const rows: EfficiencyRow[] = [];
  for (const m of models) {
    const single: Record<string, number>[] = [];
    for (let i = 0; i < SINGLE_EDITS; i++) {
      single.push((await m.editor.editBatch(items.slice(i, i + 1), { steps: s.steps, seed: s.seed + i, fullSize: false }))[0].timings);
      onProgress?.(`${m.name} timing`, i + 1, SINGLE_EDITS + 1);
    }
    const batched = (await m.editor.editBatch(items, { steps: s.steps, seed: s.seed, fullSize: false }))[0].timings;
    onProgress?.(`${m.name} timing`, SINGLE_EDITS + 1, SINGLE_EDITS + 1);
    rows.push(row(m.name, 1, single), row(m.name, BATCH, [batched]));
  }
  return { machine: machineName(), rows };
}

/** `timings` are milliseconds per stage for a whole batch of `batch` edits. */
function row(model: string, batch: number, timings: Record<string, number>[]): EfficiencyRow {
  const seconds = {} as Record<TimedStage, number | null>;
  for (const stage of TIMED_STAGES) {
    const v = timings.map((t) => t[stage]);
    seconds[stage] = v.some((x) => x === undefined) ? null : v.reduce((a, b) => a + b, 0) / v.length / batch / 1000;
  }
  return { model, batch, edits: timings.length * batch, seconds };
}
