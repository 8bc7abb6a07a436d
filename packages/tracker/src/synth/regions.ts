// Which segmentation class (SEG_CLASS, spec 2.4) each vertex of a FLAME-layout model shows as, from the
// model's vertex masks (FLAME_masks.pkl names), so the synthetic seg_og maps look like the face parser's.
//
// - eyeballs: right_eyeball -> 8 (r-eye, the subject's right), left_eyeball -> 9;
// - lips: 12 lower lip when the jaw joint moves the vertex (skinning weight of joint 2 >= 0.5), else 13 upper
//   lip; except their inner walls, facing the other lip (template normal: n_y > 0.9 on the lower lip,
//   -n_y > 0.9 on the upper), -> 11 inner mouth;
// - nose -> 10; left_ear -> 5 (l-ear), right_ear -> 4; neck -> 1; scalp -> 14 hair;
// - everything else of the head (face, cheeks, the sides of the head) -> 2 skin.
// Priority in that order. The synthetic head has no brows (6, 7), glasses, hat, jewellery or cloth (3),
// and no pixel is "outside the parser's region" (20): those classes never appear.
import type { FlameModel } from '@pixel3dmm/flame';
import { SEG_CLASS } from '@pixel3dmm/formats';
import { vertexNormals } from '../objective/vertex-normals.js';

/** The classes a synthetic seg map can contain (the renderer's class channels, in this order). */
export const SYNTH_CLASSES: readonly number[] = [
  SEG_CLASS.background, // never a vertex's class: background pixels are those without a triangle
  SEG_CLASS.neck,
  SEG_CLASS.skin,
  SEG_CLASS.rightEar,
  SEG_CLASS.leftEar,
  SEG_CLASS.rightEye,
  SEG_CLASS.leftEye,
  SEG_CLASS.nose,
  SEG_CLASS.innerMouth,
  SEG_CLASS.lowerLip,
  SEG_CLASS.upperLip,
  SEG_CLASS.hair,
];

const JAW_JOINT = 2;

function maskOf(model: FlameModel, name: string): Int32Array {
  const m = model.masks[name];
  if (!m) throw new Error(`${model.source}: the model has no '${name}' vertex mask (FLAME_masks.pkl), needed for synthetic segmentation`);
  return m;
}

/** The SEG_CLASS id of every vertex [V]. */
export function vertexClasses(model: FlameModel): Uint8Array {
  const V = model.numVertices;
  const cls = new Uint8Array(V).fill(SEG_CLASS.skin);
  const set = (name: string, c: number) => {
    for (const v of maskOf(model, name)) cls[v] = c;
  };
  // Lowest priority first: later assignments win.
  set('scalp', SEG_CLASS.hair);
  set('neck', SEG_CLASS.neck);
  set('face', SEG_CLASS.skin);
  set('right_ear', SEG_CLASS.rightEar);
  set('left_ear', SEG_CLASS.leftEar);
  set('nose', SEG_CLASS.nose);
  const n = new Float32Array(3 * V);
  vertexNormals(model.vTemplate, 1, V, Int32Array.from(model.faces), new Float64Array(3 * V), n);
  for (const v of maskOf(model, 'lips')) {
    const ny = n[3 * v + 1];
    const lower = model.skinWeights[5 * v + JAW_JOINT] >= 0.5;
    // The lips' inner walls face the other lip: down on the upper lip, up on the lower one, within ~25 degrees
    // (the rolled vermilion edge facing ~45 degrees down or up and forward is still lip; the outer sides
    // facing the nose or the chin point the other way).
    const inner = (lower ? ny : -ny) > 0.9;
    cls[v] = inner ? SEG_CLASS.innerMouth : lower ? SEG_CLASS.lowerLip : SEG_CLASS.upperLip;
  }
  set('right_eyeball', SEG_CLASS.rightEye);
  set('left_eyeball', SEG_CLASS.leftEye);
  return cls;
}
