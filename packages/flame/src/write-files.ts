// Writes a model's raw files in the layouts of the licensed originals (flame-formats.md): the model as a
// Python-2 protocol-2 pickle with a chumpy `shapedirs` and a scipy CSC `J_regressor`, the masks as a
// protocol-0 pickle, DECA's landmark embedding as a 0-d object .npy holding legacy torch tensors, the eyelids
// as .npy and the template as OBJ. Every file is written to a temporary name and renamed.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ChumpyArray,
  CscMatrix,
  NdArray,
  PyDict,
  TorchTensor,
  writeFileAtomicSync,
  writeNpy,
  writeNpyObject,
  writeObj,
  writePickle,
  type PyValue,
} from '@pixel3dmm/formats';
import type { RawFlameFiles } from './raw-files.js';

export interface WrittenFlameFiles {
  model: string;
  masks: string;
  landmarkEmbedding: string;
  leftEyelid: string;
  rightEyelid: string;
  template: string;
}

export function writeFlameFiles(dir: string, raw: RawFlameFiles, modelName = 'generic_model.pkl'): WrittenFlameFiles {
  mkdirSync(dir, { recursive: true });
  const paths: WrittenFlameFiles = {
    model: join(dir, modelName),
    masks: join(dir, 'FLAME_masks.pkl'),
    landmarkEmbedding: join(dir, 'landmark_embedding.npy'),
    leftEyelid: join(dir, 'l_eyelid.npy'),
    rightEyelid: join(dir, 'r_eyelid.npy'),
    template: join(dir, 'head_template.obj'),
  };
  const m = raw.model;
  const jr = m.J_regressor;
  const model = new PyDict([
    ['f', m.f],
    ['v_template', m.v_template],
    ['shapedirs', new ChumpyArray(m.shapedirs)], // FLAME 2020 stores shapedirs as a chumpy Ch
    ['posedirs', m.posedirs],
    ['J_regressor', new CscMatrix(jr.shape, jr.data, jr.indices, jr.indptr)],
    ['weights', m.weights],
    ['J', m.J],
    ['kintree_table', m.kintree_table],
    ['bs_style', m.bs_style],
    ['bs_type', m.bs_type],
  ] as Array<[string, PyValue]>);
  writeFileAtomicSync(paths.model, writePickle(model, { protocol: 2 }));
  writeFileAtomicSync(paths.masks, writePickle(new PyDict(Object.entries(raw.masks)), { protocol: 0 }));
  const e = raw.landmarkEmbedding;
  // DECA's file keeps the dynamic contour tables as legacy torch tensors inside the object array.
  const embedding = new PyDict([
    ['static_lmk_faces_idx', e.static_lmk_faces_idx],
    ['static_lmk_bary_coords', e.static_lmk_bary_coords],
    ['dynamic_lmk_faces_idx', new TorchTensor(e.dynamic_lmk_faces_idx)],
    ['dynamic_lmk_bary_coords', new TorchTensor(toFloat32(e.dynamic_lmk_bary_coords))],
    ['full_lmk_faces_idx', e.full_lmk_faces_idx],
    ['full_lmk_bary_coords', e.full_lmk_bary_coords],
  ] as Array<[string, PyValue]>);
  writeFileAtomicSync(paths.landmarkEmbedding, writeNpyObject(embedding));
  writeFileAtomicSync(paths.leftEyelid, writeNpy(raw.leftEyelid));
  writeFileAtomicSync(paths.rightEyelid, writeNpy(raw.rightEyelid));
  const t = raw.template;
  writeFileAtomicSync(paths.template, writeObj({ positions: t.positions, uvs: t.uvs, faces: t.faces, faceUvs: t.faceUvs }));
  return paths;
}

function toFloat32(a: NdArray): NdArray {
  if (a.dtype === '<f4') return a;
  return new NdArray('<f4', a.shape, Float32Array.from(a.data as Float64Array));
}
