// `pixel3dmm tiny-networks --out DIR`: stand-in ONNX graphs with the Pixel3DMM network contract (tiny
// 1x1 convolutions, meaningless output) to smoke-test `infer` and `run` without the real weights. Needs
// the onnx-proto dev dependency.
import { mkdirSync } from 'node:fs';

export async function tinyNetworksCommand(opts: { out: string }): Promise<void> {
  let mod;
  try {
    mod = await import('@pixel3dmm/preprocess/testing/tiny-onnx');
  } catch (e) {
    process.stderr.write(`error: cannot build stand-in networks (${(e as Error).message}); they need the onnx-proto dev dependency (npm install in a checkout)\n`);
    process.exitCode = 1;
    return;
  }
  mkdirSync(opts.out, { recursive: true });
  const files = mod.writeTinyNetworks(opts.out);
  console.log(`stand-in networks (NOT Pixel3DMM; for smoke tests): --uv ${files.uv} --normals ${files.normals}`);
}
