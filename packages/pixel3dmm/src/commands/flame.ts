import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Flame, parseFlameParams } from '@pixel3dmm/flame';
import { NdArray, writeFileAtomicSync, writeNpy, writeObj, writePly } from '@pixel3dmm/formats';
import { chooseFlameModel } from '../model-choice.js';

export function flameCommand(opts: { model?: string; params: string; out: string; world?: boolean }): void {
  const ext = extname(opts.out).toLowerCase();
  if (!['.ply', '.obj', '.npy'].includes(ext)) throw new Error(`--out ${opts.out}: expected a .ply, .obj or .npy file name`);
  const model = chooseFlameModel(opts.model);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(opts.params, 'utf8'));
  } catch (e) {
    throw new Error(`${opts.params}: cannot read the parameter file as JSON (${(e as Error).message})`);
  }
  const params = parseFlameParams(json, opts.params, model);
  const flame = new Flame(model);
  const { vertices } = flame.evaluate([params], { world: !!opts.world });
  let bytes: Uint8Array | string;
  if (ext === '.npy') bytes = writeNpy(new NdArray('<f4', [model.numVertices, 3], vertices));
  else if (ext === '.ply') bytes = writePly({ positions: vertices, faces: model.faces });
  else {
    bytes = writeObj(model.uv
      ? { positions: Float64Array.from(vertices), uvs: Float64Array.from(model.uv.uvs), faces: model.faces, faceUvs: model.uv.faceUvs }
      : { positions: Float64Array.from(vertices), faces: model.faces });
  }
  writeFileAtomicSync(opts.out, bytes);
  console.log(`${opts.out}: ${model.numVertices} vertices, ${model.numFaces} triangles (${model.source}${opts.world ? ', world space' : ', FLAME space'})`);
}
