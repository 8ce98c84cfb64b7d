import { writeFile } from "node:fs/promises";
import { Command, InvalidArgumentError as CommanderArgError, Option } from "commander";
import { DEFAULT_SHARD_SIZE, SynthEditDataset, writeDataset } from "../data/dataset.js";
import { DEFAULT_PHOTO_DIR } from "../data/photos.js";
import { SynthEditPool } from "../data/pool.js";
import { contactSheet, pickBalanced, type SheetItem } from "../data/preview.js";
import { SPLITS, type Split, TEST_SPLIT_SIZE } from "../data/splits.js";
import { DEFAULT_RES, GENERATOR_VERSION, GENERATOR_VERSIONS, type GeneratorVersion, SynthEdit } from "../data/synthedit.js";
import { MgieEditor } from "../pipeline/editor.js";
import { addParamOptions } from "./paramOptions.js";
import { wholeNumber } from "./parse.js";
import { progressBar } from "./progress.js";

const generatorOption = () =>
  new Option("--generator <version>", "generator version: synthedit-2 (people's wording, held out by split) or synthedit-1 (the fixed test split's)")
    .choices(GENERATOR_VERSIONS)
    .default(GENERATOR_VERSION);

const splitOption = () =>
  new Option("--split <split>", "which split: train, validation or test (disjoint seeds and photo packages)").choices(SPLITS).default("train");

export function dataCommand(): Command {
  const data = new Command("data").description(`SynthEdit, the editing data every model here learns from and is judged on (${GENERATOR_VERSION})`);

  data
    .command("generate")
    .description("generate examples of a split into a dataset folder (NumPy shards + index.jsonl, see docs/DATA.md)")
    .addOption(splitOption())
    .addOption(generatorOption())
    .option("--count <n>", `number of examples (default: ${TEST_SPLIT_SIZE} for the fixed test split, else required)`, wholeNumber("--count"))
    .option("--start <i>", "index of the first example in the split", wholeNumber("--start"), 0)
    .option("--res <px>", "image side in pixels (32-1024)", wholeNumber("--res"), DEFAULT_RES)
    .option("--shard-size <n>", "examples per shard file", wholeNumber("--shard-size"), DEFAULT_SHARD_SIZE)
    .option("--photos <dir>", "folder of imported photos", DEFAULT_PHOTO_DIR)
    .option("--workers <n>", "generator threads (default: one per core)", wholeNumber("--workers"))
    .requiredOption("--out <dir>", "output folder (created if missing; existing shards are overwritten)")
    .action(
      async (o: {
        split: Split;
        generator: GeneratorVersion;
        count?: number;
        start: number;
        res: number;
        shardSize: number;
        photos: string;
        workers?: number;
        out: string;
      }) => {
        const count = o.count ?? (o.split === "test" ? TEST_SPLIT_SIZE : undefined);
        if (count === undefined) throw new CommanderArgError("--count is required for the train and validation splits");
        if (o.workers !== undefined && (o.workers < 1 || o.workers > 64)) throw new CommanderArgError("--workers must be from 1 to 64");
        const source = await SynthEditPool.create({ res: o.res, photoDir: o.photos, workers: o.workers, generator: o.generator });
        const bar = progressBar(`${o.split}`, count);
        const started = Date.now();
        const meta = await writeDataset(source, o.out, { split: o.split, count, start: o.start, shardSize: o.shardSize, onProgress: bar.update }).finally(() =>
          source.close(),
        );
        bar.stop();
        const secs = (Date.now() - started) / 1000;
        console.log(
          `wrote ${meta.count} ${meta.split} examples at ${meta.res}x${meta.res} to ${o.out} in ${secs.toFixed(1)} s (${(meta.count / secs).toFixed(1)} examples/s)`,
        );
      },
    );

  const preview = data
    .command("preview")
    .description("write a contact sheet PNG (input | target, with both instructions) so a person can look at the data")
    .addOption(splitOption())
    .option("--count <n>", "examples on the sheet", wholeNumber("--count"), 16)
    .option("--start <i>", "first index to consider", wholeNumber("--start"), 0)
    .option("--res <px>", "image side in pixels when generating (with --model: the model's)", wholeNumber("--res"), DEFAULT_RES)
    .option("--photos <dir>", "folder of imported photos", DEFAULT_PHOTO_DIR)
    .option("--dataset <dir>", "show examples of a generated dataset folder instead of generating")
    .option("--columns <n>", "examples per row", wholeNumber("--columns"), 2)
    .option("--in-order", "take consecutive examples instead of a mix balanced over kinds and ambiguity")
    .option("--model <dir>", "also edit each input with this model: panels become input | output | target");
  addParamOptions(preview, "preview")
    .option("-o, --out <file>", "output PNG", "synthedit-preview.png")
    .action(
      async (o: {
        split: Split;
        count: number;
        start: number;
        res: number;
        photos: string;
        dataset?: string;
        columns: number;
        inOrder?: boolean;
        model?: string;
        steps?: number;
        out: string;
      }) => {
        if (o.count < 1 || o.count > 200) throw new CommanderArgError("--count must be from 1 to 200");
        // With a model, examples are generated at the model's resolution.
        const editor = o.model ? await MgieEditor.load(o.model) : null;
        const res = editor?.manifest.resolution ?? o.res;
        let items: SheetItem[];
        if (o.dataset) {
          const ds = await SynthEditDataset.open(o.dataset);
          items = [];
          for (let i = o.start; i < Math.min(ds.length, o.start + o.count); i++) {
            const ex = await ds.get(i);
            items.push({ ...ex.entry, images: [ex.input, ex.target] });
          }
          if (items.length === 0) throw new CommanderArgError(`--start ${o.start} is past the end of the dataset (${ds.length} examples)`);
        } else {
          const gen = await SynthEdit.create({ res, photoDir: o.photos });
          const examples = o.inOrder
            ? await Promise.all(Array.from({ length: o.count }, (_, i) => gen.example(o.split, o.start + i)))
            : await pickBalanced(gen, o.split, o.start, o.count);
          items = examples.map((ex) => ({ ...ex, images: [ex.input, ex.target] }));
        }
        if (editor) {
          const bar = progressBar("editing", items.length);
          try {
            for (const [i, it] of items.entries()) {
              const r = await editor.edit(it.images[0], it.instruction, { steps: o.steps, seed: i, fullSize: false });
              it.images = [it.images[0], r.image, it.images[1]];
              it.note = `${editor.manifest.name}: ${r.expressiveInstruction}`;
              bar.update(i + 1);
            }
          } finally {
            bar.stop();
          }
        }
        await writeFile(o.out, await contactSheet(items, { columns: o.columns }));
        console.log(`wrote a contact sheet of ${items.length} examples to ${o.out}`);
      },
    );

  return data;
}
