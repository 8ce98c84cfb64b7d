import { DataFormatError } from "../errors.js";

/**
 * The NumPy .npy format (version 1.0) for uint8 arrays: a magic string, a Python-literal header
 * with dtype, order and shape, padded to 64 bytes, then the raw C-order data. numpy.load reads it.
 */
const MAGIC = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

export function npyHeader(shape: readonly number[]): Buffer {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let dict = `{'descr': '|u1', 'fortran_order': False, 'shape': (${dims}), }`;
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1;
  dict += `${" ".repeat((64 - (unpadded % 64)) % 64)}\n`;
  const head = Buffer.alloc(MAGIC.length + 4);
  head.set(MAGIC, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, "latin1")]);
}

const DTYPES = { "|u1": "uint8", "<f4": "float32", "<i8": "int64", "|b1": "bool" } as const;
export type NpyDtype = (typeof DTYPES)[keyof typeof DTYPES];
const ITEM_SIZE: Record<NpyDtype, number> = { uint8: 1, float32: 4, int64: 8, bool: 1 };

export interface NpyArray {
  shape: number[];
  dtype: NpyDtype;
  /** The raw little-endian data, exactly shape-product x item-size bytes. */
  bytes: Uint8Array;
}

/** Parses a .npy file (uint8, float32, int64 or bool, C order), checking every size against the header. */
export function parseNpyArray(buf: Uint8Array, label: string): NpyArray {
  if (buf.length < 10 || !MAGIC.every((b, i) => buf[i] === b)) throw new DataFormatError(`${label} is not a .npy file (bad magic bytes)`);
  const major = buf[6];
  if (major !== 1) throw new DataFormatError(`${label}: .npy version ${major} is not supported (expected 1)`);
  const headerLen = buf[8] | (buf[9] << 8);
  if (10 + headerLen > buf.length) throw new DataFormatError(`${label} is truncated inside its header`);
  const header = Buffer.from(buf.subarray(10, 10 + headerLen)).toString("latin1");
  const d = /'descr':\s*'([^']*)'/.exec(header);
  const dtype = d ? DTYPES[d[1] as keyof typeof DTYPES] : undefined;
  if (!dtype) throw new DataFormatError(`${label}: dtype ${d?.[1] ?? "(none)"} is not supported (uint8, float32, int64 or bool)`);
  if (!/'fortran_order':\s*False/.test(header)) throw new DataFormatError(`${label}: Fortran-ordered arrays are not supported`);
  const m = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!m) throw new DataFormatError(`${label}: no shape in header ${header.trim()}`);
  const shape = m[1]
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((x) => !Number.isSafeInteger(x) || x < 0)) throw new DataFormatError(`${label}: bad shape (${m[1]})`);
  const expected = shape.reduce((a, b) => a * b, 1) * ITEM_SIZE[dtype];
  const bytes = buf.subarray(10 + headerLen);
  if (bytes.length !== expected) {
    throw new DataFormatError(`${label} holds ${bytes.length} data bytes, its shape (${shape.join(", ")}) needs ${expected}: the file is truncated or corrupt`);
  }
  return { shape, dtype, bytes };
}

/** Parses a uint8 .npy file (the dataset shards). */
export function parseNpy(buf: Uint8Array, label: string): { shape: number[]; data: Uint8Array } {
  const a = parseNpyArray(buf, label);
  if (a.dtype !== "uint8") throw new DataFormatError(`${label}: expected dtype uint8, found ${a.dtype}`);
  return { shape: a.shape, data: a.bytes };
}

/** The values of a float32 / int64 / bool array as a typed array (copied, so alignment is never an issue). */
export function npyValues(a: NpyArray): Float32Array | BigInt64Array | Uint8Array {
  // A fresh Uint8Array, not Buffer#slice (which is a view): typed arrays need their own aligned buffer.
  const copy = new Uint8Array(a.bytes.length);
  copy.set(a.bytes);
  if (a.dtype === "float32") return new Float32Array(copy.buffer, 0, copy.length / 4);
  if (a.dtype === "int64") return new BigInt64Array(copy.buffer, 0, copy.length / 8);
  return copy;
}
