// Camera matrices of a tracked frame, in the conventions users ask for (spec 5, 8). The camera itself is
// @pixel3dmm/render's (camera.ts); this only re-expresses it.
//
// - OpenGL world-to-camera E = [I | (0,0,-1)] (x right, y up, looking down -z): the fixed tracking camera.
// - OpenCV world-to-camera = diag(1,-1,-1) E (x right, y down, looking down +z), with K = opencvK: a point
//   projects to (fx x/z + cx, fy y/z + cy). Note the original's half-pixel convention (camera.ts): the rendered
//   pixel whose centre is at integer column c covers x = c + 0.5 in these coordinates.
// - Head-centric (scripts/viz_head_centric_cameras.py): with A_neck = joint_transforms[1], the head is fixed
//   (v_h = A_neck^-1 v) and the camera moves: E_h = E [R|t] A_neck (OpenGL), and diag(1,-1,-1) E_h (OpenCV).
// All 4x4 matrices are row-major and act on column vectors.
import { makeCamera, opencvK, projectionMatrix, viewMatrix } from '@pixel3dmm/render';

export type Mat4 = Float64Array;

export function matmul4(a: ArrayLike<number>, b: ArrayLike<number>): Mat4 {
  const out = new Float64Array(16);
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) {
    let s = 0;
    for (let k = 0; k < 4; k++) s += a[4 * r + k] * b[4 * k + c];
    out[4 * r + c] = s;
  }
  return out;
}

/** OpenGL camera axes -> OpenCV camera axes (flip y and z). */
const GL_TO_CV = Float64Array.of(1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1);

export function openglToOpencv(w2cGl: ArrayLike<number>): Mat4 {
  return matmul4(GL_TO_CV, w2cGl);
}

/** [R|t] as a 4x4 (R row-major 3x3). */
export function rigid4(R: ArrayLike<number>, t: ArrayLike<number>): Mat4 {
  return Float64Array.of(R[0], R[1], R[2], t[0], R[3], R[4], R[5], t[1], R[6], R[7], R[8], t[2], 0, 0, 0, 1);
}

export interface SequenceCamera {
  image_size: [number, number];
  /** Focal length as a fraction of the image size (f_px = focal_length * size). */
  focal_length: number;
  principal_point: [number, number];
  K_opencv: number[];
  projection_opengl: number[];
  world_to_camera_opengl: number[];
  world_to_camera_opencv: number[];
}

export function sequenceCamera(size: number, focal: number, pp: readonly [number, number]): SequenceCamera {
  const cam = makeCamera(size, focal, pp);
  const E = viewMatrix();
  return {
    image_size: [size, size],
    focal_length: focal,
    principal_point: [pp[0], pp[1]],
    K_opencv: [...opencvK(cam)],
    projection_opengl: [...projectionMatrix(cam)],
    world_to_camera_opengl: [...E],
    world_to_camera_opencv: [...openglToOpencv(E)],
  };
}

/** Head-centric world-to-camera (OpenGL and OpenCV) for one frame: E [R|t] A_neck. */
export function headCentricCamera(R: ArrayLike<number>, t: ArrayLike<number>, neckTransform: ArrayLike<number>): { opengl: Mat4; opencv: Mat4 } {
  const opengl = matmul4(matmul4(viewMatrix(), rigid4(R, t)), neckTransform);
  return { opengl, opencv: openglToOpencv(opengl) };
}
