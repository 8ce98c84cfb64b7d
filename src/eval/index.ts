/** mgie/eval: the evaluation harness (metrics, report) over SynthEdit splits. */
export { type EvalOptions, type EvalReport, type EvalRun, evaluate, type ModelResult, type SubsetResult } from "./evaluate.js";
export { l1, maskedL1, psnr, ssim } from "./metrics.js";
export { reportMarkdown, writeReport } from "./report.js";
