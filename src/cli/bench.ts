import { writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError as CommanderArgError } from "commander";
import { type BenchmarkOptions, benchmark } from "../bench/benchmark.js";
import { DEFAULT_MODEL_DIR } from "../pipeline/editor.js";

const BENCH_PHOTO = fileURLToPath(new URL("../../assets/photos/darknet/dog.jpg", import.meta.url));

import { addParamOptions } from "./paramOptions.js";
import { wholeNumber } from "./parse.js";

type BenchCliOptions = Omit<BenchmarkOptions, "photoSizes" | "log"> & {
  photoSizes?: string | boolean;
  out?: string;
  load?: boolean;
  count: number;
  workers: number[];
  killWorker?: boolean;
  restart?: boolean;
  uploads: number;
  timeoutS: number;
  steps?: number;
  batchFolder?: number;
  folderBatch: number;
};

export function benchCommand(): Command {
  const command = new Command("bench")
    .description("benchmark editing on this machine: time and FLOP rate per stage, batch throughput, memory, and PyTorch side by side")
    .option("--model <dir>", "model directory", DEFAULT_MODEL_DIR);
  return addParamOptions(command, "bench")
    .option("--repeats <n>", "timed runs per measurement (the median is reported)", wholeNumber("--repeats", 1, 100), 5)
    .option("--threads <n>", "ONNX Runtime threads (default: one per core)", wholeNumber("--threads", 1, availableParallelism()))
    .option("--batches <list>", "batch sizes to time", (v) => v.split(",").map(wholeNumber("--batches", 1, 64)), [1, 4, 8])
    .option("--pytorch-run <dir>", "training run folder (train/runs/default): also time the PyTorch reference pipeline")
    .option("--pytorch-data <dir>", "a SynthEdit dataset folder at the model's resolution, for the PyTorch run's input image")
    .option(
      "--photo-sizes [photo]",
      "also time full-size editing of 1, 4, 12 and 24 MP photos made from this photo (default: the shipped dog photo) with peak memory, and a cold one-shot mgie edit",
    )
    .option("-o, --out <file>", "also write the Markdown report here")
    .option(
      "--load",
      "instead: the service under load on loopback (redis-server, mgie serve --redis, mgie worker): accepted/refused/lost, latency, throughput, API memory",
    )
    .option("--count <n>", "--load: edits in each burst", wholeNumber("--count", 1, 10_000), 100)
    .option(
      "--workers <list>",
      "--load: worker counts to measure (0: none, e.g. with --kill-worker only)",
      (v) => v.split(",").map(wholeNumber("--workers", 0, 64)),
      [1, 2],
    )
    .option("--kill-worker", "--load: also a run on two workers with one killed (SIGKILL) a third of the way through")
    .option("--restart", "--load: also kill the single-machine server (SIGKILL) with edits queued and running, restart it, and count what is lost")
    .option("--uploads <n>", "--load: concurrent maximum-pixel uploads for the API's peak memory (0: skip)", wholeNumber("--uploads", 0, 1000), 50)
    .option("--timeout-s <s>", "--load: longest a burst may take; what is unfinished then counts as lost", wholeNumber("--timeout-s", 1, 3600), 900)
    .option(
      "--batch-folder <n>",
      "instead: a folder run of n photos of 320x240 (decode, edit at full size, encode, write) against the in-process batch on the same photos: edits/s and peak memory",
      wholeNumber("--batch-folder", 1, 100_000),
    )
    .option("--folder-batch <n>", "--batch-folder: edits per batch in both runs (mgie edit's default)", wholeNumber("--folder-batch", 1, 64), 4)
    .action(async (o: BenchCliOptions) => {
      if (o.batchFolder !== undefined) {
        const { batchFolderBenchmark } = await import("../bench/batchFolder.js");
        const report = await batchFolderBenchmark({
          model: o.model,
          count: o.batchFolder,
          width: 320,
          height: 240,
          batchSize: o.folderBatch,
          steps: o.steps,
          threads: o.threads,
          log: (l) => console.error(l),
        });
        console.log(report);
        if (o.out) await writeFile(o.out, `${report}\n`);
        return;
      }
      if (o.load) {
        const { loadBenchmark } = await import("../bench/load.js");
        const report = await loadBenchmark({
          model: o.model,
          count: o.count,
          runs: [...o.workers.filter((n) => n > 0).map((workers) => ({ workers, kill: false })), ...(o.killWorker ? [{ workers: 2, kill: true }] : [])],
          steps: o.steps ?? 20,
          restart: Boolean(o.restart),
          uploads: o.uploads,
          timeoutS: o.timeoutS,
          log: (l) => console.error(l),
        });
        console.log(report);
        if (o.out) await writeFile(o.out, `${report}\n`);
        return;
      }
      if (o.pytorchRun && !o.pytorchData) throw new CommanderArgError("--pytorch-run needs --pytorch-data");
      const photoSizes = o.photoSizes === true ? BENCH_PHOTO : o.photoSizes || undefined;
      const report = await benchmark({ ...o, photoSizes, log: (l) => console.error(l) });
      console.log(report);
      if (o.out) await writeFile(o.out, `${report}\n`);
    });
}
