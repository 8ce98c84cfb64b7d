import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Command, Option } from "commander";
import { EDIT_PARAMETERS } from "../core/params.js";
import { LARGE_PHOTO_DIR } from "../data/photos.js";
import { SPLITS, type Split } from "../data/splits.js";
import { GENERATOR_VERSIONS, type GeneratorVersion, MAX_RES, MIN_RES } from "../data/synthedit.js";
import { evaluate } from "../eval/evaluate.js";
import { ASPECTS, type Aspect, evaluateFullSize, fullSizeMarkdown } from "../eval/fullSize.js";
import { evaluateLanguage, languageMarkdown } from "../eval/language.js";
import { writeReport } from "../eval/report.js";
import { DEFAULT_FIT, type ModelFit } from "../image/processor.js";
import { DEFAULT_MODEL_DIR } from "../pipeline/editor.js";
import { addParamOptions, paramValues } from "./paramOptions.js";
import { wholeNumber } from "./parse.js";
import { progressBar, taskBars } from "./progress.js";

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
    .addOption(
      new Option(
        "--generator <version>",
        "examples of this generator version: synthedit-1 (the fixed test split) or synthedit-2 (people's wording, held out by split)",
      )
        .choices(GENERATOR_VERSIONS)
        .default("synthedit-1"),
    )
    .option("--limit <n>", "evaluate the first n examples", wholeNumber("--limit", 1, 1_000_000), 300)
    .option("--quick", `a few dozen examples, for CI (--limit ${QUICK_LIMIT}, --tradeoff-limit ${QUICK_TRADEOFF_LIMIT})`)
    .option("--batch-size <n>", "edits per batch", wholeNumber("--batch-size", 1, 64), 8);
  // The edit parameters apply to every model; regionThreshold only to those with a region head.
  return addParamOptions(command, "eval")
    .option(
      "--language",
      "instead: expressive-instruction exact match, refusals and L1 on the four language sets (synthedit-1 test, held-out wording, hand-written, out-of-scope): language.md and language.json",
    )
    .option("--tradeoff", "also sweep α_V from 1.0 to 2.2 at α_X 7.5: tradeoff.svg, tradeoff.png and a table")
    .option("--tradeoff-limit <n>", "examples of the α_V sweep (at most --limit)", wholeNumber("--tradeoff-limit", 1, 1_000_000), 60)
    .option(
      "--res <px>",
      "full-size evaluation of --model: examples generated at this side (e.g. 512, 1024, from --photos), the model's edit carried to full size by the renderer, by bicubic upsampling, and the input, each against the target (fullsize-<res>.md and .json)",
      wholeNumber("--res", MIN_RES, MAX_RES),
    )
    .option("--photos <dir>", "with --res: the photos to generate from (default: the large test photos, made by npm run import-photos -- --set large)")
    .addOption(new Option("--aspect <w:h>", "with --res: centre-crop the examples to this aspect").choices(Object.keys(ASPECTS)).default("1:1"))
    .addOption(new Option("--fit <how>", "with --res: how the model sees a photo that is not square").choices(["squash", "pad"]).default(DEFAULT_FIT))
    .requiredOption("--out <dir>", "folder for report.md, results.json, gallery.png and the trade-off chart")
    .action(
      async (
        o: {
          model: string;
          baseline?: string[];
          split: Split;
          generator: GeneratorVersion;
          limit: number;
          quick?: boolean;
          batchSize: number;
          tradeoff?: boolean;
          tradeoffLimit: number;
          out: string;
          res?: number;
          photos?: string;
          aspect: Aspect;
          fit: ModelFit;
          language?: boolean;
        } & Record<string, unknown>,
      ) => {
        const params = paramValues(o, "eval");
        const limit = o.quick ? QUICK_LIMIT : o.limit;
        if (o.language) {
          const bars = taskBars();
          const report = await evaluateLanguage({
            models: [o.model, ...(o.baseline ?? [])],
            limit,
            settings: { ...params, seed: params.seed ?? EDIT_PARAMETERS.seed.default, batchSize: o.batchSize },
            onProgress: bars.update,
          }).finally(bars.stop);
          await mkdir(o.out, { recursive: true });
          await writeFile(join(o.out, "language.json"), `${JSON.stringify(report, null, 2)}\n`);
          await writeFile(join(o.out, "language.md"), `${languageMarkdown(report)}\n`);
          console.log(languageMarkdown(report));
          return;
        }
        if (o.res !== undefined) {
          const bar = progressBar(`full size ${o.res}`, limit);
          const report = await evaluateFullSize({
            model: o.model,
            split: o.split,
            limit,
            res: o.res,
            photoDir: o.photos ?? LARGE_PHOTO_DIR,
            aspect: o.aspect,
            fit: o.fit,
            params,
            seed: params.seed ?? EDIT_PARAMETERS.seed.default,
            onProgress: (done) => bar.update(done),
          }).finally(() => bar.stop());
          const name = `fullsize-${o.res}${o.aspect === "1:1" ? "" : `-${o.aspect.replace(":", "x")}`}${o.fit === DEFAULT_FIT ? "" : `-${o.fit}`}`;
          await mkdir(o.out, { recursive: true });
          await writeFile(join(o.out, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
          await writeFile(join(o.out, `${name}.md`), `${fullSizeMarkdown(report)}\n`);
          console.log(fullSizeMarkdown(report));
          return;
        }
        const tradeoffLimit = Math.min(o.quick ? QUICK_TRADEOFF_LIMIT : o.tradeoffLimit, limit);
        const bars = taskBars();
        const run = await evaluate({
          models: [o.model, ...(o.baseline ?? [])],
          split: o.split,
          generator: o.generator,
          limit,
          steps: params.steps,
          seed: params.seed ?? EDIT_PARAMETERS.seed.default,
          batchSize: o.batchSize,
          changeThreshold: params.changeThreshold,
          regionThreshold: params.regionThreshold,
          tradeoff: o.tradeoff ? { limit: tradeoffLimit } : undefined,
          efficiency: true,
          gallery: true,
          onProgress: bars.update,
        }).finally(bars.stop);
        console.log(await writeReport(run, o.out));
      },
    );
}
