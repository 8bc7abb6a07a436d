// The tracker's objective (issue #4 section 1): tracking assets, the scene render, every loss of
// pixel3dmm-spec.md section 6 and their gradients, behind TrackingObjective (TrackingObjectiveApi).
//
// Deliberate deviations from the original (for the docs):
// 1. Stage-2 visibility (spec 6.1, 9.6): each frame's rendered depth is sampled at that frame's own projected
//    pixels (the original samples every frame at batch frame 0's pixels).
// 2. Stage-2 UV validity (spec 9.3): each frame's own squared distances (Correspondences.dist2) are used (the
//    original reuses the distances of the first joint batch, by batch position).
// 3. Nearest neighbours are exact in float64 with ties to the lowest pixel index (pytorch3d knn_points works in
//    float32 with unspecified tie order).
// 4. Normals are computed and interpolated in FLAME space (normals of the FLAME-space neck-free vertices) instead
//    of world-space normals multiplied by Rᵀ after interpolation: mathematically identical (see scene.ts).
// 5. The silhouette texture output is zeroed on background pixels before antialiasing (the original samples the
//    texture at texc = 0 there; uv_mask_eyes is 0 at that corner, so this changes nothing for its asset).
// 6. The Gaussian blur > 0 of the eye exclusion (k = σ = eye_dilation, reflect padding) is computed as the
//    equivalent k×k box dilation (exact: positive weights, and reflect padding adds no new pixels).
// 7. The camera warm-up evaluates FLAME without eyelids in both halves (the spec states it for the landmark
//    half); the eyelid gradient is reported as 0 there.
// 8. When a batch lacks UV maps (no UV network), the UV and uv_pixel terms are off; without normal maps the
//    normal term is off (weights treated as 0), rather than failing.
// 9. Everything on the JS side accumulates in float64 (the original is float32 with TF32 matmuls).
// 10. All attributes are interpolated in one pass over "render corners" (distinct vertex/UV pairs) instead of
//     separate passes over vertex and UV indices: identical values (per-vertex values are copied to each corner).
// 11. The mirror term is evaluated from a precomputed Gram matrix of the mirrored shape/expression bases
//     (losses/regularizers.ts): the same quadratic up to float64 rounding, not a pass over the bases.
// 12. The 'uv' correspondence term uses squared distances stored per frame in float32 (compared with delta_uv
//     in float64), as the original's knn output is float32.
// Not covered: global_camera=False (per-frame focal/pp; the types share one camera) and the original's
// `focal_lenght` crash in that mode.
export {
  builtInTrackingAssets,
  FLAME_IRIS,
  loadTrackingAssets,
  MissingTrackingAssetError,
  silhouetteTexture,
  SYNTHETIC_IRIS,
  TRACKING_ASSET_FILES,
  type TrackingAssets,
} from './assets.js';
export {
  AUX_CHANNELS,
  AUX_DEPTH,
  AUX_EYES,
  AUX_FACE,
  AUX_FACE_EYES,
  CH_NORMAL,
  CH_TEXC,
  renderFrame,
  renderScene,
  renderSceneBackward,
  sceneGradientImages,
  sceneTopology,
  SceneWorkspace,
  type FrameRender,
  type SceneGradients,
  type SceneOptions,
  type SceneOutputGradients,
  type SceneTopology,
} from './scene.js';
export { TrackingObjective, type ObjectiveTimings, type TrackingObjectiveOptions } from './objective.js';
export { correspondenceQueries, findCorrespondences, UvGrid } from './losses/uv-correspondence.js';
export { vertexNormals } from './vertex-normals.js';
export { strided, type StridedImage } from './strided-image.js';
