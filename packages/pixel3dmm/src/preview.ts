// Preview PNGs of a FLAME model in a few characteristic poses, for looking at a model (synth-model
// --preview, demo). Uses the small preview rasteriser, not the tracking renderer.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Flame, defaultFlameParams, type FlameModel, type FlameParams } from '@pixel3dmm/flame';
import { renderPreviewPng } from './preview-render.js';

/** 6D (first two rows) of a rotation by `angle` about a coordinate axis. */
export function axisRotation6d(axis: 'x' | 'y' | 'z', angle: number): number[] {
  const c = Math.cos(angle), s = Math.sin(angle);
  if (axis === 'x') return [1, 0, 0, 0, c, -s];
  if (axis === 'y') return [c, 0, s, 0, 1, 0];
  return [c, -s, 0, s, c, 0];
}

export function previewPoses(model: FlameModel): Array<[string, FlameParams]> {
  const base = defaultFlameParams();
  const shape = Array.from({ length: model.numShape }, (_, i) => (i < 20 ? 2 * Math.sin(1.7 * i + 0.3) : 0));
  const expr = (k: number, v: number) => Array.from({ length: model.numExpression }, (_, i) => (i === k ? v : 0));
  return [
    ['neutral', base],
    ['shape-sample', { ...base, shape }],
    ['jaw-open', { ...base, jaw: axisRotation6d('x', 0.3) }],
    ['expression-0', { ...base, expression: expr(0, 2.5) }],
    ['expression-1', { ...base, expression: expr(1, 2.5) }],
    ['eyes-turned', { ...base, eyes: [...axisRotation6d('y', 0.35), ...axisRotation6d('y', 0.35)] }],
    ['eyelids-closed', { ...base, eyelids: [1, 1] }],
    ['neck-turned', { ...base, neck: axisRotation6d('y', 0.5), jaw: axisRotation6d('x', 0.15) }],
  ];
}

export async function renderPosePreviews(model: FlameModel, dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const flame = new Flame(model);
  const written: string[] = [];
  for (const [name, params] of previewPoses(model)) {
    const { vertices } = flame.evaluate([params]);
    const path = join(dir, `${name}.png`);
    await renderPreviewPng(vertices, model.faces, path, { size: 360, views: ['front', 'side', { yaw: 35, pitch: 10 }] });
    written.push(path);
  }
  return written;
}
