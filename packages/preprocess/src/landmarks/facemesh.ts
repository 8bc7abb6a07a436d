// Dense landmarks: MediaPipe FaceMesh (468 points) and Iris (5 points per eye) as TFJS graph models, with
// MediaPipe's region-of-interest rules. The output has MediaPipe's "refined" 478-point order: 0..467 the
// mesh, 468..472 the iris (centre, then 4 on its rim) of the eye whose corners are 33/133 (image-left in an
// unmirrored photo, the subject's right eye), 473..477 the iris of the eye with corners 362/263.
//
// ROI rules: from a detection, a square of 1.5 x the box side centred on the box and rotated so the
// eye line is horizontal; from the previous frame's mesh (tracking), a square of 1.5 x the mesh's extent
// in that rotated frame, rotated by the line 33 -> 263. Eye crops: 2.3 x the eye-corner distance, same
// rotation; the iris model sees a left eye of the subject, so the subject's right eye is fed mirrored.
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { warpToTensor, type Affine, type RgbImage } from '../image.js';
import { loadGraphModelFile, tf } from '../tfjs.js';
import { PreprocessError } from '../errors.js';
import type { FaceDetection } from '../detect/blazeface.js';

export const MESH_POINTS = 468;
export const REFINED_POINTS = 478;
const MESH_SIZE = 192;
const IRIS_SIZE = 64;

/** A rotated square in frame pixels. */
export interface Roi {
  cx: number;
  cy: number;
  side: number;
  /** Angle of the crop's x axis in the image, radians (0 = upright). */
  angle: number;
}

export interface MeshResult {
  /** 478 x [x, y, z] in frame pixels (z in the mesh's own scale, relative). */
  points: Float32Array;
  /** The mesh network's face-presence probability. */
  faceScore: number;
  roi: Roi;
}

/** Output pixel (continuous) of a size x size crop -> frame point. */
export function roiAffine(roi: Roi, size: number, mirror = false): Affine {
  const k = roi.side / size;
  const cos = Math.cos(roi.angle) * k;
  const sin = Math.sin(roi.angle) * k;
  const mx = mirror ? -1 : 1;
  // src = c + R * (mx*(u - size/2), v - size/2)
  const a = cos * mx;
  const b = -sin;
  const c = sin * mx;
  const d = cos;
  return { a, b, c, d, e: roi.cx - (a + b) * (size / 2), f: roi.cy - (c + d) * (size / 2) };
}

export function roiFromDetection(det: FaceDetection): Roi {
  const [l, r] = det.keypoints;
  return { cx: det.x + det.w / 2, cy: det.y + det.h / 2, side: 1.5 * Math.max(det.w, det.h), angle: Math.atan2(r[1] - l[1], r[0] - l[0]) };
}

export function roiFromMesh(points: Float32Array): Roi {
  const angle = Math.atan2(points[263 * 3 + 1] - points[33 * 3 + 1], points[263 * 3] - points[33 * 3]);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  let u0 = Infinity, u1 = -Infinity, v0 = Infinity, v1 = -Infinity;
  for (let i = 0; i < MESH_POINTS; i++) {
    const x = points[i * 3];
    const y = points[i * 3 + 1];
    const u = cos * x + sin * y;
    const v = -sin * x + cos * y;
    u0 = Math.min(u0, u); u1 = Math.max(u1, u);
    v0 = Math.min(v0, v); v1 = Math.max(v1, v);
  }
  const uc = (u0 + u1) / 2;
  const vc = (v0 + v1) / 2;
  return { cx: cos * uc - sin * vc, cy: sin * uc + cos * vc, side: 1.5 * Math.max(u1 - u0, v1 - v0), angle };
}

export class FaceMeshLandmarker {
  private constructor(
    private readonly mesh: GraphModel,
    private readonly iris: GraphModel,
  ) {}

  static async load(meshJson: string, irisJson: string): Promise<FaceMeshLandmarker> {
    const mesh = await loadGraphModelFile(meshJson);
    const iris = await loadGraphModelFile(irisJson);
    const shape = (m: GraphModel) => JSON.stringify(m.inputs[0]?.shape ?? []);
    // The named outputs live in the signature (the graph's own nodes are Identity_*).
    const named = Object.keys((mesh.modelSignature as { outputs?: Record<string, unknown> }).outputs ?? {});
    const problem = !/^\[(-1|1),192,192,3\]$/.test(shape(mesh)) || !named.includes('output_mesh') || !named.includes('output_faceflag')
      ? new PreprocessError(meshJson, `not MediaPipe FaceMesh: expected input [1,192,192,3] and outputs output_mesh, output_faceflag; got input ${shape(mesh)}, outputs ${named.join(', ') || 'unnamed'}`)
      : !/^\[(-1|1|2),64,64,3\]$/.test(shape(iris))
        ? new PreprocessError(irisJson, `not MediaPipe Iris: expected input [N,64,64,3], got ${shape(iris)}`)
        : null;
    if (problem) {
      mesh.dispose();
      iris.dispose();
      throw problem;
    }
    return new FaceMeshLandmarker(mesh, iris);
  }

  /** Run mesh + iris on one ROI of a frame. */
  async run(img: RgbImage, roi: Roi): Promise<MeshResult> {
    const m = roiAffine(roi, MESH_SIZE);
    const input = warpToTensor(img, m, MESH_SIZE, MESH_SIZE, 1 / 255, 0);
    const [meshT, flagT] = tf.tidy(() => this.mesh.execute(tf.tensor4d(input, [1, MESH_SIZE, MESH_SIZE, 3]), ['output_mesh', 'output_faceflag']) as tf.Tensor[]);
    const raw = (await meshT.data()) as Float32Array;
    const faceScore = ((await flagT.data()) as Float32Array)[0];
    tf.dispose([meshT, flagT]);
    const points = new Float32Array(REFINED_POINTS * 3);
    for (let i = 0; i < MESH_POINTS; i++) {
      const u = raw[i * 3];
      const v = raw[i * 3 + 1];
      points[i * 3] = m.a * u + m.b * v + m.e;
      points[i * 3 + 1] = m.c * u + m.d * v + m.f;
      points[i * 3 + 2] = raw[i * 3 + 2] * (roi.side / MESH_SIZE);
    }
    await this.refineIris(img, points, roi.angle);
    return { points, faceScore, roi };
  }

  /** Eye crops around 33/133 (mirrored) and 362/263, one batch of two, iris centres + rims into 468..477. */
  private async refineIris(img: RgbImage, points: Float32Array, angle: number): Promise<void> {
    const eyes = [
      { corners: [33, 133], mirror: true, out: 468 },
      { corners: [362, 263], mirror: false, out: 473 },
    ];
    const input = new Float32Array(2 * IRIS_SIZE * IRIS_SIZE * 3);
    const affines: Affine[] = [];
    eyes.forEach((eye, e) => {
      const [p, q] = eye.corners;
      const x0 = points[p * 3], y0 = points[p * 3 + 1], x1 = points[q * 3], y1 = points[q * 3 + 1];
      const roi: Roi = { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, side: 2.3 * Math.hypot(x1 - x0, y1 - y0), angle };
      const m = roiAffine(roi, IRIS_SIZE, eye.mirror);
      affines.push(m);
      warpToTensor(img, m, IRIS_SIZE, IRIS_SIZE, 1 / 255, 0, input.subarray(e * IRIS_SIZE * IRIS_SIZE * 3, (e + 1) * IRIS_SIZE * IRIS_SIZE * 3));
    });
    const outT = tf.tidy(() => this.iris.execute(tf.tensor4d(input, [2, IRIS_SIZE, IRIS_SIZE, 3])) as tf.Tensor);
    const out = (await outT.data()) as Float32Array;
    tf.dispose(outT);
    const per = out.length / 2; // 228 = (71 contour + 5 iris) x 3
    eyes.forEach((eye, e) => {
      const m = affines[e];
      for (let k = 0; k < 5; k++) {
        const o = e * per + (71 + k) * 3;
        const u = out[o];
        const v = out[o + 1];
        points[(eye.out + k) * 3] = m.a * u + m.b * v + m.e;
        points[(eye.out + k) * 3 + 1] = m.c * u + m.d * v + m.f;
        // Iris depth from the model is unreliable; use the mean depth of the eye corners.
        points[(eye.out + k) * 3 + 2] = (points[eye.corners[0] * 3 + 2] + points[eye.corners[1] * 3 + 2]) / 2;
      }
    });
  }

  dispose(): void {
    this.mesh.dispose();
    this.iris.dispose();
  }
}
