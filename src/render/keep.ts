/**
 * How much of an edit to keep at a pixel, from a measure of it (a change, a probability) and a
 * threshold: nothing below the threshold, all of it from twice the threshold, linear between, so
 * the result is continuous. A threshold of 0 keeps everything. The keep-the-input rules (change
 * threshold, region head) and the renderer all use this one ramp.
 */
export function keepGain(value: number, threshold: number): number {
  if (threshold <= 0) return 1;
  const g = (value - threshold) / threshold;
  return g < 0 ? 0 : Math.min(g, 1);
}
