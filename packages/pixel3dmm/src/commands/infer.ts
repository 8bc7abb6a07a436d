// `pixel3dmm infer NAME`: the Pixel3DMM networks (ONNX) over PREPROCESSED_DATA/NAME/cropped.
import { loadNetworks, NO_NETWORKS_NOTE, reportError, runInfer, type StageFlags } from './stages.js';

export async function inferCommand(name: string, flags: StageFlags): Promise<void> {
  let nets;
  try {
    nets = await loadNetworks(flags);
    if (nets.length === 0) {
      process.stderr.write(`error: ${NO_NETWORKS_NOTE}\n`);
      process.exitCode = 1;
      return;
    }
    const s = await runInfer(name, nets, flags);
    if (flags.json) console.log(JSON.stringify(s, null, 2));
  } catch (e) {
    reportError(e);
  } finally {
    for (const n of nets ?? []) await n.release();
  }
}
