// The contracts between the tracker's parts: what a frame brings (FrameData, read from the preprocessed layout
// or synthesised), what the optimiser updates (TrackingVariables), and the objective that turns both into a
// loss and its gradient (FrameObjective). Everything is float64 on the JS side; native kernels take float32.
//
// Images are row-major [S, S, C] with row 0 at the image TOP (as the crop PNGs and as the rast buffer of the
// tracking camera, see @pixel3dmm/render camera.ts). Pixel (col, row) has its centre at integer coordinates.

/** One frame's tracking inputs at render size S (spec 6, "Inputs per frame"). */
export interface FrameData {
  /** Frame index in the sequence (the file stem's number). */
  index: number;
  /** Render size S. */
  size: number;
  /** [S,S,3] RGB in [0,1] (for the overlay video only; no photometric term). */
  rgb: Float32Array;
  /** [S,S,2] UV map png/255 (channels 0,1), set to 0 where masks.uv is 0; null without a UV network. */
  uv: Float32Array | null;
  /** [S,S,3] normals 2 png/255 - 1 (FLAME space); null without a normal network. */
  normals: Float32Array | null;
  /** [S,S] segmentation class ids (nearest-neighbour resize), see SEG_CLASS in @pixel3dmm/formats. */
  segmentation: Uint8Array;
  /** [S,S] 0/1 masks built from the segmentation (SEG_MASKS in @pixel3dmm/formats). */
  masks: { uv: Uint8Array; normal: Uint8Array; foreground: Uint8Array; validBackground: Uint8Array };
  /** [98,2] WFLW landmarks in pixels of S (lmk98 * S); zeros where missing. */
  landmarks98: Float32Array;
  /** [98] 1 where the landmark is valid (x + y != 0), else 0. */
  landmarkValid: Uint8Array;
}

/** Per-frame variables (spec 4.1): 6D rotations are the first two rows of R. */
export interface FrameVariables {
  expression: Float64Array; // [numExpression] (100)
  jaw: Float64Array; // [6]
  neck: Float64Array; // [6]
  eyes: Float64Array; // [12]: left eye (joint 3) then right eye (joint 4)
  eyelids: Float64Array; // [2]: [0] scales l_eyelid, [1] r_eyelid
  rotation: Float64Array; // [6] head rotation R, applied outside FLAME
  translation: Float64Array; // [3] head translation t (metres)
}

/** Variables shared by the whole sequence (global_camera, the default). */
export interface SharedVariables {
  shape: Float64Array; // [numShape] (300)
  /** Focal length as a fraction of S. */
  focal: number;
  /** Normalised principal-point offset. */
  pp: [number, number];
}

export interface TrackingVariables {
  shared: SharedVariables;
  /** One entry per frame of the sequence, by position (frame i of the sequence at frames[i]). */
  frames: FrameVariables[];
}

export type FrameGroup = keyof FrameVariables;
export type SharedGroup = keyof SharedVariables;

/** Gradient of the total loss, in the same layout as the variables (zeros for groups not involved). */
export interface TrackingGradient {
  shared: { shape: Float64Array; focal: number; pp: [number, number] };
  /** Same length and order as the batch's frame positions. */
  frames: FrameVariables[];
}

/** Which losses are on, and how (spec 6, 6.8 and 7). */
export interface ObjectiveOptions {
  /** 'camera-landmarks' / 'camera-uv': the two halves of the camera warm-up (6.8); 'track': stages 1 and 2. */
  phase: 'camera-landmarks' | 'camera-uv' | 'track';
  /** Multiplies the silhouette weight (0.1 during stage 1 of the first frame, so for all of a single-image fit). */
  silhouetteScale: number;
  /** Adds temporal smoothness (6.7) over the batch, which must then be a contiguous window in time order. */
  smoothness: boolean;
  /**
   * Whether to compute the shape gradient (default true). Pass false while shape is frozen (stage 1 of a video):
   * it skips a pass over the identity bases and the mirror term's shape part, and gradient.shared.shape is then all
   * zeros.
   */
  wantShape?: boolean;
}

export interface ObjectiveResult {
  /** The plain sum of all terms (what early stopping watches). */
  total: number;
  /** Every weighted term by name (e.g. 'uv', 'uv_pixel', 'normal', 'sil', 'lmk_eyes', 'reg_exp', ...). */
  terms: Record<string, number>;
  gradient: TrackingGradient;
}

/** UV-space nearest neighbours of the valid vertex set, found once per frame (spec 6.1). */
export interface Correspondences {
  /** [J,2] integer pixel coordinates (col, row) at render size S of each valid vertex's nearest UV pixel. */
  pixels: Int32Array;
  /** [J] squared UV distance of that neighbour (compared with delta_uv). */
  dist2: Float32Array;
}

/** One evaluation of the objective on a batch of frames. */
export interface ObjectiveRequest {
  variables: TrackingVariables;
  /** Positions into variables.frames forming the batch (time order when options.smoothness). */
  batch: number[];
  /** The inputs of those frames, same order as batch. */
  frames: FrameData[];
  /** Their correspondences (from the objective's `correspondences`), same order as batch. */
  correspondences: Correspondences[];
  options: ObjectiveOptions;
}

/** What the optimiser needs from the objective (implemented in objective/). */
export interface TrackingObjectiveApi {
  correspondences(frame: FrameData, variables: TrackingVariables, position: number): Correspondences;
  evaluate(request: ObjectiveRequest): ObjectiveResult;
}
