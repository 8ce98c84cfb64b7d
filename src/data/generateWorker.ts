import { parentPort, workerData } from "node:worker_threads";
import { encodeExample } from "./encode.js";
import type { Split } from "./splits.js";
import { type GeneratorVersion, SynthEdit } from "./synthedit.js";

/** A worker thread of SynthEditPool: generates the examples it is asked for and sends back their bytes. */
const { res, photoDir, generator } = workerData as { res: number; photoDir?: string; generator: GeneratorVersion };
const ready = SynthEdit.create({ res, photoDir, generator });

parentPort!.on("message", async (msg: { id: number; split: Split; index: number }) => {
  try {
    const gen = await ready;
    const enc = encodeExample(await gen.example(msg.split, msg.index));
    parentPort!.postMessage({ id: msg.id, enc }, [enc.input.buffer as ArrayBuffer, enc.target.buffer as ArrayBuffer, enc.mask.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) });
  }
});
