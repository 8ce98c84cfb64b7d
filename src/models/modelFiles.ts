/**
 * A model folder as the editing core reads it, wherever it is: on disk in Node (src/platform/nodeFiles.ts),
 * over HTTP with a cache in the browser (src/platform/webFiles.ts). Every file but the manifest is
 * checked against the size and sha256 the manifest gives before it is used.
 */
export interface ModelFiles {
  /** Where the folder is (a path or a URL), for messages. */
  readonly location: string;
  /** Where one of its files is, for messages. */
  where(file: string): string;
  /** The text of a file that no manifest describes (a manifest itself); rejects when it cannot be read. */
  readText(file: string): Promise<string>;
  /**
   * The bytes of a file, checked against `bytes` (unless null) and `sha256`; a ModelDirError naming
   * `what` when it is missing, of another size or another hash.
   */
  readChecked(file: string, bytes: number | null, sha256: string, what: string): Promise<Uint8Array>;
  /** A folder given relative to this one (a manifest's path to a shared encoder). */
  folder(path: string): ModelFiles;
}
