// The Pixel3DMM networks as ONNX (spec 3.5), one graph per checkpoint. The contract:
//   input  : one float32 tensor [B, 3, 512, 512], RGB in [0, 1] (the ImageNet normalisation is in the graph);
//   output : `uv` float32 [B, 2, 512, 512] or `normals` float32 [B, 3, 512, 512], raw (no activation).
// B may be dynamic (any symbolic name) or a fixed even number (mirror TTA puts an image and its mirror in
// one batch). tools/export-onnx.py writes graphs with this signature from the original checkpoints.
import ort from 'onnxruntime-node';
import { PreprocessError } from '../errors.js';

export type NetworkKind = 'uv' | 'normals';
export const NETWORK_SIZE = 512;
export const NETWORK_CHANNELS: Record<NetworkKind, number> = { uv: 2, normals: 3 };

export interface NetworkSignature {
  kind: NetworkKind;
  inputName: string;
  outputName: string;
  /** Fixed batch size of the graph, or null when dynamic. */
  fixedBatch: number | null;
}

type Meta = ort.InferenceSession['inputMetadata'][number];

function describe(m: Meta | undefined): string {
  if (!m) return 'nothing';
  return m.isTensor ? `'${m.name}' ${m.type} [${m.shape.join(',')}]` : `'${m.name}' (not a tensor)`;
}

/** Check a session against the contract; the error names the file and says what was expected. */
export function checkSignature(session: ort.InferenceSession, file: string, want?: NetworkKind): NetworkSignature {
  const expected = `expected one input float32 [B,3,${NETWORK_SIZE},${NETWORK_SIZE}] and one output 'uv' [B,2,${NETWORK_SIZE},${NETWORK_SIZE}] or 'normals' [B,3,${NETWORK_SIZE},${NETWORK_SIZE}]`;
  const bad = (what: string) => new PreprocessError(file, `wrong signature for a Pixel3DMM network: ${what}; ${expected}`);
  if (session.inputNames.length !== 1) throw bad(`${session.inputNames.length} inputs`);
  const inp = session.inputMetadata[0];
  if (!inp?.isTensor || inp.type !== 'float32' || inp.shape.length !== 4 || inp.shape[1] !== 3 || inp.shape[2] !== NETWORK_SIZE || inp.shape[3] !== NETWORK_SIZE) {
    throw bad(`input is ${describe(inp)}`);
  }
  const outIdx = session.outputNames.findIndex((n) => n === 'uv' || n === 'normals');
  if (outIdx < 0) throw bad(`outputs are ${session.outputMetadata.map(describe).join(', ')}`);
  const out = session.outputMetadata[outIdx];
  const kind = session.outputNames[outIdx] as NetworkKind;
  const C = NETWORK_CHANNELS[kind];
  if (!out?.isTensor || out.type !== 'float32' || out.shape.length !== 4 || out.shape[1] !== C || out.shape[2] !== NETWORK_SIZE || out.shape[3] !== NETWORK_SIZE) {
    throw bad(`output is ${describe(out)}`);
  }
  if (want && kind !== want) throw new PreprocessError(file, `this is the '${kind}' network, but it was configured as the '${want}' network`);
  const b = inp.shape[0];
  const fixedBatch = typeof b === 'number' && b > 0 ? b : null;
  if (fixedBatch !== null && fixedBatch % 2 !== 0) throw bad(`the batch size is fixed at ${fixedBatch}; mirror TTA needs a dynamic or even batch`);
  return { kind, inputName: session.inputNames[0], outputName: session.outputNames[outIdx], fixedBatch };
}
