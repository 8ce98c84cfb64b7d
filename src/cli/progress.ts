import cliProgress from "cli-progress";

/** A progress bar on stderr (a line every few seconds when stderr is not a terminal). */
export function progressBar(label: string, total: number): { update: (done: number) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`,
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      etaBuffer: 200,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  bar.start(total, 0, { rate: "0.0" });
  return {
    update(done) {
      const secs = (Date.now() - started) / 1000;
      bar.update(done, { rate: secs > 0 ? (done / secs).toFixed(1) : "0.0" });
    },
    stop() {
      bar.stop();
    },
  };
}

/** One bar per task of a run of several (a model's evaluation, its α_V sweep, …): a new bar whenever the task changes. */
export function taskBars(): { update: (task: string, done: number, total: number) => void; stop: () => void } {
  let bar: ReturnType<typeof progressBar> | null = null;
  let current = "";
  return {
    update(task, done, total) {
      if (task !== current) {
        bar?.stop();
        bar = progressBar(task, total);
        current = task;
      }
      bar!.update(done);
    },
    stop() {
      bar?.stop();
    },
  };
}
