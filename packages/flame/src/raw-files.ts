// The contents of the FLAME model files exactly as they are laid out on disk (FLAME 2020 key names,
// numpy shapes and dtypes), before validation. The loader turns these into a `FlameModel`; the built-in
// synthetic head produces these, so that it goes through the same validation as a licensed FLAME file.
import type { NdArray } from '@pixel3dmm/formats';

/** A scipy.sparse.csc_matrix as stored in FLAME's `J_regressor`. */
export interface CscMatrixData {
  shape: [number, number];
  data: NdArray; // float64 [nnz]
  indices: NdArray; // int32 [nnz], row index of each stored value
  indptr: NdArray; // int32 [cols + 1]
}

/** `generic_model.pkl` / `flame2023*.pkl`: the pickled dict. */
export interface RawFlameModel {
  f: NdArray; // <u4 [F, 3], 0-based triangles
  v_template: NdArray; // <f8 [V, 3], metres
  shapedirs: NdArray; // <f8 [V, 3, 400]: 300 identity then 100 expression components
  posedirs: NdArray; // <f8 [V, 3, 36], pose correctives for vec(R_j - I), j = 1..4
  J_regressor: CscMatrixData; // [5, V]
  weights: NdArray; // <f8 [V, 5], skinning weights
  J: NdArray; // <f8 [5, 3], template joints (informational; joints are regressed)
  kintree_table: NdArray; // <i8 [2, 5], row 0 parents (root parent 4294967295), row 1 ids
  bs_style: string; // 'lbs'
  bs_type: string; // 'lrotmin'
}

/** DECA's `landmark_embedding.npy` dict (the payload of the 0-d object array). */
export interface RawLandmarkEmbedding {
  static_lmk_faces_idx: NdArray; // <i8 [51]
  static_lmk_bary_coords: NdArray; // <f8 [51, 3]
  dynamic_lmk_faces_idx: NdArray; // <i8 [79, 17]: yaw bins -39..39 degrees x 17 contour points
  dynamic_lmk_bary_coords: NdArray; // <f4 or <f8 [79, 17, 3]
  full_lmk_faces_idx: NdArray; // <i8 [1, 68]
  full_lmk_bary_coords: NdArray; // <f4 or <f8 [1, 68, 3]
}

/** `head_template.obj`: positions plus UVs with seams (separate position and UV index lists). */
export interface RawTemplateMesh {
  positions: Float64Array; // [V * 3]
  uvs: Float64Array; // [VT * 2], OBJ convention: v points up
  faces: Uint32Array; // [F * 3] position indices, 0-based
  faceUvs: Uint32Array; // [F * 3] UV indices, 0-based
}

/** Everything the FLAME model and its companion files hold. */
export interface RawFlameFiles {
  model: RawFlameModel;
  /** `FLAME_masks.pkl`: vertex index sets (<i8), at least `face`, `left_eyeball`, `right_eyeball`, `eye_region`. */
  masks: Record<string, NdArray>;
  landmarkEmbedding: RawLandmarkEmbedding;
  /** `l_eyelid.npy`, `r_eyelid.npy`: <f8 [V, 3] offsets added after skinning. */
  leftEyelid: NdArray;
  rightEyelid: NdArray;
  template: RawTemplateMesh;
}
