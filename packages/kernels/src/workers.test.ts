// Other Node tools embed the kernels, possibly from several worker threads at once: each thread loads the
// addon into its own environment and they share one CPU thread pool. Results must be the same as on the
// main thread, bit for bit, with no crash.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { FlameKernel } from './index.js';
import { makeRandomFlameArrays } from './testing/random-flame.js';

const dist = pathToFileURL(resolve(__dirname, '../dist')).href;

const workerSource = `
  const { parentPort, workerData } = require('node:worker_threads');
  (async () => {
    const { FlameKernel } = await import('${dist}/index.js');
    const { makeRandomFlameArrays } = await import('${dist}/testing/random-flame.js');
    const k = new FlameKernel(makeRandomFlameArrays({ numVertices: 2000, numShape: 40, numExpression: 20, seed: 3 }));
    let r;
    for (let i = 0; i < 50; i++) {
      const pose = new Float64Array(30);
      for (let j = 0; j < 5; j++) pose.set([1, 0.1 * workerData, 0, 0, 1, 0.05], 6 * j);
      r = k.forward({ batch: 1, shape: new Float64Array(40).fill(0.1 * workerData), pose, reuse: r });
      r.vjp({ vertices: new Float32Array(6000).fill(1) });
    }
    parentPort.postMessage(r.vertices);
  })().catch((e) => parentPort.postMessage(String(e)));
`;

describe('the kernels from several worker threads', () => {
  it('give each thread the same bits as the main thread', async () => {
    const k = new FlameKernel(makeRandomFlameArrays({ numVertices: 2000, numShape: 40, numExpression: 20, seed: 3 }));
    const results = await Promise.all(
      [1, 2, 3].map(
        (id) =>
          new Promise<Float32Array | string>((resolvePromise, reject) => {
            const w = new Worker(workerSource, { eval: true, workerData: id });
            w.once('message', (m) => {
              resolvePromise(m);
              void w.terminate();
            });
            w.once('error', reject);
          }),
      ),
    );
    results.forEach((got, i) => {
      expect(typeof got, String(got)).not.toBe('string');
      const id = i + 1;
      const pose = new Float64Array(30);
      for (let j = 0; j < 5; j++) pose.set([1, 0.1 * id, 0, 0, 1, 0.05], 6 * j);
      const expected = k.forward({ batch: 1, shape: new Float64Array(40).fill(0.1 * id), pose }).vertices;
      expect(Array.from(got as Float32Array)).toEqual(Array.from(expected));
    });
  });
});
