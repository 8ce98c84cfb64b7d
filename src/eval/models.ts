import type { EditParams } from "../core/params.js";
import type { EditExample } from "../data/example.js";
import { type EditResult, MgieEditor } from "../pipeline/editor.js";

/** A model under evaluation: its editor and the name it has in the report (unique within one run). */
export interface EvalModel {
  dir: string;
  name: string;
  editor: MgieEditor;
}

/**
 * How every experiment runs the editor: batches of `batchSize`, the batch starting at example i
 * seeded with seed + i; regionThreshold applies to the models with a region head only.
 */
export type EditSettings = Pick<EditParams, "steps" | "cfgText" | "cfgImage" | "changeThreshold" | "regionThreshold"> & {
  seed: number;
  batchSize: number;
  /** Render each result at its photo's size (default: the model's result at its resolution). */
  fullSize?: boolean;
};

/** Loads the models, which must share one resolution; a repeated name gets " (2)", " (3)"… */
export async function loadModels(dirs: readonly string[]): Promise<EvalModel[]> {
  const models: EvalModel[] = [];
  const seen = new Map<string, number>();
  for (const dir of dirs) {
    const editor = await MgieEditor.load(dir);
    const base = editor.manifest.name;
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    models.push({ dir, name: count === 1 ? base : `${base} (${count})`, editor });
  }
  const res = models[0].editor.manifest.resolution;
  for (const m of models) {
    if (m.editor.manifest.resolution !== res)
      throw new RangeError(`${m.dir} works at ${m.editor.manifest.resolution} px, ${dirs[0]} at ${res}: compare models of one resolution`);
  }
  return models;
}

/** Edits the examples with their own instructions; `onBatch` gets the number done so far. */
export async function editExamples(
  editor: MgieEditor,
  examples: readonly EditExample[],
  s: EditSettings,
  onBatch?: (done: number) => void,
): Promise<EditResult[]> {
  const out: EditResult[] = [];
  for (let i = 0; i < examples.length; i += s.batchSize) {
    const chunk = examples.slice(i, i + s.batchSize);
    const items = chunk.map((ex) => ({ image: ex.input, instruction: ex.instruction }));
    const regionThreshold = editor.hasRegionHead ? s.regionThreshold : undefined;
    out.push(
      ...(await editor.editBatch(items, {
        steps: s.steps,
        seed: s.seed + i,
        cfgText: s.cfgText,
        cfgImage: s.cfgImage,
        changeThreshold: s.changeThreshold,
        regionThreshold,
        fullSize: s.fullSize ?? false,
      })),
    );
    onBatch?.(out.length);
  }
  return out;
}
