// The tracker's native per-pixel passes (native/src/tracker/pixel_terms.h), bound from the kernels' addon. Callers
// (dense.ts, scene.ts) check every argument first; the binding re-checks lengths so that nothing out of bounds
// can reach native code.
import { nativeAddon } from '@pixel3dmm/kernels';

export interface PixelTermsNative {
  /** One frame of the dense UV term; returns args.sum plus the frame's sum. */
  uvImageLoss(args: {
    pixels: number;
    target: Float32Array;
    mask: Uint8Array;
    rendered: Float32Array;
    l2: boolean;
    k: number;
    grad: Float32Array;
    gradStride: number;
    gradOffset: number;
    sum: number;
  }): number;
  /** One frame of the normal term; returns args.sum plus the frame's sum. */
  normalImageLoss(args: {
    pixels: number;
    target: Float32Array;
    mask: Uint8Array;
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
    sum: number;
  }): number;
  /** One frame of the silhouette term; returns args.sum plus the frame's sum. */
  silhouetteImageLoss(args: {
    pixels: number;
    foreground: Uint8Array;
    validBackground: Uint8Array;
    rendered: Float32Array;
    k: number;
    grad: Float32Array;
    sum: number;
  }): number;
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
  /** The mirror regulariser's Gram matrix (native/src/tracker/mirror_gram.h). */
  mirrorGram(args: { A: Float32Array; K: number; n: number; n2: number; Q: Float64Array }): void;
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
