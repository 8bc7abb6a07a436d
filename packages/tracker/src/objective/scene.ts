// The tracking render of pixel3dmm-spec.md section 5 for a batch of frames sharing one camera, forward and
// backward:
//   world vertices -> clip (camera.ts) -> rasterize S×S
//   -> interpolate, in one pass over render corners (distinct vertex/UV pairs, see SceneTopology):
//                  (a) texture coordinates texc = (1-u, 1-v) of the UV atlas,
//                  (b) FLAME-space vertex normals of the neck-free mesh,
//                  (c) 0/1 vertex masks face, face∪eyes, eyes and the camera-space depth z_s
//   -> texture(silhouette, texc, bilinear, wrap) -> antialias -> fg.
// Outputs: uv images (1-texc_u, texc_v) = (u, 1-v) of the OBJ UV, background (1, 0) as in the original;
// FLAME-space normal images n_F; the masks and depth; fg.
//
// Normals: the original interpolates world-space normals of vertices_noneck (after R) and multiplies the image
// by Rᵀ. Rotation commutes with the cross products and the normalisation of vertexNormals, and interpolation is
// linear, so Rᵀ·interp(normals(R v + t)) = interp(normals(v)): we compute the normals of the FLAME-space
// neck-free vertices and interpolate those directly (and R then gets no gradient through n_F, as in the original
// where RᵀR = I).
//
// Images are row-major [B,S,S,C] with row 0 at the image top: the camera's projection flips y, so the
// rasterizer's row 0 (its bottom) is the image top (see @pixel3dmm/render camera.ts).
import type { FlameModel } from '@pixel3dmm/flame';
import {
  antialias,
  antialiasBackward,
  antialiasTopology,
  antialiasWorkBuffer,
  interpolate,
  interpolateRasterizeBackward,
  makeCamera,
  rasterize,
  texture,
  textureBackward,
  worldToClip,
  worldToClipBackward,
  CAMERA_POSITION,
  type Camera,
  type CameraGradient,
  type RastShape,
} from '@pixel3dmm/render';
import type { TrackingAssets } from './assets.js';
import { pixelTerms } from './pixel-terms-native.js';
import { strided, type StridedImage } from './strided-image.js';
import { vertexNormals, vertexNormalsBackward } from './vertex-normals.js';

/**
 * Layout of the one interpolated attribute (per render corner, see SceneTopology): texture coordinates (2),
 * FLAME-space normals (3), masks face, face∪eyes, eyes, and depth z_s. One interpolate pass gives them all, and
 * one backward pass over its first GRAD_CHANNELS channels gives the rast gradient of both the uv and the normal
 * images. `aux` below is this interleaved buffer: read masks and depth at pixel*AUX_CHANNELS + AUX_*.
 */
export const CH_TEXC = 0;
export const CH_NORMAL = 2;
export const AUX_FACE = 5;
export const AUX_FACE_EYES = 6;
export const AUX_EYES = 7;
export const AUX_DEPTH = 8;
export const AUX_CHANNELS = 9;
/** Channels with a gradient: texture coordinates and normals. */
export const GRAD_CHANNELS = 5;

/** What does not change between iterations: topology, UVs, masks, the silhouette texture. */
export interface SceneTopology {
  numVertices: number;
  faces: Int32Array;
  uvFaces: Int32Array;
  /**
   * Render corners: the distinct (vertex, UV index) pairs of the triangles' corners, so that per-vertex and
   * per-UV attributes share one index buffer (`cornerFaces`, triangle for triangle with `faces`). A UV seam
   * duplicates its vertex; per-vertex values are copied to every corner of the vertex, which interpolates
   * exactly as the vertex-indexed attribute would.
   */
  numCorners: number;
  cornerVertex: Int32Array;
  cornerFaces: Int32Array;
  /** [NC, 2] texture coordinates (1-u, 1-v) of the corners. */
  cornerTexc: Float32Array;
  /** antialiasTopology(faces). */
  opp: Int32Array;
  silhouette: Float32Array;
  silhouetteSize: number;
  /**
   * The silhouette texture's value at texc = (0, 0), what every background pixel samples (interpolate writes 0
   * there). The render zeroes the background only when this is not already 0.
   */
  silhouetteBackground: number;
  /** [NC, 3] masks face, face∪eyes, eyes of the corners. */
  cornerMasks: Float32Array;
  /**
   * [F] per triangle: the silhouette texture's value when it is one constant c over every texel the bilinear
   * lookups of the triangle's pixels can touch (their texture coordinates lie in the corners' bounding box), else
   * NaN. Most triangles lie wholly inside or outside the mask in UV space; their pixels need no lookup: a
   * lookup there returns exactly c (the float64 weights sum to 1 within a few ulps, which rounds to c in
   * float32) and has a texture-coordinate gradient of exactly +0 (every texel difference is 0).
   */
  silhouetteUniform: Float32Array;
  /** [F] 1 for a triangle with an eye corner (eyes mask ≠ 0): only its pixels can have eyes > 0. */
  eyeTriangle: Uint8Array;
}

export function sceneTopology(model: FlameModel, assets: TrackingAssets): SceneTopology {
  const V = model.numVertices;
  if (assets.numVertices !== V) throw new Error(`sceneTopology: the assets (${assets.source}) are for ${assets.numVertices} vertices, the model has ${V}`);
  if (assets.uvFaces.length !== model.faces.length) {
    throw new Error(`sceneTopology: the assets' UV faces (${assets.uvFaces.length / 3}) do not match the model's ${model.numFaces} triangles`);
  }
  const faces = Int32Array.from(model.faces);
  const NT = assets.cornerUvs.length / 2;
  const ids = new Map<number, number>();
  const cornerFaces = new Int32Array(faces.length);
  const vertexOf: number[] = [], uvOf: number[] = [];
  for (let k = 0; k < faces.length; k++) {
    const v = faces[k], t = assets.uvFaces[k];
    if (t < 0 || t >= NT) throw new Error(`sceneTopology: UV index ${t} of corner ${k} is outside the ${NT} UVs of the assets (${assets.source})`);
    const key = v * NT + t;
    let id = ids.get(key);
    if (id === undefined) {
      id = vertexOf.length;
      ids.set(key, id);
      vertexOf.push(v);
      uvOf.push(t);
    }
    cornerFaces[k] = id;
  }
  const NC = vertexOf.length;
  const cornerTexc = new Float32Array(2 * NC), cornerMasks = new Float32Array(3 * NC);
  const m = assets.vertexMasks;
  for (let c = 0; c < NC; c++) {
    cornerTexc[2 * c] = 1 - assets.cornerUvs[2 * uvOf[c]];
    cornerTexc[2 * c + 1] = 1 - assets.cornerUvs[2 * uvOf[c] + 1];
    const v = vertexOf[c];
    cornerMasks[3 * c] = m.face[v];
    cornerMasks[3 * c + 1] = m.faceEyes[v];
    cornerMasks[3 * c + 2] = m.eyes[v];
  }
  return {
    numVertices: V,
    faces,
    uvFaces: assets.uvFaces,
    numCorners: NC,
    cornerVertex: Int32Array.from(vertexOf),
    cornerFaces,
    cornerTexc,
    opp: antialiasTopology(faces, V),
    silhouette: assets.silhouette.data,
    silhouetteSize: assets.silhouette.size,
    silhouetteBackground: texture(assets.silhouette.data, { height: assets.silhouette.size, width: assets.silhouette.size, channels: 1 }, new Float32Array(2), 'wrap')[0],
    cornerMasks,
    silhouetteUniform: silhouetteUniform(cornerFaces, cornerTexc, assets.silhouette.data, assets.silhouette.size),
    eyeTriangle: Uint8Array.from({ length: cornerFaces.length / 3 }, (_, f) =>
      [0, 1, 2].some((k) => cornerMasks[3 * cornerFaces[3 * f + k] + 2] !== 0) ? 1 : 0,
    ),
  };
}

/**
 * SceneTopology.silhouetteUniform. The texture op (nvdiffrast's convention, wrap mode) reads, for texture
 * coordinates (s, t), the texels at columns floor(s·W - 0.5) + {0, 1} and rows floor(t·H - 0.5) + {0, 1}, wrapped.
 * An interpolated coordinate lies within the corners' range up to float32 rounding (a few 1e-7); the box
 * checked here is half a texel wider on every side.
 */
function silhouetteUniform(cornerFaces: Int32Array, cornerTexc: Float32Array, tex: Float32Array, size: number): Float32Array {
  const F = cornerFaces.length / 3;
  const out = new Float32Array(F);
  const wrap = (i: number) => ((i % size) + size) % size;
  for (let f = 0; f < F; f++) {
    let u0 = Infinity, u1 = -Infinity, v0 = Infinity, v1 = -Infinity;
    for (let k = 0; k < 3; k++) {
      const c = cornerFaces[3 * f + k], u = cornerTexc[2 * c], v = cornerTexc[2 * c + 1];
      u0 = Math.min(u0, u);
      u1 = Math.max(u1, u);
      v0 = Math.min(v0, v);
      v1 = Math.max(v1, v);
    }
    const i0 = Math.floor(u0 * size - 1), i1 = Math.floor(u1 * size) + 1;
    const j0 = Math.floor(v0 * size - 1), j1 = Math.floor(v1 * size) + 1;
    // A triangle wider than the texture (not a UV atlas triangle) is simply sampled.
    let value = i1 - i0 < size && j1 - j0 < size ? tex[wrap(j0) * size + wrap(i0)] : NaN;
    for (let j = j0; j <= j1 && value === value; j++) {
      const row = wrap(j) * size;
      for (let i = i0; i <= i1; i++) {
        if (!Object.is(tex[row + wrap(i)], value)) {
          value = NaN;
          break;
        }
      }
    }
    out[f] = value;
  }
  return out;
}

/** Which outputs a render needs (and so which gradients its backward pass can give). */
export interface SceneOptions {
  normals: boolean;
  silhouette: boolean;
}

/**
 * Buffers of one batch size and render size, reused across iterations. After `renderScene` the public
 * image fields hold the frame's outputs (valid until the next render with this workspace).
 */
export class SceneWorkspace {
  readonly rastShape: RastShape;
  readonly clip: Float32Array;
  readonly rast: Float32Array;
  /**
   * [B,S,S,AUX_CHANNELS] the interpolated attribute: texture coordinates (1-u, 1-v) at CH_TEXC, FLAME-space
   * normals n_F (not renormalised; only with options.normals) at CH_NORMAL, masks and depth at AUX_*; 0 on
   * the background.
   */
  readonly aux: Float32Array;
  /** [B,S,S,2] (u, 1-v) of the OBJ UV; (1, 0) on the background. */
  readonly uvImages: Float32Array;
  /**
   * The covered pixels (a triangle there) of the last render, ascending indices into [B,S,S]: the first
   * `numCovered` entries of `covered` (40-50% of a tracking frame at 256²). The per-pixel work that only
   * matters where a triangle is (uvImages, the silhouette colour and its gradient, the backward's
   * texture-coordinate and normal channels) runs over this list instead of every pixel.
   */
  readonly covered: Int32Array;
  numCovered = 0;
  /**
   * [B,4] per frame the box (x0, x1, y0, y1, inclusive; empty when x1 < x0) of the covered pixels on eye
   * triangles (SceneTopology.eyeTriangle): the eyes channel is 0 outside it.
   */
  readonly eyeBoxes: Int32Array;
  /**
   * The covered pixels whose silhouette colour needs a texture lookup (their triangle is not uniform, see
   * SceneTopology.silhouetteUniform), as positions in the covered list: the first `numSampled` entries of
   * `sampled`, with their texture coordinates contiguous in texcSampled [numSampled, 2] (the texture op's
   * input) and their colours in colorSampled (none after a render without the silhouette).
   */
  readonly sampled: Int32Array;
  numSampled = 0;
  readonly texcSampled: Float32Array;
  readonly colorSampled: Float32Array;
  /** [B,S,S] antialiased silhouette. */
  readonly fg: Float32Array;
  /** The antialias forward's silhouette-crossing records, reused by its backward (see AntialiasOptions.work). */
  readonly antialiasWork: Int32Array;
  readonly texColor: Float32Array;
  readonly vertexNormalsF32: Float32Array;
  readonly normalSums: Float64Array;
  readonly gradSums: Float64Array;
  /** [B, NC, AUX_CHANNELS] the attribute; [B, NC, GRAD_CHANNELS] its differentiable part for the backward. */
  readonly cornerAttr: Float32Array;
  readonly cornerGradAttr: Float32Array;
  readonly gradOut: Float32Array;
  /** Backward scratch, reused so that an iteration allocates nothing per pixel (see renderSceneBackward). */
  readonly gradClip: Float32Array;
  readonly gradCornerAttr: Float32Array;
  readonly gradTexColor: Float32Array;
  readonly gradColorSampled: Float32Array;
  readonly gradTexcSampled: Float32Array;
  readonly gradVertexNormals: Float64Array;
  readonly gradWorld: Float32Array;
  readonly gradNoNeck: Float32Array;
  camera: Camera;
  world: Float32Array | null = null;
  noNeck: Float32Array | null = null;
  options: SceneOptions = { normals: false, silhouette: false };

  constructor(readonly topology: SceneTopology, readonly batch: number, readonly size: number) {
    const B = batch, S = size, V = topology.numVertices, P = B * S * S, NC = topology.numCorners;
    this.rastShape = { batch: B, height: S, width: S };
    this.antialiasWork = antialiasWorkBuffer(this.rastShape);
    this.clip = new Float32Array(B * V * 4);
    this.rast = new Float32Array(P * 4);
    this.aux = new Float32Array(P * AUX_CHANNELS);
    this.uvImages = new Float32Array(P * 2);
    for (let i = 0; i < P; i++) this.uvImages[2 * i] = 1; // the background's (1, 0)
    this.covered = new Int32Array(P);
    this.eyeBoxes = new Int32Array(4 * B);
    this.sampled = new Int32Array(P);
    this.texcSampled = new Float32Array(P * 2);
    this.colorSampled = new Float32Array(P);
    this.fg = new Float32Array(P);
    this.texColor = new Float32Array(P);
    this.vertexNormalsF32 = new Float32Array(B * V * 3);
    this.normalSums = new Float64Array(B * V * 3);
    this.gradSums = new Float64Array(B * V * 3);
    this.cornerAttr = new Float32Array(B * NC * AUX_CHANNELS);
    this.cornerGradAttr = new Float32Array(B * NC * GRAD_CHANNELS);
    this.gradOut = new Float32Array(P * GRAD_CHANNELS);
    this.gradClip = new Float32Array(B * V * 4);
    this.gradCornerAttr = new Float32Array(B * NC * GRAD_CHANNELS);
    this.gradTexColor = new Float32Array(P);
    this.gradColorSampled = new Float32Array(P);
    this.gradTexcSampled = new Float32Array(P * 2);
    this.gradVertexNormals = new Float64Array(B * V * 3);
    this.gradWorld = new Float32Array(B * V * 3);
    this.gradNoNeck = new Float32Array(B * V * 3);
    this.camera = makeCamera(S);
    // Constant channels: texture coordinates and masks (normals and depth are written per render).
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < NC; c++) {
        const o = (b * NC + c) * AUX_CHANNELS, og = (b * NC + c) * GRAD_CHANNELS;
        this.cornerAttr[o + CH_TEXC] = this.cornerGradAttr[og + CH_TEXC] = topology.cornerTexc[2 * c];
        this.cornerAttr[o + CH_TEXC + 1] = this.cornerGradAttr[og + CH_TEXC + 1] = topology.cornerTexc[2 * c + 1];
        this.cornerAttr[o + AUX_FACE] = topology.cornerMasks[3 * c];
        this.cornerAttr[o + AUX_FACE_EYES] = topology.cornerMasks[3 * c + 1];
        this.cornerAttr[o + AUX_EYES] = topology.cornerMasks[3 * c + 2];
      }
    }
  }
}

/**
 * Forward render of B frames. `world` [B,V,3]: R v + t; `noNeck` [B,V,3]: the FLAME-space neck-free vertices
 * (needed with options.normals). The inputs are kept by reference for the backward pass.
 */
export function renderScene(
  ws: SceneWorkspace,
  camera: Camera,
  world: Float32Array,
  noNeck: Float32Array | null,
  options: SceneOptions,
): void {
  const { topology: top, batch: B, size: S } = ws;
  const V = top.numVertices, P = B * S * S, NC = top.numCorners;
  if (camera.size !== S) throw new Error(`renderScene: the camera is for size ${camera.size}, the workspace for ${S}`);
  if (world.length !== B * V * 3) throw new Error(`renderScene: world must be [${B}, ${V}, 3], got ${world.length} values`);
  if (options.normals && (!noNeck || noNeck.length !== B * V * 3)) throw new Error(`renderScene: normals need the neck-free vertices [${B}, ${V}, 3]`);
  ws.camera = camera;
  ws.world = world;
  ws.noNeck = options.normals ? noNeck : null;
  ws.options = { ...options };

  worldToClip(camera, world, ws.clip);
  rasterize(ws.clip, V, top.faces, B, S, S, ws.rast);

  if (options.normals) vertexNormals(noNeck!, B, V, top.faces, ws.normalSums, ws.vertexNormalsF32);
  writeCornerChannels(top, B, world, options.normals ? ws.vertexNormalsF32 : null, ws.cornerAttr, ws.cornerGradAttr);
  interpolate(ws.cornerAttr, { batch: B, vertices: NC, channels: AUX_CHANNELS }, ws.rast, ws.rastShape, top.cornerFaces, ws.aux);
  coveragePass(ws, options.silhouette);

  if (options.silhouette) {
    // Pixels of non-uniform triangles get their colour by a texture lookup (the others got theirs above).
    const texSize = top.silhouetteSize, m = ws.numSampled;
    if (m > 0) {
      texture(top.silhouette, { height: texSize, width: texSize, channels: 1 }, ws.texcSampled.subarray(0, 2 * m), 'wrap', ws.colorSampled.subarray(0, m));
      scatterSampled(ws.covered, ws.sampled, m, ws.colorSampled, ws.texColor);
    }
    antialias(ws.texColor, 1, ws.rast, ws.rastShape, ws.clip, V, top.faces, top.opp, ws.fg, { work: ws.antialiasWork });
  }
}

// The per-pixel and per-corner loops live in small functions of their own: V8 optimises each on its own
// stable types, whereas loops inlined in the orchestrating functions above and below were deoptimised on every
// call (and then ran interpreted).

/**
 * Per-frame corner channels: depth z_s = z_c = world z - camera z (the camera looks down -z from
 * CAMERA_POSITION) and, given `normals` [B,V,3], the vertex normals (also into the backward's attribute). Runs
 * natively (the corners in parallel), bit for bit writeCornerChannelsReference of testing.ts.
 */
export function writeCornerChannels(top: SceneTopology, B: number, world: Float32Array, normals: Float32Array | null, attr: Float32Array, gattr: Float32Array): void {
  pixelTerms().cornerChannels({
    frames: B,
    numVertices: top.numVertices,
    cornerVertex: top.cornerVertex,
    world,
    normals,
    cameraZ: CAMERA_POSITION[2],
    attr,
    attrStride: AUX_CHANNELS,
    depthChannel: AUX_DEPTH,
    normalChannel: CH_NORMAL,
    gradAttr: gattr,
    gradStride: GRAD_CHANNELS,
    gradNormalChannel: CH_NORMAL,
  });
}

/** out[covered[sampled[k]]] = values[k] for k < m. */
function scatterSampled(covered: Int32Array, sampled: Int32Array, m: number, values: Float32Array, out: Float32Array): void {
  for (let k = 0; k < m; k++) out[covered[sampled[k]]] = values[k];
}

/** out[k] = values[covered[sampled[k]]] for k < m. */
function gatherSampled(covered: Int32Array, sampled: Int32Array, m: number, values: Float32Array, out: Float32Array): void {
  for (let k = 0; k < m; k++) out[k] = values[covered[sampled[k]]];
}

/**
 * After rasterize + interpolate, one pass over the pixels (rast and aux read once): the covered list, the eye
 * boxes, uvImages (1 - texc_u, texc_v) at the covered pixels (the previous render's covered pixels reset to the
 * background's (1, 0) first: the image is rewritten in O(covered)), and with `silhouette` the colours: a covered
 * pixel's colour is its triangle's uniform value (SceneTopology.silhouetteUniform), or, where there is none (or
 * the texture coordinates are not finite: the lookup's 0 then), the pixel joins ws.sampled with its texture
 * coordinates for a texture lookup. The background's texc is 0, a texture corner (0 in uv_mask_eyes); its
 * colour is set to 0 explicitly, so that a texture with a non-zero corner cannot paint the background.
 * Runs natively (native/src/tracker/pixel_terms.cc), bit for bit coveragePassReference of testing.ts.
 */
export function coveragePass(ws: SceneWorkspace, silhouette: boolean): void {
  const top = ws.topology;
  [ws.numCovered, ws.numSampled] = pixelTerms().sceneCoverage({
    batch: ws.batch,
    size: ws.size,
    rast: ws.rast,
    aux: ws.aux,
    auxChannels: AUX_CHANNELS,
    texcChannel: CH_TEXC,
    eyeTriangle: top.eyeTriangle,
    uniform: top.silhouetteUniform,
    silhouette,
    covered: ws.covered,
    previousCovered: ws.numCovered,
    uvImages: ws.uvImages,
    color: ws.texColor,
    sampled: ws.sampled,
    texcSampled: ws.texcSampled,
    eyeBoxes: ws.eyeBoxes,
  });
}


/**
 * The texture-coordinate channels of the backward buffer g [P, GRAD_CHANNELS] at the covered pixels: the
 * uv-image gradient gu (u = 1 - texc_u, 1 - v = texc_v; it may already lie in g), 0 where it is not given. With
 * `plusZero` (a silhouette gradient, whose texture-coordinate gradient is +0 at the pixels that were not
 * sampled) +0 is added: -0 becomes +0, as when the texture's +0 gradient was added in float32. The sampled
 * pixels' texture gradients are added afterwards (addSampledTexcGradient). Runs natively, the covered pixels in
 * parallel, bit for bit writeTexcGradientReference of testing.ts.
 */
export function writeTexcGradient(g: Float32Array, covered: Int32Array, n: number, gu: StridedImage | null, plusZero: boolean): void {
  pixelTerms().texcGradient({
    g,
    gStride: GRAD_CHANNELS,
    texcOffset: CH_TEXC,
    covered,
    n,
    gu: gu ? gu.data : null,
    guStride: gu ? gu.stride : 0,
    guOffset: gu ? gu.offset : 0,
    plusZero,
  });
}

/**
 * Adds the texture's gradient gTexc [m,2] of the sampled pixels onto the texture-coordinate channels of g (one
 * float32 rounding of the float32 sum: the bits of -gu + gt).
 */
function addSampledTexcGradient(g: Float32Array, covered: Int32Array, sampled: Int32Array, m: number, gTexc: Float32Array): void {
  for (let k = 0; k < m; k++) {
    const o = covered[sampled[k]] * GRAD_CHANNELS + CH_TEXC;
    g[o] += gTexc[2 * k];
    g[o + 1] += gTexc[2 * k + 1];
  }
}

/** The normal channels of the backward buffer g at the covered pixels: the normal-image gradient gn (nothing to do when it already lies there), else 0. */
function writeNormalGradient(g: Float32Array, covered: Int32Array, n: number, gn: StridedImage | null): void {
  if (gn && gn.data === g && gn.stride === GRAD_CHANNELS && gn.offset === CH_NORMAL) return;
  if (gn) {
    const d = gn.data, ds = gn.stride, dof = gn.offset;
    for (let j = 0; j < n; j++) {
      const p = covered[j], o = p * GRAD_CHANNELS + CH_NORMAL, q = p * ds + dof;
      g[o] = d[q];
      g[o + 1] = d[q + 1];
      g[o + 2] = d[q + 2];
    }
  } else {
    for (let j = 0; j < n; j++) {
      const o = covered[j] * GRAD_CHANNELS + CH_NORMAL;
      g[o] = g[o + 1] = g[o + 2] = 0;
    }
  }
}

/**
 * Corner normal gradients (channels CH_NORMAL of ga [B,NC,GRAD_CHANNELS]) summed onto their vertices gv [B,V,3]
 * (float64, corner order). Runs natively (the frames in parallel), bit for bit gatherCornerNormalsReference of
 * testing.ts.
 */
export function gatherCornerNormals(top: SceneTopology, B: number, ga: Float32Array, gv: Float64Array): void {
  pixelTerms().gatherCornerNormals({
    frames: B,
    numVertices: top.numVertices,
    cornerVertex: top.cornerVertex,
    gradAttr: ga,
    gradStride: GRAD_CHANNELS,
    gradNormalChannel: CH_NORMAL,
    out: gv,
  });
}

/**
 * Gradients of a scalar loss with respect to the render's outputs (null = none). The uv and normal image
 * gradients may be dense arrays or strided images; given as sceneGradientImages(ws) (a loss wrote them there)
 * they are used in place, without a copy.
 */
export interface SceneOutputGradients {
  /** [B,S,S,2] on uvImages. */
  uvImages: Float32Array | StridedImage | null;
  /** [B,S,S,3] on the normal images (the CH_NORMAL channels of aux). */
  normalImages: Float32Array | StridedImage | null;
  /** [B,S,S] on fg. */
  fg: Float32Array | null;
}

/**
 * Where a loss can write its gradient with respect to the uv and normal images for the next
 * renderSceneBackward on this workspace: the interleaved buffer the backward pass hands to interpolate's.
 */
export function sceneGradientImages(ws: SceneWorkspace): { uvImages: StridedImage; normalImages: StridedImage } {
  return { uvImages: { data: ws.gradOut, stride: GRAD_CHANNELS, offset: CH_TEXC }, normalImages: { data: ws.gradOut, stride: GRAD_CHANNELS, offset: CH_NORMAL } };
}

export interface SceneGradients {
  /** [B,V,3] on the world vertices (workspace buffer). */
  world: Float32Array;
  /** [B,V,3] on the neck-free FLAME-space vertices (workspace buffer); null without normals. */
  noNeck: Float32Array | null;
  camera: CameraGradient;
}

/** Backward of the last renderScene on this workspace. */
export function renderSceneBackward(ws: SceneWorkspace, grads: SceneOutputGradients): SceneGradients {
  const { topology: top, batch: B, size: S } = ws;
  const V = top.numVertices, P = B * S * S, NC = top.numCorners;
  if (!ws.world) throw new Error('renderSceneBackward: no forward render on this workspace');
  if (grads.normalImages && (!ws.options.normals || !ws.noNeck)) throw new Error('renderSceneBackward: normal gradient without a normal render');
  if (grads.fg && !ws.options.silhouette) throw new Error('renderSceneBackward: fg gradient without a silhouette render');
  const world = ws.world;
  const gu = grads.uvImages ? strided(grads.uvImages, 2) : null, gn = grads.normalImages ? strided(grads.normalImages, 3) : null;

  // The silhouette's chain first: antialias -> texture gives a clip-space gradient and a texture-coordinate
  // gradient that joins the uv-image one below. The texture's backward runs where its forward did, at the
  // sampled pixels: elsewhere the colour is a constant (the background's 0, a uniform triangle's value), whose
  // texture-coordinate gradient is +0 (and a background pixel's would reach nothing anyway: interpolateBackward
  // ignores pixels without a triangle).
  let gradClip: Float32Array | null = null;
  const n = ws.numCovered, m = ws.numSampled;
  if (grads.fg) {
    antialiasBackward(ws.texColor, 1, ws.rast, ws.rastShape, ws.clip, V, top.faces, grads.fg, top.opp, {}, { gradColor: ws.gradTexColor, gradPos: ws.gradClip }, {
      work: ws.antialiasWork,
    });
    gradClip = ws.gradClip;
    const texSize = top.silhouetteSize;
    if (m > 0) {
      gatherSampled(ws.covered, ws.sampled, m, ws.gradTexColor, ws.gradColorSampled);
      textureBackward(top.silhouette, { height: texSize, width: texSize, channels: 1 }, ws.texcSampled.subarray(0, 2 * m), ws.gradColorSampled.subarray(0, m), 'wrap', { uv: true }, { gradUv: ws.gradTexcSampled.subarray(0, 2 * m) });
    }
  }

  // The differentiable channels' gradient at the covered pixels (interpolateBackward reads no other): texture
  // coordinates get the uv-image gradient plus the texture's; the normals get the normal-image gradient. Every
  // channel of a covered pixel is written (0 where no term reaches it), so the buffer needs no clearing; a
  // gradient already in place (see sceneGradientImages) is used as it lies.
  const g = ws.gradOut;
  writeTexcGradient(g, ws.covered, n, gu, grads.fg !== null);
  if (grads.fg) addSampledTexcGradient(g, ws.covered, ws.sampled, m, ws.gradTexcSampled);
  writeNormalGradient(g, ws.covered, n, gn);

  let gradNoNeck: Float32Array | null = null;
  if (gu || grads.fg || gn) {
    // interpolate's and rasterize's backward passes in one (the bits of the two calls): the corner attributes'
    // gradient, and the rasterizer's position gradient added onto the antialias one in place (the same float32
    // sums).
    interpolateRasterizeBackward(
      ws.cornerGradAttr,
      { batch: B, vertices: NC, channels: GRAD_CHANNELS },
      ws.rast,
      ws.rastShape,
      top.cornerFaces,
      g,
      ws.clip,
      V,
      top.faces,
      { attr: !!gn },
      { gradAttr: ws.gradCornerAttr, gradPos: ws.gradClip, accumulatePos: gradClip !== null },
    );
    gradClip = ws.gradClip;
    if (gn) {
      gatherCornerNormals(top, B, ws.gradCornerAttr, ws.gradVertexNormals);
      gradNoNeck = ws.gradNoNeck;
      gradNoNeck.fill(0);
      vertexNormalsBackward(ws.noNeck!, B, V, top.faces, ws.normalSums, ws.gradVertexNormals, ws.gradSums, gradNoNeck);
    }
  }

  ws.gradWorld.fill(0);
  let camera: CameraGradient = { focal: 0, pp: [0, 0] };
  if (gradClip) camera = worldToClipBackward(ws.camera, world, gradClip, ws.gradWorld).camera;
  return { world: ws.gradWorld, noNeck: gradNoNeck, camera };
}

/** A forward-only render of one frame for visualisation (spec 8): FLAME-space normals, face mask, depth. */
export interface FrameRender {
  size: number;
  /** [S,S,3] FLAME-space normals n_F (0 on the background). */
  normals: Float32Array;
  /** [S,S] rendered FLAME "face" mask > 0. */
  faceMask: Uint8Array;
  /** [S,S] 1 where a triangle covers the pixel. */
  coverage: Uint8Array;
  /** [S,S] camera-space depth z_s (negative; 0 on the background). */
  depth: Float32Array;
}

/** One batch-1 workspace per topology and size for renderFrame (its outputs are copied out). */
const frameWorkspaces = new WeakMap<SceneTopology, Map<number, SceneWorkspace>>();

/**
 * Renders one frame: `world` [V,3] = R v + t, `noNeck` [V,3] the FLAME-space neck-free vertices. The returned
 * arrays are fresh; the render buffers are reused across calls.
 */
export function renderFrame(topology: SceneTopology, camera: Camera, world: Float32Array, noNeck: Float32Array): FrameRender {
  const S = camera.size;
  let perTopology = frameWorkspaces.get(topology);
  if (!perTopology) frameWorkspaces.set(topology, (perTopology = new Map()));
  let ws = perTopology.get(S);
  if (!ws) perTopology.set(S, (ws = new SceneWorkspace(topology, 1, S)));
  renderScene(ws, camera, world, noNeck, { normals: true, silhouette: false });
  const faceMask = new Uint8Array(S * S), coverage = new Uint8Array(S * S), depth = new Float32Array(S * S), normals = new Float32Array(3 * S * S);
  for (let i = 0; i < S * S; i++) {
    const o = i * AUX_CHANNELS;
    faceMask[i] = ws.aux[o + AUX_FACE] > 0 ? 1 : 0;
    coverage[i] = ws.rast[4 * i + 3] > 0 ? 1 : 0;
    depth[i] = ws.aux[o + AUX_DEPTH];
    normals[3 * i] = ws.aux[o + CH_NORMAL];
    normals[3 * i + 1] = ws.aux[o + CH_NORMAL + 1];
    normals[3 * i + 2] = ws.aux[o + CH_NORMAL + 2];
  }
  return { size: S, normals, faceMask, coverage, depth };
}
