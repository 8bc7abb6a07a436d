// The tracker's objective (pixel3dmm-spec.md 4-7): for a batch of frames, FLAME (with the neck-free pass for the
// normals) -> world (R v + t) -> the original's point projection and the tracking render -> every loss term of
// section 6 -> the gradient of their plain sum for every variable group of every frame, and for the shared
// shape, focal length and principal point.
//
// Buffers are kept per (batch size, render size) in a BatchWorkspace and reused across evaluations; the FLAME
// tape is recycled through `reuse`. Sums are float64; the native kernels and the renderer work in float32.
import { FLAME_JOINTS, type FlameKernel, rotationMatrices, rotationVjp, type FlameForwardResult } from '@pixel3dmm/kernels';
import { flameKernelOf, type FlameModel } from '@pixel3dmm/flame';
import { makeCamera, projectPoints, projectPointsBackward, type Camera } from '@pixel3dmm/render';
import type { TrackerConfig } from '../config.js';
import type {
  Correspondences,
  FrameData,
  FrameVariables,
  ObjectiveRequest,
  ObjectiveResult,
  TrackingObjectiveApi,
  TrackingVariables,
} from '../types.js';
import type { TrackingAssets } from './assets.js';
import { eyeExclusion, normalLoss, silhouetteLoss, uvPixelLoss } from './losses/dense.js';
import {
  ALL_68,
  closureLoss,
  EYELID_LOWER,
  EYELID_UPPER,
  EYES_68,
  landmarkLoss,
  landmarkTargets,
  MOUTH_68,
  MOUTH_LOWER,
  MOUTH_UPPER,
  vertexLandmarkLoss,
  WFLW_IRIS_96,
  WFLW_IRIS_97,
} from './losses/landmarks.js';
import { eyeSymmetry, IDENTITY_6D, MirrorQuadratic, smoothness, squaredNormPerFrame } from './losses/regularizers.js';
import { correspondenceQueries, findCorrespondences, uvCorrespondenceLoss, UvGrid } from './losses/uv-correspondence.js';
import { rigid, rigidBackward } from './rigid.js';
import {
  AUX_CHANNELS,
  AUX_DEPTH,
  AUX_EYES,
  CH_NORMAL,
  renderScene,
  renderSceneBackward,
  sceneGradientImages,
  sceneTopology,
  SceneWorkspace,
  type SceneTopology,
} from './scene.js';

export interface TrackingObjectiveOptions {
  /** Where FLAME runs (the renderer is CPU-only). */
  device?: 'cpu';
  /** β_MICA, the shape prior of the w_shape term; zeros (the ignore_mica behaviour) when absent. */
  shapePrior?: Float64Array;
}

/** Landmarks of the FLAME embedding used here (17 contour + 51 static). */
const NUM_LANDMARKS = 68;

/** Weights of every term for one request (0 = off, and its work skipped). */
interface Weights {
  uv: number;
  uvL2: boolean;
  uvVisibility: boolean;
  uvPixel: number;
  normal: number;
  sil: number;
  lmkEyes: number;
  lmkLid: number;
  lmkIris: number;
  lmkMouth: number;
  camLmk: number;
  track: boolean;
}

/** Buffers of one (batch size, render size). */
class BatchWorkspace {
  readonly pose: Float64Array;
  readonly expression: Float64Array;
  readonly eyelids: Float64Array;
  readonly landmarkRotation: Float64Array;
  readonly rotation6d: Float64Array;
  readonly world: Float32Array;
  readonly worldLmk: Float32Array;
  readonly proj: Float32Array;
  readonly projLmk: Float32Array;
  readonly gradProj: Float64Array;
  readonly gradProjLmk: Float64Array;
  readonly gradProjF32: Float32Array;
  readonly gradProjLmkF32: Float32Array;
  readonly gradWorld: Float32Array;
  readonly gradWorldLmk: Float32Array;
  readonly cotVertices: Float32Array;
  readonly cotLandmarks: Float32Array;
  readonly gradFg: Float32Array;
  readonly exclusion: Uint8Array;
  readonly rowScratch: Int32Array;
  readonly scene: SceneWorkspace;
  flame: FlameForwardResult | undefined;

  constructor(top: SceneTopology, numExpression: number, readonly batch: number, readonly size: number) {
    const B = batch, V = top.numVertices, P = B * size * size, L = NUM_LANDMARKS;
    this.pose = new Float64Array(B * FLAME_JOINTS * 6);
    this.expression = new Float64Array(B * numExpression);
    this.eyelids = new Float64Array(B * 2);
    this.landmarkRotation = new Float64Array(B * 9);
    this.rotation6d = new Float64Array(B * 6);
    this.world = new Float32Array(B * V * 3);
    this.worldLmk = new Float32Array(B * L * 3);
    this.proj = new Float32Array(B * V * 3);
    this.projLmk = new Float32Array(B * L * 3);
    this.gradProj = new Float64Array(B * V * 3);
    this.gradProjLmk = new Float64Array(B * L * 3);
    this.gradProjF32 = new Float32Array(B * V * 3);
    this.gradProjLmkF32 = new Float32Array(B * L * 3);
    this.gradWorld = new Float32Array(B * V * 3);
    this.gradWorldLmk = new Float32Array(B * L * 3);
    this.cotVertices = new Float32Array(B * V * 3);
    this.cotLandmarks = new Float32Array(B * L * 3);
    this.gradFg = new Float32Array(P);
    this.exclusion = new Uint8Array(P);
    this.rowScratch = new Int32Array(size * size);
    this.scene = new SceneWorkspace(top, B, size);
  }
}

function zerosLike(v: FrameVariables): FrameVariables {
  return {
    expression: new Float64Array(v.expression.length),
    jaw: new Float64Array(6),
    neck: new Float64Array(6),
    eyes: new Float64Array(12),
    eyelids: new Float64Array(2),
    rotation: new Float64Array(6),
    translation: new Float64Array(3),
  };
}

/** Milliseconds spent in each stage of the last evaluate() (for profiling; not part of the result). */
export interface ObjectiveTimings {
  flameForward: number;
  render: number;
  losses: number;
  renderBackward: number;
  flameBackward: number;
  total: number;
}

export class TrackingObjective implements TrackingObjectiveApi {
  readonly kernel: FlameKernel;
  /** Stage timings of the last evaluate(). */
  readonly lastTimings: ObjectiveTimings = { flameForward: 0, render: 0, losses: 0, renderBackward: 0, flameBackward: 0, total: 0 };
  readonly topology: SceneTopology;
  private readonly shapePrior: Float64Array;
  private readonly workspaces = new Map<string, BatchWorkspace>();
  private readonly grids = new Map<number, UvGrid>();
  private mirrorQuadratic: MirrorQuadratic | null = null;
  private readonly queries: Float64Array;
  private readonly valid: Int32Array;

  constructor(
    readonly model: FlameModel,
    readonly assets: TrackingAssets,
    readonly config: TrackerConfig,
    options: TrackingObjectiveOptions = {},
  ) {
    if (options.device !== undefined && options.device !== 'cpu') throw new Error(`TrackingObjective: device must be 'cpu', got '${String(options.device)}'`);
    if (!model.landmarks) throw new Error(`TrackingObjective: the FLAME model (${model.source}) has no landmark embedding`);
    this.kernel = flameKernelOf(model); // shared by every objective of the model (made once: ~0.2 s)
    if (this.kernel.numLandmarks !== NUM_LANDMARKS) {
      throw new Error(`TrackingObjective: the FLAME model's (${model.source}) landmark embedding gives ${this.kernel.numLandmarks} landmarks, expected ${NUM_LANDMARKS} (17 contour + 51 static)`);
    }
    this.topology = sceneTopologyOf(model, assets);
    const prior = options.shapePrior ?? new Float64Array(model.numShape);
    if (!(prior instanceof Float64Array) || prior.length > model.numShape) {
      throw new Error(`TrackingObjective: shapePrior must be a Float64Array of at most ${model.numShape} values`);
    }
    this.shapePrior = new Float64Array(model.numShape);
    this.shapePrior.set(prior);
    if (config.stricter_uv_mask) {
      if (!assets.uvValidVerticesStrict) {
        throw new Error(`TrackingObjective: stricter_uv_mask needs uv_valid_verty_noEyes.npy, which the assets (${assets.source}) lack`);
      }
      this.valid = assets.uvValidVerticesStrict;
    } else this.valid = assets.uvValidVertices;
    this.queries = correspondenceQueries(assets.vertexUvs, this.valid);
  }

  /** Vertices of the UV-correspondence loss (the order of Correspondences entries). */
  get validVertices(): Int32Array {
    return this.valid;
  }

  /**
   * Nearest UV pixel of each valid vertex in the frame's UV map (spec 6.1; once per frame). Without a UV map
   * every distance is +Infinity, so no correspondence passes delta_uv. (The variables do not enter: the
   * original matches the query UVs of the template against the predicted map.)
   */
  correspondences(frame: FrameData, _variables?: TrackingVariables, _position?: number): Correspondences {
    const J = this.valid.length;
    if (!frame.uv) return { pixels: new Int32Array(2 * J), dist2: new Float32Array(J).fill(Infinity) };
    checkFrame(frame, 'correspondences');
    let grid = this.grids.get(frame.size);
    if (!grid) {
      grid = new UvGrid(frame.size);
      this.grids.set(frame.size, grid);
    }
    return findCorrespondences(grid, frame.uv, this.queries);
  }

  /** Drops the cached per-(batch, size) buffers (about 7 MB per frame of the batch at 256²). */
  releaseWorkspaces(): void {
    this.workspaces.clear();
  }

  private workspace(B: number, S: number): BatchWorkspace {
    const key = `${B}x${S}`;
    let ws = this.workspaces.get(key);
    if (!ws) {
      ws = new BatchWorkspace(this.topology, this.model.numExpression, B, S);
      this.workspaces.set(key, ws);
    }
    return ws;
  }

  private weights(request: ObjectiveRequest): Weights {
    const c = this.config, o = request.options;
    const hasUv = request.frames.every((f) => f.uv !== null);
    const hasNormals = request.frames.every((f) => f.normals !== null);
    const track = o.phase === 'track';
    const lm = track && !c.no_lm;
    return {
      track,
      uv: o.phase === 'camera-uv' ? (hasUv ? c.w_cam_uv : 0) : track && hasUv ? c.uv_map_super : 0,
      uvL2: track && c.uv_l2,
      uvVisibility: track && c.occ_filter,
      uvPixel: track && hasUv ? c.uv_map_super : 0,
      normal: track && hasNormals ? c.normal_super : 0,
      sil: track ? c.sil_super * o.silhouetteScale : 0,
      lmkEyes: lm ? c.w_lmks * 5 : 0,
      lmkLid: lm ? c.w_lmks_lid * 500 : 0,
      lmkIris: lm ? c.w_lmks_iris * 50 : 0,
      lmkMouth: lm && c.use_mouth_lmk ? c.w_lmks_mouth : 0,
      camLmk: o.phase === 'camera-landmarks' ? c.w_cam_lmk : 0,
    };
  }

  evaluate(request: ObjectiveRequest): ObjectiveResult {
    const { variables, batch, frames, options } = request;
    const B = batch.length;
    if (B < 1) throw new Error('TrackingObjective.evaluate: the batch is empty');
    if (frames.length !== B) throw new Error(`TrackingObjective.evaluate: ${frames.length} frames for a batch of ${B}`);
    if (request.correspondences.length !== B) {
      throw new Error(`TrackingObjective.evaluate: ${request.correspondences.length} correspondences for a batch of ${B}`);
    }
    if (!['camera-landmarks', 'camera-uv', 'track'].includes(options.phase)) {
      throw new Error(`TrackingObjective.evaluate: options.phase must be 'camera-landmarks', 'camera-uv' or 'track', got '${String(options.phase)}'`);
    }
    const S = frames[0].size;
    frames.forEach((f, i) => {
      if (f.size !== S) throw new Error(`TrackingObjective.evaluate: frame ${i} has size ${f.size}, frame 0 ${S}`);
      checkFrame(f, 'evaluate');
    });
    const vars = batch.map((p) => {
      const v = variables.frames[p];
      if (!v) throw new Error(`TrackingObjective.evaluate: batch position ${p} has no variables (${variables.frames.length} frames)`);
      checkFrameVariables(v, p, this.model.numExpression);
      return v;
    });
    checkShared(variables.shared, this.model.numShape);
    const cfg = this.config;
    const model = this.model;
    const V = model.numVertices, nE = model.numExpression, L = NUM_LANDMARKS;
    const w = this.weights(request);
    const ws = this.workspace(B, S);
    const shared = variables.shared;
    const camera: Camera = makeCamera(S, shared.focal, shared.pp);
    const terms: Record<string, number> = {};
    const tm = this.lastTimings;
    const t0 = performance.now();

    // ---- FLAME ----------------------------------------------------------------------------------------------
    const needLandmarks = w.lmkEyes > 0 || w.lmkLid > 0 || w.lmkMouth > 0 || w.camLmk > 0;
    const needRender = w.track && (w.uvPixel > 0 || w.normal > 0 || w.sil > 0 || (w.uv > 0 && w.uvVisibility));
    // The camera warm-up's landmark half needs no vertex but the landmarks: no world vertices, no projection.
    const needVertices = needRender || w.uv > 0 || w.lmkIris > 0;
    const needNormals = w.normal > 0;
    ws.expression.fill(0);
    ws.eyelids.fill(0);
    for (let b = 0; b < B; b++) {
      const v = vars[b];
      if (v.expression.length > nE) throw new Error(`TrackingObjective.evaluate: frame ${batch[b]} has ${v.expression.length} expression coefficients, the model ${nE}`);
      ws.expression.set(v.expression, b * nE);
      const o = b * FLAME_JOINTS * 6;
      ws.pose.set(IDENTITY_6D, o);
      ws.pose.set(v.neck, o + 6);
      ws.pose.set(cfg.use_flame2023 ? IDENTITY_6D : v.jaw, o + 12); // FLAME2023 has no jaw: forced to I
      ws.pose.set(v.eyes, o + 18);
      if (w.track) ws.eyelids.set(v.eyelids, 2 * b); // the camera init runs FLAME without eyelids
      ws.rotation6d.set(v.rotation, 6 * b);
    }
    const R = rotationMatrices(ws.rotation6d);
    // The contour landmarks follow the INVERSE head rotation during optimisation (spec 4.2 step 8).
    for (let b = 0; b < B; b++) for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) ws.landmarkRotation[9 * b + 3 * r + c] = R[9 * b + 3 * c + r];
    const fl = this.kernel.forward({
      batch: B,
      shape: shared.shape,
      expression: ws.expression,
      pose: ws.pose,
      eyelids: ws.eyelids,
      landmarkRotation: ws.landmarkRotation,
      withNoNeck: needNormals,
      landmarks: needLandmarks,
      reuse: ws.flame,
    });
    ws.flame = fl;
    const t1 = performance.now();

    // ---- World and point projection -----------------------------------------------------------------------
    if (needVertices) {
      rigid(R, vars, fl.vertices, V, ws.world);
      projectPoints(camera, ws.world, ws.proj);
    }
    if (needLandmarks) {
      rigid(R, vars, fl.landmarks!, L, ws.worldLmk);
      projectPoints(camera, ws.worldLmk, ws.projLmk);
    }
    ws.gradProj.fill(0);
    ws.gradProjLmk.fill(0);

    // ---- Render and per-pixel terms -------------------------------------------------------------------------
    const sc = ws.scene;
    if (needRender) renderScene(sc, camera, ws.world, needNormals ? fl.verticesNoNeck! : null, { normals: needNormals, silhouette: w.sil > 0 });
    const t2 = performance.now();
    const dims = { size: S, batch: B };
    // The uv and normal terms write their image gradients straight into the render's backward buffer.
    const gradImages = sceneGradientImages(sc);
    if (w.uvPixel > 0) {
      terms.uv_pixel = uvPixelLoss(dims, frames.map((f) => f.uv!), frames.map((f) => f.masks.uv), sc.uvImages, cfg.uv_l2, w.uvPixel, gradImages.uvImages);
    }
    if (w.normal > 0) {
      const P = S * S;
      for (let b = 0; b < B; b++) {
        const e = sc.eyeBoxes, box = { x0: e[4 * b], x1: e[4 * b + 1], y0: e[4 * b + 2], y1: e[4 * b + 3] };
        eyeExclusion(S, cfg.eye_dilation, sc.aux, AUX_CHANNELS, AUX_EYES, b * P, ws.rowScratch, ws.exclusion.subarray(b * P, (b + 1) * P), box);
      }
      terms.normal = normalLoss(
        dims,
        frames.map((f) => f.normals!),
        frames.map((f) => f.masks.normal),
        ws.exclusion,
        sc.aux,
        AUX_CHANNELS,
        CH_NORMAL,
        cfg.delta_n,
        cfg.normal_l2,
        w.normal,
        gradImages.normalImages,
      );
    }
    if (w.sil > 0) {
      terms.sil = silhouetteLoss(dims, frames.map((f) => f.masks.foreground), frames.map((f) => f.masks.validBackground), sc.fg, w.sil, ws.gradFg);
    }

    // ---- Sparse terms ---------------------------------------------------------------------------------------
    if (w.uv > 0) {
      const value = uvCorrespondenceLoss({
        size: S,
        batch: B,
        numVertices: V,
        valid: this.valid,
        correspondences: request.correspondences,
        projected: ws.proj,
        depth: w.uvVisibility ? { data: sc.aux, stride: AUX_CHANNELS, offset: AUX_DEPTH } : null,
        deltaUv: cfg.delta_uv,
        distUv: cfg.dist_uv,
        targetOffset: cfg.uv_target_half_pixel ? [-0.5, 0.5] : undefined,
        l2: w.uvL2,
        weight: w.uv,
        gradProjected: ws.gradProj,
      });
      terms[w.track ? 'uv' : 'cam_uv'] = value;
    }
    const targets = needLandmarks || w.lmkIris > 0 ? landmarkTargets(frames) : null;
    if (needLandmarks) {
      const t = targets!;
      if (w.camLmk > 0) terms.cam_lmk = landmarkLoss(S, t, ws.projLmk, ALL_68, w.camLmk, ws.gradProjLmk);
      if (w.lmkEyes > 0) terms.lmk_eyes = landmarkLoss(S, t, ws.projLmk, EYES_68, w.lmkEyes, ws.gradProjLmk);
      if (w.lmkLid > 0) terms.lmk_lid = closureLoss(S, t, ws.projLmk, EYELID_UPPER, EYELID_LOWER, w.lmkLid, ws.gradProjLmk);
      if (w.lmkMouth > 0) {
        terms.lmk_mouth = landmarkLoss(S, t, ws.projLmk, MOUTH_68, w.lmkMouth * 0.25, ws.gradProjLmk);
        terms.lmk_mouth_closure = closureLoss(S, t, ws.projLmk, MOUTH_UPPER, MOUTH_LOWER, w.lmkMouth * 2.5, ws.gradProjLmk);
      }
    }
    if (w.lmkIris > 0) {
      const t = targets!;
      terms.lmk_iris_96 = vertexLandmarkLoss(S, t, ws.proj, V, this.assets.iris.wflw96, WFLW_IRIS_96, w.lmkIris, ws.gradProj);
      terms.lmk_iris_97 = vertexLandmarkLoss(S, t, ws.proj, V, this.assets.iris.wflw97, WFLW_IRIS_97, w.lmkIris, ws.gradProj);
    }

    // ---- Backward: render, projection, rigid transform ------------------------------------------------------
    const t3 = performance.now();
    let gFocal = 0, gPpX = 0, gPpY = 0;
    let gradNoNeck: Float32Array | null = null;
    if (needRender && (w.uvPixel > 0 || w.normal > 0 || w.sil > 0)) {
      const g = renderSceneBackward(sc, {
        uvImages: w.uvPixel > 0 ? gradImages.uvImages : null,
        normalImages: w.normal > 0 ? gradImages.normalImages : null,
        fg: w.sil > 0 ? ws.gradFg : null,
      });
      ws.gradWorld.set(g.world);
      gradNoNeck = g.noNeck;
      gFocal += g.camera.focal;
      gPpX += g.camera.pp[0];
      gPpY += g.camera.pp[1];
    } else ws.gradWorld.fill(0);
    if (needVertices) {
      ws.gradProjF32.set(ws.gradProj); // float64 -> float32, rounded to nearest as an element-wise store
      const cp = projectPointsBackward(camera, ws.world, ws.gradProjF32, ws.gradWorld).camera;
      gFocal += cp.focal;
      gPpX += cp.pp[0];
      gPpY += cp.pp[1];
    }
    if (needLandmarks) {
      ws.gradProjLmkF32.set(ws.gradProjLmk);
      ws.gradWorldLmk.fill(0);
      const cl = projectPointsBackward(camera, ws.worldLmk, ws.gradProjLmkF32, ws.gradWorldLmk).camera;
      gFocal += cl.focal;
      gPpX += cl.pp[0];
      gPpY += cl.pp[1];
    }
    const gradR = new Float64Array(9 * B);
    const grads = vars.map(zerosLike);
    if (needVertices) rigidBackward(R, fl.vertices, ws.gradWorld, V, B, ws.cotVertices, gradR, grads);
    if (needLandmarks) rigidBackward(R, fl.landmarks!, ws.gradWorldLmk, L, B, ws.cotLandmarks, gradR, grads);

    // ---- FLAME and rotation backward ------------------------------------------------------------------------
    const t4 = performance.now();
    const wantShape = options.wantShape ?? true;
    const fg = fl.vjp({
      vertices: needVertices ? ws.cotVertices : undefined,
      verticesNoNeck: gradNoNeck ?? undefined,
      landmarks: needLandmarks ? ws.cotLandmarks : undefined,
      wantShape,
    });
    const gRot = rotationVjp(ws.rotation6d, gradR);
    for (let b = 0; b < B; b++) {
      const g = grads[b], o = b * FLAME_JOINTS * 6;
      for (let k = 0; k < 6; k++) {
        g.rotation[k] += gRot[6 * b + k];
        g.neck[k] += fg.pose[o + 6 + k];
        if (!cfg.use_flame2023) g.jaw[k] += fg.pose[o + 12 + k];
        g.eyes[k] += fg.pose[o + 18 + k];
        g.eyes[6 + k] += fg.pose[o + 24 + k];
      }
      for (let k = 0; k < g.expression.length; k++) g.expression[k] += fg.expression[b * nE + k];
      if (w.track) {
        g.eyelids[0] += fg.eyelids[2 * b];
        g.eyelids[1] += fg.eyelids[2 * b + 1];
      }
    }
    const gShape = new Float64Array(shared.shape.length);
    if (fg.shape) for (let k = 0; k < gShape.length; k++) gShape[k] += fg.shape[k];

    const t5 = performance.now();
    // ---- Regularisers and smoothness ------------------------------------------------------------------------
    const gPp: [number, number] = [gPpX, gPpY];
    terms.reg_pp = cfg.w_pp * (shared.pp[0] ** 2 + shared.pp[1] ** 2);
    gPp[0] += 2 * cfg.w_pp * shared.pp[0];
    gPp[1] += 2 * cfg.w_pp * shared.pp[1];
    if (w.track) this.regularisers(vars, grads, shared.shape, wantShape ? gShape : null, terms);
    if (w.track && options.smoothness) this.smoothnessTerms(vars, grads, terms);

    let total = 0;
    for (const k of Object.keys(terms)) total += terms[k];
    const t6 = performance.now();
    tm.flameForward = t1 - t0;
    tm.render = t2 - t1;
    tm.losses = t3 - t2 + (t6 - t5);
    tm.renderBackward = t4 - t3;
    tm.flameBackward = t5 - t4;
    tm.total = t6 - t0;
    return { total, terms, gradient: { shared: { shape: gShape, focal: gFocal, pp: gPp }, frames: grads } };
  }

  /** The regularisers' values into terms and their gradients into grads and gShape (null: shape frozen, no shape gradient). */
  private regularisers(vars: FrameVariables[], grads: FrameVariables[], shape: Float64Array, gShape: Float64Array | null, terms: Record<string, number>): void {
    const c = this.config;
    const I = IDENTITY_6D as unknown as number[];
    const pick = (k: keyof FrameVariables) => vars.map((v) => v[k]);
    const pickG = (k: keyof FrameVariables) => grads.map((v) => v[k]);
    if (c.w_exp !== 0) terms.reg_exp = squaredNormPerFrame(pick('expression'), null, c.w_exp, pickG('expression'));
    if (c.w_jaw !== 0) terms.reg_jaw = squaredNormPerFrame(pick('jaw'), I, c.w_jaw, pickG('jaw'));
    if (c.w_neck !== 0) terms.reg_neck = squaredNormPerFrame(pick('neck'), I, c.w_neck, pickG('neck'));
    if (c.w_eyes_sym !== 0) terms.reg_eyes_sym = eyeSymmetry(pick('eyes'), c.w_eyes_sym, pickG('eyes'));
    if (c.w_eyes_reg !== 0) {
      terms.reg_eyes =
        squaredNormPerFrame(pick('eyes'), I, c.w_eyes_reg, pickG('eyes'), 0, 6) + squaredNormPerFrame(pick('eyes'), I, c.w_eyes_reg, pickG('eyes'), 6, 12);
    }
    // (Without a shape gradient the two shape norms still give their values; their gradient goes to a scratch row.)
    const gs = gShape ?? new Float64Array(shape.length);
    if (c.w_shape !== 0) terms.reg_shape = squaredNormPerFrame([shape], this.shapePrior.subarray(0, shape.length), c.w_shape, [gs]);
    if (c.w_shape_general !== 0) terms.reg_shape_general = squaredNormPerFrame([shape], null, c.w_shape_general, [gs]);
    if (c.w_mirror !== 0) {
      this.mirrorQuadratic ??= mirrorQuadraticOf(this.model, this.assets.mirror);
      terms.reg_mirror = this.mirrorQuadratic.evaluate(shape, pick('expression'), c.w_mirror, gShape, pickG('expression'));
    }
  }

  private smoothnessTerms(vars: FrameVariables[], grads: FrameVariables[], terms: Record<string, number>): void {
    const c = this.config, m = c.reg_smooth_mult;
    const groups: [string, keyof FrameVariables, number][] = [
      ['smooth_exp', 'expression', c.w_smooth_exp],
      ['smooth_eyes', 'eyes', c.w_smooth_eyes],
      ['smooth_eyelids', 'eyelids', c.w_smooth_eyelids],
      ['smooth_jaw', 'jaw', c.w_smooth_jaw],
      ['smooth_neck', 'neck', c.w_smooth_neck],
      ['smooth_R', 'rotation', c.w_smooth_R],
      ['smooth_t', 'translation', c.w_smooth_t],
    ];
    for (const [name, key, weight] of groups) {
      if (weight * m === 0) continue;
      terms[name] = smoothness(
        vars.map((v) => v[key]),
        weight * m,
        grads.map((g) => g[key]),
      );
    }
  }
}

/**
 * The scene topology (corner tables, the silhouette texture's uniform triangles: ~40 ms for FLAME) is shared by
 * every objective of the same model and assets; nothing writes into it.
 */
const topologyCache = new WeakMap<FlameModel, WeakMap<TrackingAssets, SceneTopology>>();
function sceneTopologyOf(model: FlameModel, assets: TrackingAssets): SceneTopology {
  let perModel = topologyCache.get(model);
  if (!perModel) topologyCache.set(model, (perModel = new WeakMap()));
  let topology = perModel.get(assets);
  if (!topology) perModel.set(assets, (topology = sceneTopology(model, assets)));
  return topology;
}

/** The mirror term's precomputation is shared by every objective of the same model and mirror index. */
const mirrorCache = new WeakMap<FlameModel, WeakMap<Int32Array, MirrorQuadratic>>();
function mirrorQuadraticOf(model: FlameModel, mirror: Int32Array): MirrorQuadratic {
  let perModel = mirrorCache.get(model);
  if (!perModel) mirrorCache.set(model, (perModel = new WeakMap()));
  let mq = perModel.get(mirror);
  if (!mq) perModel.set(mirror, (mq = new MirrorQuadratic(model, mirror)));
  return mq;
}

const GROUP_LENGTHS: Record<Exclude<keyof FrameVariables, 'expression'>, number> = {
  jaw: 6, neck: 6, eyes: 12, eyelids: 2, rotation: 6, translation: 3,
};

/** Every group must be a Float64Array of its length with finite values (messages name frame and group). */
function checkFrameVariables(v: FrameVariables, position: number, numExpression: number): void {
  const check = (name: string, a: unknown, n: number, exact: boolean) => {
    if (!(a instanceof Float64Array) || (exact ? a.length !== n : a.length > n)) {
      throw new Error(`TrackingObjective.evaluate: frame ${position}: '${name}' must be a Float64Array of ${exact ? '' : 'at most '}${n} values, got ${ArrayBuffer.isView(a) ? `${a.constructor.name}(${(a as Float64Array).length})` : String(a)}`);
    }
    for (let i = 0; i < a.length; i++) {
      if (!Number.isFinite(a[i])) throw new Error(`TrackingObjective.evaluate: frame ${position}: '${name}'[${i}] is ${a[i]}, expected a finite number`);
    }
  };
  check('expression', v.expression, numExpression, false);
  for (const [k, n] of Object.entries(GROUP_LENGTHS)) check(k, v[k as keyof FrameVariables], n, true);
}

function checkShared(s: TrackingVariables['shared'], numShape: number): void {
  if (!(s.shape instanceof Float64Array) || s.shape.length > numShape) {
    throw new Error(`TrackingObjective.evaluate: shared 'shape' must be a Float64Array of at most ${numShape} values`);
  }
  if (!Number.isFinite(s.focal) || s.focal <= 0) throw new Error(`TrackingObjective.evaluate: shared 'focal' must be a positive number, got ${s.focal}`);
  if (!Array.isArray(s.pp) || s.pp.length !== 2 || !s.pp.every(Number.isFinite)) {
    throw new Error(`TrackingObjective.evaluate: shared 'pp' must be two finite numbers, got ${String(s.pp)}`);
  }
}

/** Checks a frame's array sizes against its render size (messages name the field). */
function checkFrame(f: FrameData, where: string): void {
  const S = f.size, P = S * S;
  const bad = (field: string, expected: string, got: unknown) => {
    throw new Error(`TrackingObjective.${where}: frame ${f.index}: ${field} must be ${expected}, got ${got}`);
  };
  if (!Number.isInteger(S) || S < 1) bad('size', 'a positive integer', S);
  if (f.uv && (!(f.uv instanceof Float32Array) || f.uv.length !== 2 * P)) bad('uv', `a Float32Array [${S},${S},2]`, f.uv.length);
  if (f.normals && (!(f.normals instanceof Float32Array) || f.normals.length !== 3 * P)) bad('normals', `a Float32Array [${S},${S},3]`, f.normals.length);
  for (const k of ['uv', 'normal', 'foreground', 'validBackground'] as const) {
    const m = f.masks?.[k];
    if (!m || m.length !== P) bad(`masks.${k}`, `a Uint8Array [${S},${S}]`, m ? m.length : m);
  }
  if (!f.landmarks98 || f.landmarks98.length !== 196) bad('landmarks98', 'a Float32Array [98,2]', f.landmarks98?.length);
  if (!f.landmarkValid || f.landmarkValid.length !== 98) bad('landmarkValid', 'a Uint8Array [98]', f.landmarkValid?.length);
}
