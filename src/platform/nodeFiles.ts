import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type ModelDir, ModelDirError, readModelDir } from "../models/modelDir.js";
import type { ModelFiles } from "../models/modelFiles.js";

/** A model folder on disk. */
export class NodeModelFiles implements ModelFiles {
  constructor(readonly location: string) {}

  where(file: string): string {
    return join(this.location, file);
  }

  readText(file: string): Promise<string> {
    return readFile(this.where(file), "utf8");
  }

  async readChecked(file: string, bytes: number | null, sha256: string, what: string): Promise<Buffer> {
    const path = this.where(file);
    let data: Buffer;
    try {
      const st = await stat(path);
      if (bytes !== null && st.size !== bytes) {
        throw new ModelDirError(
          `${path} is ${st.size} bytes, the manifest says ${bytes}: the file is truncated or replaced; re-export or re-download the model`,
        );
      }
      data = await readFile(path);
    } catch (cause) {
      if (cause instanceof ModelDirError) throw cause;
      throw new ModelDirError(`the model's ${what} is missing: cannot read ${path}`, { cause });
    }
    const hash = createHash("sha256").update(data).digest("hex");
    if (hash !== sha256) throw new ModelDirError(`${path} does not match the sha256 in the manifest: the file is corrupt or from another model`);
    verified.set(data, hash);
    return data;
  }

  folder(path: string): ModelFiles {
    return new NodeModelFiles(resolve(this.location, path));
  }
}

/** The sha256 of each file read and checked here, so that no one needs to hash its bytes again. */
const verified = new WeakMap<Uint8Array, string>();

/** The sha256 of bytes that a NodeModelFiles read and checked (a component's ModelDir.files entry); undefined for any other bytes. */
export function checkedSha256(bytes: Uint8Array): string | undefined {
  return verified.get(bytes);
}

/** Reads and validates a model directory on disk: manifest schema, required components, sizes and hashes. */
export function loadModelDir(dir: string): Promise<ModelDir> {
  return readModelDir(new NodeModelFiles(dir));
}
