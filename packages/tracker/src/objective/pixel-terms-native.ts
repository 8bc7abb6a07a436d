// The tracker's native per-pixel passes (native/src/tracker/pixel_terms.h), bound from the kernels' addon. Callers
// (dense.ts, scene.ts) check every argument first; the binding re-checks lengths so that nothing out of bounds
// can reach native code.
import { nativeAddon } from '@pixel3dmm/kernels';

export interface PixelTermsNative {
  /** The dense UV term of B frames (in parallel); each frame's float64 sum, in frame order. */
  uvImageLoss(args: {
    pixels: number;
    frames: number;
    targets: Float32Array[];
    masks: Uint8Array[];
    rendered: Float32Array;
    l2: boolean;
    k: number;
    grad: Float32Array;
    gradStride: number;
    gradOffset: number;
  }): number[];
  /** The normal term of B frames (in parallel); each frame's float64 sum, in frame order. */
  normalImageLoss(args: {
    pixels: number;
    frames: number;
    targets: Float32Array[];
    masks: Uint8Array[];
    exclusion: Uint8Array;
    rendered: Float32Array;
    renderedStride: number;
    renderedOffset: number;
    deltaN: number;
    l2: boolean;
    k: number;
    grad: Float32Array;
    gradStride: number;
    gradOffset: number;
  }): number[];
  /** The silhouette term of B frames (in parallel); each frame's float64 sum, in frame order. */
  silhouetteImageLoss(args: {
    pixels: number;
    frames: number;
    foreground: Uint8Array[];
    validBackground: Uint8Array[];
    rendered: Float32Array;
    k: number;
    grad: Float32Array;
  }): number[];
  /** The scene's coverage pass; returns [numCovered, numSampled]. */
  sceneCoverage(args: {
    batch: number;
    size: number;
    rast: Float32Array;
    aux: Float32Array;
    auxChannels: number;
    texcChannel: number;
    eyeTriangle: Uint8Array;
    uniform: Float32Array;
    silhouette: boolean;
    covered: Int32Array;
    previousCovered: number;
    uvImages: Float32Array;
    color: Float32Array;
    sampled: Int32Array;
    texcSampled: Float32Array;
    eyeBoxes: Int32Array;
  }): [number, number];
  /** The texture-coordinate channels of the render's backward buffer at the covered pixels (scene.ts). */
  texcGradient(args: {
    g: Float32Array;
    gStride: number;
    texcOffset: number;
    covered: Int32Array;
    n: number;
    gu: Float32Array | null;
    guStride: number;
    guOffset: number;
    plusZero: boolean;
  }): void;
  /** The mirror regulariser's Gram matrix (native/src/tracker/mirror_gram.h). */
  mirrorGram(args: { A: Float32Array; K: number; n: number; n2: number; Q: Float64Array }): void;
  /** out[i] = Q[row0 + i, col0 : col0 + length] · x[:length], each sum from 0 in ascending order (mirror_gram.h). */
  mirrorRowDots(args: { Q: Float64Array; K: number; row0: number; rows: number; col0: number; length: number; x: Float64Array; out: Float64Array }): void;
  /** The UV correspondence term of B frames (uv-correspondence.ts); the terms' sum in frame and pair order. */
  uvCorrespondenceLoss(args: {
    size: number;
    frames: number;
    numVertices: number;
    valid: Int32Array;
    pixels: Int32Array[];
    dist2: Float32Array[];
    projected: Float32Array;
    depth: Float32Array | null;
    depthStride: number;
    depthOffset: number;
    deltaUv: number;
    distUv: number;
    offsetX: number;
    offsetY: number;
    margin: number;
    l2: boolean;
    gradScale: number;
    gradProjected: Float64Array;
  }): number;
  /** The render corners' depth and normal channels (scene.ts, writeCornerChannels). */
  cornerChannels(args: {
    frames: number;
    numVertices: number;
    cornerVertex: Int32Array;
    world: Float32Array;
    normals: Float32Array | null;
    cameraZ: number;
    attr: Float32Array;
    attrStride: number;
    depthChannel: number;
    normalChannel: number;
    gradAttr: Float32Array;
    gradStride: number;
    gradNormalChannel: number;
  }): void;
  /** The corners' normal gradients summed onto their vertices (scene.ts, gatherCornerNormals). */
  gatherCornerNormals(args: {
    frames: number;
    numVertices: number;
    cornerVertex: Int32Array;
    gradAttr: Float32Array;
    gradStride: number;
    gradNormalChannel: number;
    out: Float64Array;
  }): void;
  vertexNormals(args: { positions: Float32Array; frames: number; numVertices: number; faces: Int32Array; sums: Float64Array; out: Float32Array }): void;
  vertexNormalsBackward(args: {
    positions: Float32Array;
    frames: number;
    numVertices: number;
    faces: Int32Array;
    sums: Float64Array;
    gradNormals: Float64Array;
    gradSums: Float64Array;
    gradPositions: Float32Array;
  }): void;
}

export function pixelTerms(): PixelTermsNative {
  return nativeAddon() as unknown as PixelTermsNative;
}
