import { DDIMScheduler } from "./ddim.js";
import { EulerAncestralScheduler } from "./eulerAncestral.js";
import type { NoiseScheduleConfig } from "./noiseSchedule.js";
import type { Scheduler } from "./scheduler.js";

/** A scheduler class: its name in options and requests, and how to make one for a number of steps. */
export interface SchedulerClass {
  readonly schedulerName: string;
  new (cfg: NoiseScheduleConfig, steps: number): Scheduler;
}

/** Every scheduler mgie offers, listed once; the first is the default (the official MGIE sampler). */
const SCHEDULER_CLASSES = [EulerAncestralScheduler, DDIMScheduler] as const satisfies readonly SchedulerClass[];

export type SchedulerName = (typeof SCHEDULER_CLASSES)[number]["schedulerName"];
export const SCHEDULER_NAMES = SCHEDULER_CLASSES.map((c) => c.schedulerName) as [SchedulerName, ...SchedulerName[]];
export const DEFAULT_SCHEDULER: SchedulerName = SCHEDULER_CLASSES[0].schedulerName;

/** The scheduler called `name`, set up for `steps` steps of the model's noise schedule. */
export function createScheduler(name: SchedulerName, cfg: NoiseScheduleConfig, steps: number): Scheduler {
  const cls = SCHEDULER_CLASSES.find((c) => c.schedulerName === name);
  if (!cls) throw new RangeError(`no scheduler '${name}'; the schedulers are ${SCHEDULER_NAMES.join(", ")}`);
  return new cls(cfg, steps);
}
