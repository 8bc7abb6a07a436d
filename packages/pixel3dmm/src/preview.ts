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

/**
 * Per-vertex preview colours from the model's masks: skin, lips, and eyeballs with an iris and pupil where the
 * rest-pose eyeball faces +z (the eyes look down +z in FLAME's rest pose), so eye rotations show.
 */
export function previewColors(model: FlameModel): Float32Array {
  const V = model.numVertices;
  const c = new Float32Array(3 * V);
  for (let v = 0; v < V; v++) c.set([0.88, 0.71, 0.6], 3 * v);
  for (const v of model.masks.lips ?? []) c.set([0.78, 0.42, 0.42], 3 * v);
  for (const name of ['left_eyeball', 'right_eyeball']) {
    const ids = model.masks[name];
    if (!ids || ids.length === 0) continue;
    const centre = [0, 0, 0];
    for (const v of ids) for (let d = 0; d < 3; d++) centre[d] += model.vTemplate[3 * v + d] / ids.length;
    for (const v of ids) {
      const dir = [0, 1, 2].map((d) => model.vTemplate[3 * v + d] - centre[d]);
      const z = dir[2] / (Math.hypot(dir[0], dir[1], dir[2]) || 1);
      c.set(z > 0.96 ? [0.05, 0.05, 0.05] : z > 0.85 ? [0.3, 0.42, 0.55] : [0.95, 0.94, 0.9], 3 * v);
    }
  }
  return c;
}

export async function renderPosePreviews(model: FlameModel, dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const flame = new Flame(model);
  const colors = previewColors(model);
  const written: string[] = [];
  for (const [name, params] of previewPoses(model)) {
    const { vertices } = flame.evaluate([params]);
    const path = join(dir, `${name}.png`);
    await renderPreviewPng(vertices, model.faces, path, { size: 360, views: ['front', 'side', { yaw: 35, pitch: 10 }], colors });
    written.push(path);
  }
  return written;
}
