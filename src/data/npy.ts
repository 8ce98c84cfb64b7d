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
  dict += " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  const head = Buffer.alloc(MAGIC.length + 4);
  head.set(MAGIC, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, "latin1")]);
}

/** Parses a uint8 .npy file, checking every size; returns the shape and a view of the data. */
export function parseNpy(buf: Uint8Array, label: string): { shape: number[]; data: Uint8Array } {
  if (buf.length < 10 || !MAGIC.every((b, i) => buf[i] === b)) throw new DataFormatError(`${label} is not a .npy file (bad magic bytes)`);
  const major = buf[6];
  if (major !== 1) throw new DataFormatError(`${label}: .npy version ${major} is not supported (expected 1)`);
  const headerLen = buf[8] | (buf[9] << 8);
  if (10 + headerLen > buf.length) throw new DataFormatError(`${label} is truncated inside its header`);
  const header = Buffer.from(buf.subarray(10, 10 + headerLen)).toString("latin1");
  if (!/'descr':\s*'\|u1'/.test(header)) throw new DataFormatError(`${label}: expected dtype uint8 ('|u1'), header is ${header.trim()}`);
  if (!/'fortran_order':\s*False/.test(header)) throw new DataFormatError(`${label}: Fortran-ordered arrays are not supported`);
  const m = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!m) throw new DataFormatError(`${label}: no shape in header ${header.trim()}`);
  const shape = m[1].split(",").map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new DataFormatError(`${label}: bad shape (${m[1]})`);
  const expected = shape.reduce((a, b) => a * b, 1);
  const data = buf.subarray(10 + headerLen);
  if (data.length !== expected) {
    throw new DataFormatError(`${label} holds ${data.length} data bytes, its shape (${shape.join(", ")}) needs ${expected}: the file is truncated or corrupt`);
  }
  return { shape, data };
}
