import type { EditExample, EditKind } from "../data/example.js";
import { contactSheet, pickBalanced } from "../data/preview.js";
import type { Split } from "../data/splits.js";
import type { EditResult } from "../pipeline/editor.js";
import { type EditSettings, type EvalModel, editExamples } from "./models.js";

export const GALLERY_SIZE = 12;
/** Pixels per image panel, whatever the models' resolution, so that captions fit under it. */
export const GALLERY_PANEL = 192;

/** One gallery row as results.json keeps it. */
export interface GalleryRow {
  id: string;
  kind: EditKind;
  ambiguity: string | null;
  instruction: string;
  expressive: string;
  /** The expressive instruction each model derived, by model name (InsPix2Pix: the instruction itself). */
  derived: Record<string, string>;
}

/**
 * The paper's qualitative figure: 12 fixed examples of the split, balanced over kinds and ambiguity
 * (the first found from index 0), each row input | every model's output | target.
 */
export async function renderGallery(
  models: readonly EvalModel[],
  gen: { example(split: Split, index: number): Promise<EditExample> },
  split: Split,
  s: Omit<EditSettings, "cfgText" | "cfgImage">,
  onProgress?: (task: string, done: number, total: number) => void,
): Promise<{ rows: GalleryRow[]; png: Buffer }> {
  const examples = await pickBalanced(gen, split, 0, GALLERY_SIZE);
  const outputs: EditResult[][] = [];
  for (const [k, m] of models.entries()) {
    outputs.push(await editExamples(m.editor, examples, s, (done) => onProgress?.("gallery", k * examples.length + done, models.length * examples.length)));
  }
  const rows = examples.map((ex, i) => ({
    id: ex.id,
    kind: ex.kind,
    ambiguity: ex.ambiguity,
    instruction: ex.instruction,
    expressive: ex.expressive,
    derived: Object.fromEntries(models.map((m, k) => [m.name, outputs[k][i].expressiveInstruction])),
  }));
  const items = examples.map((ex, i) => ({
    ...ex,
    images: [ex.input, ...outputs.map((o) => o[i].image), ex.target],
    captions: [
      { title: "input", text: `“${ex.instruction}”` },
      ...models.map((m, k) => ({
        title: m.name,
        text: m.editor.manifest.variant === "inspix2pix" ? "(edits from the instruction as typed)" : `→ ${outputs[k][i].expressiveInstruction}`,
      })),
      { title: "target", text: `→ ${ex.expressive}` },
    ],
  }));
  const png = await contactSheet(items, { columns: 1, scale: GALLERY_PANEL / examples[0].input.width });
  return { rows, png };
}
