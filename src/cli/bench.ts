import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError as CommanderArgError } from "commander";
import { type BenchmarkOptions, benchmark } from "../bench/benchmark.js";
import { DEFAULT_MODEL_DIR } from "../pipeline/editor.js";

const BENCH_PHOTO = fileURLToPath(new URL("../../assets/photos/darknet/dog.jpg", import.meta.url));

import { addParamOptions } from "./paramOptions.js";
import { wholeNumber } from "./parse.js";

export function benchCommand(): Command {
  const command = new Command("bench")
    .description("benchmark editing on this machine: time and FLOP rate per stage, batch throughput, memory, and PyTorch side by side")
    .option("--model <dir>", "model directory", DEFAULT_MODEL_DIR);
  return addParamOptions(command, "bench")
    .option("--repeats <n>", "timed runs per measurement (the median is reported)", wholeNumber("--repeats", 1, 100), 5)
    .option("--threads <n>", "ONNX Runtime threads (default: one per core)", wholeNumber("--threads", 1, 256))
    .option("--batches <list>", "batch sizes to time", (v) => v.split(",").map(wholeNumber("--batches", 1, 64)), [1, 4, 8])
    .option("--pytorch-run <dir>", "training run folder (train/runs/default): also time the PyTorch reference pipeline")
    .option("--pytorch-data <dir>", "a SynthEdit dataset folder at the model's resolution, for the PyTorch run's input image")
    .option(
      "--photo-sizes [photo]",
      "also time full-size editing of 1, 4, 12 and 24 MP photos made from this photo (default: the shipped dog photo) with peak memory, and a cold one-shot mgie edit",
    )
    .option("-o, --out <file>", "also write the Markdown report here")
    .action(async (o: Omit<BenchmarkOptions, "photoSizes" | "log"> & { photoSizes?: string | boolean; out?: string }) => {
      if (o.pytorchRun && !o.pytorchData) throw new CommanderArgError("--pytorch-run needs --pytorch-data");
      const photoSizes = o.photoSizes === true ? BENCH_PHOTO : o.photoSizes || undefined;
      const report = await benchmark({ ...o, photoSizes, log: (l) => console.error(l) });
      console.log(report);
      if (o.out) await writeFile(o.out, `${report}\n`);
    });
}
