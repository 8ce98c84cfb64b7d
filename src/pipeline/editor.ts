import type { ModelFit } from "../image/processor.js";
import { DEFAULT_MODEL_DIR, nodePlatform } from "../platform/node.js";
import { NodeModelFiles } from "../platform/nodeFiles.js";
import type { ColorGridOptions } from "../render/colorGrid.js";
import { EditPipeline, openModel } from "./editPipeline.js";

export {
  type BatchOptions,
  EDIT_STAGES,
  type EditItem,
  type EditOptions,
  type EditProgress,
  type EditResult,
  type FixedNoise,
} from "./editPipeline.js";
export { DEFAULT_MODEL_DIR };

/** MGIE editing in Node: the model read from disk, onnxruntime-node, sharp, the renderer on every core (see EditPipeline). */
export class MgieEditor extends EditPipeline {
  /**
   * `fit`: how the model sees a photo that is not square (see ModelFit); `grid`: how finely the
   * renderer's colour transforms may vary (see ColorGrid). Both default to the measured choices.
   */
  static async load(dir: string = DEFAULT_MODEL_DIR, options: { threads?: number; fit?: ModelFit; grid?: ColorGridOptions } = {}): Promise<MgieEditor> {
    return new MgieEditor(await openModel(new NodeModelFiles(dir), nodePlatform(options.threads)), options);
  }
}
