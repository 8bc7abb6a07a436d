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
