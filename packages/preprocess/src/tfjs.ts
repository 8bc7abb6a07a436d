// TensorFlow.js on the wasm backend, and graph models loaded from disk into memory (no tfjs-node: its
// install downloads libtensorflow). One backend for the process, initialised once.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { PreprocessError } from './errors.js';
import { defaultModelFiles } from './models.js';

export { tf };

let ready: Promise<void> | null = null;

export function initTfjs(): Promise<void> {
  ready ??= (async () => {
    setWasmPaths(defaultModelFiles().tfjsWasmDir);
    if (!(await tf.setBackend('wasm'))) throw new Error('the tfjs wasm backend failed to initialise');
    await tf.ready();
  })();
  return ready;
}

interface ModelJson {
  modelTopology: unknown;
  format?: string;
  signature?: unknown;
  weightsManifest: { paths: string[]; weights: unknown[] }[];
}

/** Load a TFJS graph model (model.json plus its weight shards) from disk. */
export async function loadGraphModelFile(jsonPath: string): Promise<GraphModel> {
  await initTfjs();
  try {
    const j = JSON.parse(readFileSync(jsonPath, 'utf8')) as ModelJson;
    if (!j.modelTopology || !Array.isArray(j.weightsManifest)) throw new Error('not a TFJS graph model.json (no modelTopology / weightsManifest)');
    const dir = dirname(jsonPath);
    const buf = Buffer.concat(j.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dir, p)))));
    return await loadGraphModel(
      tf.io.fromMemory({
        modelTopology: j.modelTopology as object,
        weightSpecs: j.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[],
        weightData: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength),
        format: j.format,
        // Without the signature, named outputs are "not found in the graph".
        signature: j.signature as object,
      }),
    );
  } catch (e) {
    throw new PreprocessError(jsonPath, `cannot load the TFJS graph model (${(e as Error).message})`, { cause: e });
  }
}
