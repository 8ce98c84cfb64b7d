import { Command, Option } from "commander";
import { EDIT_PARAMETERS } from "../core/params.js";
import { SPLITS, type Split } from "../data/splits.js";
import { evaluate } from "../eval/evaluate.js";
import { writeReport } from "../eval/report.js";
import { DEFAULT_MODEL_DIR } from "../pipeline/editor.js";
import { addParamOptions, paramValues } from "./paramOptions.js";
import { wholeNumber } from "./parse.js";
import { progressBar } from "./progress.js";

const QUICK_LIMIT = 36;
const QUICK_TRADEOFF_LIMIT = 12;

export function evalCommand(): Command {
  const command = new Command("eval")
    .description(
      "evaluate models on a SynthEdit split: L1, SSIM, PSNR, edit-region and preservation error, expressive-instruction accuracy, per edit kind and on the ambiguous examples; the ablation, the time per stage, a gallery and, with --tradeoff, the α_V trade-off curve",
    )
    .option("--model <dir>", "the model to evaluate", DEFAULT_MODEL_DIR)
    .option("--baseline <dir...>", "more models to compare in the same tables (e.g. models/inspix2pix models/lgie)")
    .addOption(new Option("--split <split>", "which split").choices(SPLITS).default("test"))
    .option("--limit <n>", "evaluate the first n examples", wholeNumber("--limit", 1, 1_000_000), 300)
    .option("--quick", `a few dozen examples, for CI (--limit ${QUICK_LIMIT}, --tradeoff-limit ${QUICK_TRADEOFF_LIMIT})`)
    .option("--batch-size <n>", "edits per batch", wholeNumber("--batch-size", 1, 64), 8);
  // The edit parameters apply to every model; regionThreshold only to those with a region head.
  return addParamOptions(command, "eval")
    .option("--tradeoff", "also sweep α_V from 1.0 to 2.2 at α_X 7.5: tradeoff.svg, tradeoff.png and a table")
    .option("--tradeoff-limit <n>", "examples of the α_V sweep (at most --limit)", wholeNumber("--tradeoff-limit", 1, 1_000_000), 60)
    .requiredOption("--out <dir>", "folder for report.md, results.json, gallery.png and the trade-off chart")
    .action(
      async (
        o: {
          model: string;
          baseline?: string[];
          split: Split;
          limit: number;
          quick?: boolean;
          batchSize: number;
          tradeoff?: boolean;
          tradeoffLimit: number;
          out: string;
        } & Record<string, unknown>,
      ) => {
        const params = paramValues(o, "eval");
        const limit = o.quick ? QUICK_LIMIT : o.limit;
        const tradeoffLimit = Math.min(o.quick ? QUICK_TRADEOFF_LIMIT : o.tradeoffLimit, limit);
        let bar: ReturnType<typeof progressBar> | null = null;
        let current = "";
        const run = await evaluate({
          models: [o.model, ...(o.baseline ?? [])],
          split: o.split,
          limit,
          steps: params.steps,
          seed: params.seed ?? EDIT_PARAMETERS.seed.default,
          batchSize: o.batchSize,
          changeThreshold: params.changeThreshold,
          regionThreshold: params.regionThreshold,
          tradeoff: o.tradeoff ? { limit: tradeoffLimit } : undefined,
          efficiency: true,
          gallery: true,
          onProgress: (task, done, total) => {
            if (task !== current) {
              bar?.stop();
              bar = progressBar(task, total);
              current = task;
            }
            bar!.update(done);
          },
        }).finally(() => bar?.stop());
        console.log(await writeReport(run, o.out));
      },
    );
}
