// Tiny stand-in networks with the Pixel3DMM ONNX contract (networks/contract.ts), built in memory with
// onnx-proto: out = Conv1x1(image; weight, bias) + ramp, where ramp[c, x] varies along the width only, so
// the mirror TTA's flip-back is visible in the result. Used by tests and by `pixel3dmm run` smoke runs
// (`writeTinyNetwork`); they predict nothing meaningful.
import { writeFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { pipnetNeighbours } from '../landmarks/pipnet.js';

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

// ---- Stand-ins for the optional preprocessing models (MICA, PIPNet, FaRL), for tests. ----

function model(graph: ReturnType<typeof onnx.GraphProto.create>): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 17 })], producerName: 'pixel3dmm-ts tests', graph })).finish();
}

const ints = (name: string, v: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
const int = (name: string, v: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });

/** MICA stand-in: identity[k] = sum_c mean_c(image) * weight[c][k]  ([1,3,112,112] -> [1,300]). */
export function tinyMica(weight: number[][], size = 112): Uint8Array {
  return model(
    onnx.GraphProto.create({
      name: 'tiny_mica',
      node: [
        onnx.NodeProto.create({ opType: 'ReduceMean', input: ['image'], output: ['m'], attribute: [ints('axes', [2, 3]), int('keepdims', 0)] }),
        onnx.NodeProto.create({ opType: 'MatMul', input: ['m', 'w'], output: ['identity'] }),
      ],
      initializer: [tensor('w', [3, 300], Float32Array.from(weight.flat()))],
      input: [valueInfo('image', [1, 3, size, size])],
      output: [valueInfo('identity', [1, 300])],
    }),
  );
}

/** FaRL stand-in: logits = Conv1x1(image) + bias ([1,3,448,448] -> [1,19,448,448]). */
export function tinyFarl(bias: number[]): Uint8Array {
  return model(
    onnx.GraphProto.create({
      name: 'tiny_farl',
      node: [onnx.NodeProto.create({ opType: 'Conv', input: ['image', 'w', 'b'], output: ['logits'], attribute: [ints('kernel_shape', [1, 1])] })],
      initializer: [tensor('w', [19, 3, 1, 1], new Float32Array(57).fill(0.01)), tensor('b', [19], Float32Array.from(bias))],
      input: [valueInfo('image', [1, 3, 448, 448])],
      output: [valueInfo('logits', [1, 19, 448, 448])],
    }),
  );
}

/**
 * PIPNet stand-in with constant heads: landmark l peaks in cell l mod 64 with offsets 0.5, and each
 * neighbour offset points from the predicting landmark's cell to the centre of its neighbour's cell, so
 * every estimate of landmark l (its own and its neighbours') is the centre of cell l mod 64. The input
 * only feeds a zero term, so the graph has the contract's input.
 */
export function tinyPipnet(meanface: Float32Array): Uint8Array {
  const cls = new Float32Array(98 * 64);
  for (let l = 0; l < 98; l++) cls[l * 64 + (l % 64)] = 1;
  const half = (n: number) => new Float32Array(n).fill(0.5);
  const { nb } = pipnetNeighbours(meanface, 98, 10);
  const nbX = new Float32Array(980 * 64);
  const nbY = new Float32Array(980 * 64);
  for (let i = 0; i < 98; i++) {
    for (let j = 0; j < 10; j++) {
      const k = i % 64; // predicting landmark's cell
      const t = nb[i][j] % 64; // neighbour's cell
      nbX[(i * 10 + j) * 64 + k] = (t % 8) - (k % 8) + 0.5;
      nbY[(i * 10 + j) * 64 + k] = Math.floor(t / 8) - Math.floor(k / 8) + 0.5;
    }
  }
  const outs: [string, number[], Float32Array][] = [
    ['cls', [1, 98, 8, 8], cls],
    ['off_x', [1, 98, 8, 8], half(98 * 64)],
    ['off_y', [1, 98, 8, 8], half(98 * 64)],
    ['nb_x', [1, 980, 8, 8], nbX],
    ['nb_y', [1, 980, 8, 8], nbY],
    ['meanface', [98, 2], meanface],
  ];
  return model(
    onnx.GraphProto.create({
      name: 'tiny_pipnet',
      node: [
        onnx.NodeProto.create({ opType: 'ReduceMean', input: ['image'], output: ['z0'], attribute: [int('keepdims', 0)] }),
        onnx.NodeProto.create({ opType: 'Mul', input: ['z0', 'zero'], output: ['z'] }),
        ...outs.map(([name]) => onnx.NodeProto.create({ opType: 'Add', input: [`${name}_c`, 'z'], output: [name] })),
      ],
      initializer: [tensor('zero', [], new Float32Array([0])), ...outs.map(([name, dims, v]) => tensor(`${name}_c`, dims, v))],
      input: [valueInfo('image', [1, 3, 256, 256])],
      output: outs.map(([name, dims]) => valueInfo(name, dims)),
    }),
  );
}
