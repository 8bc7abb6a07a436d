// Tiny stand-in networks with the Pixel3DMM ONNX contract (networks/contract.ts), built in memory with
// onnx-proto: out = Conv1x1(image; weight, bias) + ramp, where ramp[c, x] varies along the width only, so
// the mirror TTA's flip-back is visible in the result. Used by tests and by `pixel3dmm run` smoke runs
// (`writeTinyNetwork`); they predict nothing meaningful.
import { writeFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export interface TinyNetworkSpec {
  /** Output name: 'uv' (2 channels) or 'normals' (3), or anything else to build a wrong signature. */
  output: string;
  channels: number;
  /** Input side (512 for the contract). */
  size?: number;
  /** Fixed batch, or undefined for a dynamic 'B'. */
  batch?: number;
  /** [channels][3] 1x1 conv weights and [channels] bias. */
  weight: number[][];
  bias: number[];
  /** ramp[c][x] = rampScale[c] * (x / (size-1) - 0.5). */
  rampScale: number[];
}

function tensor(name: string, dims: number[], values: Float32Array) {
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(values.buffer.slice(0)) });
}

function valueInfo(name: string, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({ dim: dims.map((d) => onnx.TensorShapeProto.Dimension.create(typeof d === 'number' ? { dimValue: d } : { dimParam: d })) }),
      }),
    }),
  });
}

export function rampValue(spec: TinyNetworkSpec, c: number, x: number): number {
  const S = spec.size ?? 512;
  return spec.rampScale[c] * (x / (S - 1) - 0.5);
}

export function tinyNetwork(spec: TinyNetworkSpec): Uint8Array {
  const S = spec.size ?? 512;
  const C = spec.channels;
  const B: number | string = spec.batch ?? 'B';
  const ramp = new Float32Array(C * S);
  for (let c = 0; c < C; c++) for (let x = 0; x < S; x++) ramp[c * S + x] = rampValue(spec, c, x);
  const graph = onnx.GraphProto.create({
    name: 'tiny_pixel3dmm',
    node: [
      onnx.NodeProto.create({ opType: 'Conv', input: ['image', 'w', 'b'], output: ['conv'], name: 'conv', attribute: [onnx.AttributeProto.create({ name: 'kernel_shape', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 1] })] }),
      onnx.NodeProto.create({ opType: 'Add', input: ['conv', 'ramp'], output: [spec.output], name: 'add' }),
    ],
    initializer: [
      tensor('w', [C, 3, 1, 1], Float32Array.from(spec.weight.flat())),
      tensor('b', [C], Float32Array.from(spec.bias)),
      tensor('ramp', [1, C, 1, S], ramp),
    ],
    input: [valueInfo('image', [B, 3, S, S])],
    output: [valueInfo(spec.output, [B, C, S, S])],
  });
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 17 })], producerName: 'pixel3dmm-ts tests', graph });
  return onnx.ModelProto.encode(model).finish();
}

/** Stand-ins for both networks (fixed, arbitrary weights), written to `dir`/tiny-{uv,normals}.onnx. */
export function writeTinyNetworks(dir: string): { uv: string; normals: string } {
  const uv = `${dir}/tiny-uv.onnx`;
  const normals = `${dir}/tiny-normals.onnx`;
  writeFileSync(uv, tinyNetwork(TINY_UV));
  writeFileSync(normals, tinyNetwork(TINY_NORMALS));
  return { uv, normals };
}

export const TINY_UV: TinyNetworkSpec = { output: 'uv', channels: 2, weight: [[0.8, -0.3, 0.1], [-0.2, 0.5, 0.4]], bias: [-0.2, 0.1], rampScale: [0.6, -0.4] };
export const TINY_NORMALS: TinyNetworkSpec = { output: 'normals', channels: 3, weight: [[0.5, 0.2, -0.4], [-0.3, 0.6, 0.2], [0.1, 0.1, 0.9]], bias: [0.05, -0.1, -0.6], rampScale: [0.9, 0.3, -0.2] };
