// Meshes and the projection shared by the rasterizer's tests. The projection is written out here rather than
// taken from camera.ts so that the kernel tests state their own clip-space inputs.

export type Vec3 = [number, number, number];

/** OpenGL perspective of a camera-space point (camera looks down -z): focal f in NDC units, near n, far fa. */
export function project(p: readonly number[], f: number, n = 0.1, fa = 50): [number, number, number, number] {
  const A = -(fa + n) / (fa - n);
  const Bc = (-2 * fa * n) / (fa - n);
  return [f * p[0], f * p[1], A * p[2] + Bc, -p[2]];
}

/**
 * A closed polyhedron inscribed in the unit sphere: the poles (0, ±1, 0) and nv - 1 rings of nu vertices
 * (longitudes offset by 0.1 rad so no vertex sits on an axis), every triangle wound the same way.
 */
export function uvSphere(nu: number, nv: number): { points: Vec3[]; tri: number[] } {
  const points: Vec3[] = [[0, 1, 0]];
  for (let j = 1; j < nv; j++) {
    const th = (Math.PI * j) / nv;
    for (let i = 0; i < nu; i++) {
      const ph = (2 * Math.PI * i) / nu + 0.1;
      points.push([Math.sin(th) * Math.cos(ph), Math.cos(th), Math.sin(th) * Math.sin(ph)]);
    }
  }
  points.push([0, -1, 0]);
  const last = points.length - 1;
  const ring = (j: number, i: number): number => 1 + (j - 1) * nu + (i % nu);
  const tri: number[] = [];
  for (let i = 0; i < nu; i++) tri.push(0, ring(1, i + 1), ring(1, i));
  for (let j = 1; j + 1 < nv; j++) {
    for (let i = 0; i < nu; i++) tri.push(ring(j, i), ring(j, i + 1), ring(j + 1, i + 1), ring(j, i), ring(j + 1, i + 1), ring(j + 1, i));
  }
  for (let i = 0; i < nu; i++) tri.push(last, ring(nv - 1, i), ring(nv - 1, i + 1));
  return { points, tri };
}

/** Clip-space vertex with NDC (x, y, z) and the given w (so x/w etc. are the given values up to rounding). */
export function clipOf(x: number, y: number, z: number, w: number): number[] {
  return [x * w, y * w, z * w, w];
}

/** Triangles of a grid of nx x ny vertices (row-major), CCW for increasing x / y; `diag` picks each quad's diagonal. */
export function gridTris(nx: number, ny: number, diag: (i: number, j: number) => boolean): Int32Array {
  const t: number[] = [];
  for (let j = 0; j + 1 < ny; j++) {
    for (let i = 0; i + 1 < nx; i++) {
      const a = j * nx + i;
      const b = a + 1;
      const c = a + nx;
      const d = c + 1;
      if (diag(i, j)) t.push(a, b, d, a, d, c);
      else t.push(a, b, c, b, d, c);
    }
  }
  return new Int32Array(t);
}
