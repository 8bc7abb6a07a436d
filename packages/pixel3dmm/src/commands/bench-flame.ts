// `pixel3dmm bench flame`: median times of the FLAME kernel as the tracker calls it, and the bytes of basis
// it streams per call against the machine's read bandwidth measured in the same run.
import { cpus } from 'node:os';
import { FLAME_JOINTS, FlameKernel, kernelInfo, measureMemoryBandwidth, resolveDevice, type FlameForwardResult } from '@pixel3dmm/kernels';
import { kernelArrays } from '@pixel3dmm/flame';
import { chooseFlameModel } from '../model-choice.js';
import { medianMs } from '../timing.js';

interface Row {
  case: string;
  batch: number;
  components: number;
  noNeck: boolean;
  forwardMs: number;
  forwardVjpMs: number;
  /** Basis bytes streamed by forward + VJP divided by its time. */
  effectiveGBs: number;
}

export function benchFlameCommand(opts: { device: string; model?: string; json?: boolean }): void {
  const device = resolveDevice(opts.device as 'cpu' | 'cuda');
  const model = chooseFlameModel(opts.model);
  const kernel = new FlameKernel(kernelArrays(model));
  const V = model.numVertices;
  const rows: Row[] = [];
  const cases = [
    { name: '400 components (shape changes every call)', cached: false },
    { name: 'shape cached (100 expression components)', cached: true },
  ];
  for (const B of [1, 16]) {
    for (const c of cases) {
      for (const noNeck of [false, true]) {
        const pose = new Float64Array(B * FLAME_JOINTS * 6);
        for (let j = 0; j < B * FLAME_JOINTS; j++) pose.set([1, 0.02 * (j % 3), 0, -0.01, 1, 0.03], 6 * j);
        const expression = Float64Array.from({ length: B * model.numExpression }, (_, i) => 0.5 * Math.sin(i));
        const shapes = [0, 1].map((s) => Float64Array.from({ length: model.numShape }, (_, i) => 0.3 * Math.cos(i + s)));
        const cot = Float32Array.from({ length: B * V * 3 }, (_, i) => Math.sin(i));
        let prev: FlameForwardResult | undefined;
        const forward = (i: number) =>
          (prev = kernel.forward({ batch: B, shape: c.cached ? shapes[0] : shapes[i & 1], expression, pose, withNoNeck: noNeck, device, reuse: prev }));
        const forwardMs = medianMs(forward, { warmup: 5 });
        const forwardVjpMs = medianMs((i) => {
          const r = forward(i);
          r.vjp({ vertices: cot, verticesNoNeck: noNeck ? cot : undefined, wantShape: !c.cached });
        });
        // Bases streamed: shape (forward and VJP) unless cached, expression and pose correctives both ways.
        const floats = 3 * V * ((c.cached ? 0 : 2 * model.numShape) + 2 * model.numExpression + 2 * 36);
        rows.push({
          case: c.name,
          batch: B,
          components: c.cached ? model.numExpression : model.numShape + model.numExpression,
          noNeck,
          forwardMs,
          forwardVjpMs,
          effectiveGBs: (floats * 4) / (forwardVjpMs * 1e6),
        });
      }
    }
  }
  const bandwidth = device === 'cpu' ? measureMemoryBandwidth(256) : null;
  const info = kernelInfo();
  const result = {
    model: model.source,
    device,
    machine: device === 'cpu' ? `${cpus()[0]?.model ?? 'unknown CPU'}, ${info.threads} threads` : info.cudaDevices.join(', '),
    memoryReadGBs: bandwidth,
    rows,
  };
  if (opts.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(`FLAME kernel, ${result.model}, ${device} (${result.machine})`);
  if (bandwidth) console.log(`machine read bandwidth (measured now): ${bandwidth.toFixed(1)} GB/s`);
  console.log('batch  components  no-neck  forward ms  forward+VJP ms  effective GB/s');
  for (const r of rows) {
    console.log(`${String(r.batch).padStart(5)}  ${String(r.components).padStart(10)}  ${(r.noNeck ? 'yes' : 'no').padStart(7)}  ` +
      `${r.forwardMs.toFixed(3).padStart(10)}  ${r.forwardVjpMs.toFixed(3).padStart(14)}  ${r.effectiveGBs.toFixed(1).padStart(14)}`);
  }
}
