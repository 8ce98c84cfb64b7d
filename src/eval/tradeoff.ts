import type { EditExample } from "../data/example.js";
import { lineChartSvg } from "./chart.js";
import { finiteMean, maskedL1, ssim } from "./metrics.js";
import { type EditSettings, type EvalModel, editExamples } from "./models.js";

/** The paper's Figure 3: α_X fixed, α_V swept. */
export const TRADEOFF_CFG_TEXT = 7.5;
export const TRADEOFF_CFG_IMAGES = [1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2] as const;

export interface TradeoffPoint {
  model: string;
  cfgText: number;
  cfgImage: number;
  n: number;
  /** L1 to the target inside the edit mask: does the output make the edit asked for? */
  editRegionL1: number;
  /** SSIM of the output to the input image: how much of the input it keeps. */
  ssimToInput: number;
}

/** Edits the same examples with the same seeds at every α_V and measures each point. */
export async function sweepTradeoff(
  models: readonly EvalModel[],
  examples: readonly EditExample[],
  s: Omit<EditSettings, "cfgText" | "cfgImage">,
  onProgress?: (task: string, done: number, total: number) => void,
): Promise<TradeoffPoint[]> {
  const points: TradeoffPoint[] = [];
  const total = TRADEOFF_CFG_IMAGES.length * examples.length;
  for (const m of models) {
    for (const [k, cfgImage] of TRADEOFF_CFG_IMAGES.entries()) {
      const results = await editExamples(m.editor, examples, { ...s, cfgText: TRADEOFF_CFG_TEXT, cfgImage }, (done) =>
        onProgress?.(`${m.name} α_V sweep`, k * examples.length + done, total),
      );
      points.push({
        model: m.name,
        cfgText: TRADEOFF_CFG_TEXT,
        cfgImage,
        n: examples.length,
        editRegionL1: finiteMean(results.map((r, i) => maskedL1(r.image, examples[i].target, examples[i].mask).inside)),
        ssimToInput: finiteMean(results.map((r, i) => ssim(r.image, examples[i].input))),
      });
    }
  }
  return points;
}

/** The trade-off curves: one line per model, each point labelled with its α_V. */
export function tradeoffSvg(points: readonly TradeoffPoint[]): Promise<string> {
  const names = [...new Set(points.map((p) => p.model))];
  return lineChartSvg({
    title: `Edit vs preservation, α_X = ${TRADEOFF_CFG_TEXT}, points labelled with α_V`,
    xTitle: "edit-region L1 to the target (lower: follows the instruction)",
    yTitle: "SSIM to the input (higher: preserves it)",
    legendTitle: "model",
    series: names.map((name) => ({
      name,
      points: points.filter((p) => p.model === name).map((p) => ({ x: p.editRegionL1, y: p.ssimToInput, label: p.cfgImage.toFixed(1) })),
    })),
  });
}
