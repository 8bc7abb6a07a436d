// Filling polygons into a class map: even-odd rule, sampled at pixel centres (x + 0.5, y + 0.5), so two
// polygons that share an edge never both claim a pixel on it.

/** Paint `value` into `map` (width x height) inside the polygon given as flat [x0, y0, x1, y1, ...]. */
export function fillPolygon(map: Uint8Array, width: number, height: number, poly: ArrayLike<number>, value: number): void {
  const n = poly.length / 2;
  if (n < 3) return;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (let i = 0; i < n; i++) {
    ymin = Math.min(ymin, poly[2 * i + 1]);
    ymax = Math.max(ymax, poly[2 * i + 1]);
  }
  const y0 = Math.max(0, Math.ceil(ymin - 0.5));
  const y1 = Math.min(height - 1, Math.floor(ymax - 0.5));
  const xs: number[] = [];
  for (let y = y0; y <= y1; y++) {
    const sy = y + 0.5;
    xs.length = 0;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const ya = poly[2 * i + 1];
      const yb = poly[2 * j + 1];
      if ((ya > sy) !== (yb > sy)) {
        const xa = poly[2 * i];
        const xb = poly[2 * j];
        xs.push(xa + ((sy - ya) * (xb - xa)) / (yb - ya));
      }
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const xa = Math.max(0, Math.ceil(xs[k] - 0.5));
      const xb = Math.min(width - 1, Math.floor(xs[k + 1] - 0.5));
      if (xb >= xa) map.fill(value, y * width + xa, y * width + xb + 1);
    }
  }
}

/** Convex hull (counter-clockwise, monotone chain) of flat [x0, y0, x1, y1, ...] points, as a flat polygon. */
export function convexHull(pts: ArrayLike<number>): Float64Array {
  const n = pts.length / 2;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => pts[2 * a] - pts[2 * b] || pts[2 * a + 1] - pts[2 * b + 1]);
  const cross = (o: number, a: number, b: number) =>
    (pts[2 * a] - pts[2 * o]) * (pts[2 * b + 1] - pts[2 * o + 1]) - (pts[2 * a + 1] - pts[2 * o + 1]) * (pts[2 * b] - pts[2 * o]);
  const lower: number[] = [];
  for (const i of idx) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], i) <= 0) lower.pop();
    lower.push(i);
  }
  const upper: number[] = [];
  for (let k = idx.length - 1; k >= 0; k--) {
    const i = idx[k];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], i) <= 0) upper.pop();
    upper.push(i);
  }
  const hull = lower.slice(0, -1).concat(upper.slice(0, -1));
  const out = new Float64Array(hull.length * 2);
  hull.forEach((i, k) => {
    out[2 * k] = pts[2 * i];
    out[2 * k + 1] = pts[2 * i + 1];
  });
  return out;
}
