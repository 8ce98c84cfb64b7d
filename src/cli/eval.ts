import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { wholeNumber } from "./parse.js";
import { Command, Option } from "commander";
import { SPLITS, type Split } from "../data/splits.js";
import { evaluate, reportMarkdown } from "../eval/evaluate.js";
import { DEFAULT_MODEL_DIR } from "../pipeline/editor.js";
import { progressBar } from "./progress.js";

export function evalCommand(): Command {
  return new Command("eval")
    .description("evaluate models on a SynthEdit split: L1, SSIM, PSNR, edit-region and preservation error, expressive-instruction accuracy, per edit kind and on the ambiguous examples")
    .option("--model <dir>", "the model to evaluate", DEFAULT_MODEL_DIR)
    .option("--baseline <dir...>", "more models to compare in the same tables (e.g. models/inspix2pix models/lgie)")
    .addOption(new Option("--split <split>", "which split").choices(SPLITS).default("test"))
    .option("--limit <n>", "evaluate the first n examples", wholeNumber("--limit", 1, 1_000_000), 300)
    .option("--quick", "a few dozen examples, for CI (same as --limit 36)")
    .option("--steps <n>", "diffusion steps (default: the model's)", wholeNumber("--steps", 1, 1000))
    .option("--seed <n>", "seed of the diffusion noise", wholeNumber("--seed", 0, 2 ** 31), 0)
    .option("--batch-size <n>", "edits per batch", wholeNumber("--batch-size", 1, 64), 8)
    .requiredOption("--out <dir>", "folder for report.md and results.json")
    .action(async (o: { model: string; baseline?: string[]; split: Split; limit: number; quick?: boolean; steps?: number; seed: number; batchSize: number; out: string }) => {
      const limit = o.quick ? 36 : o.limit;
      let bar: ReturnType<typeof progressBar> | null = null;
      let current = "";
      const report = await evaluate({
        models: [o.model, ...(o.baseline ?? [])],
        split: o.split,
        limit,
        steps: o.steps,
        seed: o.seed,
        batchSize: o.batchSize,
        onProgress: (model, done, total) => {
          if (model !== current) {
            bar?.stop();
            bar = progressBar(model, total);
            current = model;
          }
          bar!.update(done);
        },
      }).finally(() => bar?.stop());
      await mkdir(o.out, { recursive: true });
      const md = reportMarkdown(report);
      await writeFile(join(o.out, "report.md"), md);
      await writeFile(join(o.out, "results.json"), JSON.stringify(report, null, 2) + "\n");
      console.log(md);
    });
}
