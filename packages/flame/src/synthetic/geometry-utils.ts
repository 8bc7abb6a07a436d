// Small mesh helpers shared by the synthetic-head modules.

/** Area-weighted vertex normals (unit length; zero for unused vertices). */
export function vertexNormals(positions: ArrayLike<number>, faces: ArrayLike<number>, numVertices?: number): Float64Array {
  const V = numVertices ?? Math.floor(positions.length / 3);
  const n = new Float64Array(V * 3);
  for (let f = 0; f < faces.length; f += 3) {
    const a = faces[f];
    const b = faces[f + 1];
    const c = faces[f + 2];
    const e1x = positions[3 * b] - positions[3 * a];
    const e1y = positions[3 * b + 1] - positions[3 * a + 1];
    const e1z = positions[3 * b + 2] - positions[3 * a + 2];
    const e2x = positions[3 * c] - positions[3 * a];
    const e2y = positions[3 * c + 1] - positions[3 * a + 1];
    const e2z = positions[3 * c + 2] - positions[3 * a + 2];
    const nx = e1y * e2z - e1z * e2y;
    const ny = e1z * e2x - e1x * e2z;
    const nz = e1x * e2y - e1y * e2x;
    for (const v of [a, b, c]) {
      if (v >= V) continue;
      n[3 * v] += nx;
      n[3 * v + 1] += ny;
      n[3 * v + 2] += nz;
    }
  }
  for (let v = 0; v < V; v++) {
    const l = Math.hypot(n[3 * v], n[3 * v + 1], n[3 * v + 2]);
    if (l > 0) {
      n[3 * v] /= l;
      n[3 * v + 1] /= l;
      n[3 * v + 2] /= l;
    }
  }
  return n;
}

/** Map from an undirected edge key (a * V + b, a < b) to the faces that use it. */
export function edgeFaces(faces: ArrayLike<number>, V: number): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (let f = 0; f < faces.length / 3; f++) {
    for (let e = 0; e < 3; e++) {
      const a = faces[3 * f + e];
      const b = faces[3 * f + ((e + 1) % 3)];
      const k = a < b ? a * V + b : b * V + a;
      const l = m.get(k);
      if (l) l.push(f);
      else m.set(k, [f]);
    }
  }
  return m;
}

/** Undirected edges as a flat [a0, b0, a1, b1, ...] list (a < b). */
export function uniqueEdges(faces: ArrayLike<number>, V: number): Uint32Array {
  const seen = new Set<number>();
  const out: number[] = [];
  for (let f = 0; f < faces.length; f += 3) {
    for (let e = 0; e < 3; e++) {
      const a = faces[f + e];
      const b = faces[f + ((e + 1) % 3)];
      const lo = Math.min(a, b);
      const hi = Math.max(a, b);
      const k = lo * V + hi;
      if (!seen.has(k)) {
        seen.add(k);
        out.push(lo, hi);
      }
    }
  }
  return Uint32Array.from(out);
}

/** Normals averaged over mesh neighbourhoods (a few Jacobi passes), renormalised. */
export function smoothNormals(normals: Float64Array, faces: ArrayLike<number>, V: number, passes: number): Float64Array {
  const edges = uniqueEdges(faces, V);
  let cur = normals.slice(0, V * 3);
  for (let p = 0; p < passes; p++) {
    const next = cur.slice();
    for (let e = 0; e < edges.length; e += 2) {
      const a = edges[e];
      const b = edges[e + 1];
      for (let d = 0; d < 3; d++) {
        next[3 * a + d] += cur[3 * b + d];
        next[3 * b + d] += cur[3 * a + d];
      }
    }
    for (let v = 0; v < V; v++) {
      const l = Math.hypot(next[3 * v], next[3 * v + 1], next[3 * v + 2]);
      if (l > 0) for (let d = 0; d < 3; d++) next[3 * v + d] /= l;
    }
    cur = next;
  }
  return cur;
}
