/**
 * What the editing core asks of an ONNX runtime: sessions made from a model's bytes that run on
 * plain typed arrays. onnxruntime-node (src/platform/onnxNode.ts) and onnxruntime-web
 * (src/platform/onnxWeb.ts) each implement it, so that nothing above this line knows which one runs.
 */

/** A tensor given to a session: its element type, its data, its dims. */
export type TensorInput =
  | { type: "float32"; data: Float32Array; dims: readonly number[] }
  | { type: "int64"; data: BigInt64Array; dims: readonly number[] }
  | { type: "bool"; data: Uint8Array; dims: readonly number[] };

/** A session's output: every output of mgie's models is float32. */
export interface TensorOutput {
  data: Float32Array;
  dims: number[];
}

export interface OnnxSession {
  run(feeds: Record<string, TensorInput>): Promise<Record<string, TensorOutput>>;
  release(): Promise<void>;
}

export interface OnnxBackend {
  /** A session of one model component; `name` names it in the runtime's errors. */
  createSession(bytes: Uint8Array, name: string): Promise<OnnxSession>;
}

/** The part of a runtime's session (onnxruntime-node's or -web's: the same shape, different module types) that `adaptSession` uses. */
interface RuntimeSession<T, O> {
  run(feeds: Record<string, T>): Promise<Record<string, O>>;
  release(): Promise<void>;
}

/**
 * A runtime's session as an OnnxSession: each input made a runtime tensor by `toTensor`, each output read
 * to float32 by `read` (which may copy it off a GPU, or dispose the runtime's native tensor).
 */
export function adaptSession<T, O extends { dims: readonly number[] }>(
  session: RuntimeSession<T, O>,
  toTensor: (t: TensorInput) => T,
  read: (o: O) => Float32Array | Promise<Float32Array>,
): OnnxSession {
  return {
    async run(feeds) {
      const tensors: Record<string, T> = {};
      for (const [k, t] of Object.entries(feeds)) tensors[k] = toTensor(t);
      const out = await session.run(tensors);
      const res: Record<string, TensorOutput> = {};
      for (const [k, t] of Object.entries(out)) res[k] = { data: await read(t), dims: [...t.dims] };
      return res;
    },
    release: () => session.release(),
  };
}

export function f32(data: Float32Array, dims: readonly number[]): TensorInput {
  return { type: "float32", data, dims };
}

export function i64(values: readonly number[], dims: readonly number[]): TensorInput {
  return {
    type: "int64",
    data: BigInt64Array.from(values, (v) => BigInt(v)),
    dims,
  };
}

export function bool(values: readonly boolean[], dims: readonly number[]): TensorInput {
  return {
    type: "bool",
    data: Uint8Array.from(values, (v) => (v ? 1 : 0)),
    dims,
  };
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
