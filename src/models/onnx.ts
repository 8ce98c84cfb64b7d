import { availableParallelism } from "node:os";
import * as ort from "onnxruntime-node";

/** One ONNX Runtime session per component, created once and reused for every call. */
export async function createSession(bytes: Uint8Array, threads?: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads ?? availableParallelism(),
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionMode: "sequential",
  });
}

export function f32(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("float32", data, dims);
}

export function i64(values: readonly number[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor(
    "int64",
    BigInt64Array.from(values, (v) => BigInt(v)),
    dims,
  );
}

export function bool(values: readonly boolean[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor(
    "bool",
    Uint8Array.from(values, (v) => (v ? 1 : 0)),
    dims,
  );
}

/** Runs a session and returns its outputs as float32 data with their dims. */
export async function run(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  const out = await session.run(feeds);
  const res: Record<string, { data: Float32Array; dims: number[] }> = {};
  for (const [k, t] of Object.entries(out)) {
    res[k] = { data: t.data as Float32Array, dims: [...t.dims] };
    t.dispose?.();
  }
  return res;
}

/** Concatenates float32 arrays (e.g. embeddings along the sequence, items along the batch). */
export function concatFloat32(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
