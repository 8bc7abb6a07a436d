// The networks predict a UV and a normal at every pixel of the crop, not only where the face is: just outside the
// head's outline their outputs continue the face's values smoothly. The synthetic maps are rendered, so they
// stop at the mesh's edge; `extendBeyondCoverage` continues them for a few pixels. This matters where the
// tracker looks past the outline: a segmentation that is a pixel or two too large (the noise levels' dilation)
// puts background pixels into the UV and normal masks, and the 512 -> S bicubic resize mixes the pixels next
// to the outline into the edge pixels. Left at 0 there, those pixels would pull the fit (the dense UV term
// against a UV of 0 next to the face); continued, they agree with the mesh.
/**
 * Extends `values` [size*size*channels] beyond `covered` [size*size] by `width` rings of 4-neighbours, in
 * place. A pixel of ring r is the mean, over its neighbours a in ring < r, of the linear extrapolation
 * 2 a - b (b: the pixel beyond a in the same direction, if it is filled; otherwise a itself).
 * Returns the filled mask (covered plus the rings).
 */
export function extendBeyondCoverage(values: Float32Array, channels: number, covered: Uint8Array, size: number, width: number): Uint8Array {
  const P = size * size;
  if (values.length !== P * channels || covered.length !== P) throw new RangeError(`extendBeyondCoverage: expected ${P} pixels of ${channels} channels`);
  const filled = covered.slice();
  const sum = new Float64Array(channels);
  const DIRS: [number, number][] = [[1, 0], [-1, 0], [0, 1], [0, -1]];
  for (let ring = 0; ring < width; ring++) {
    const before = filled.slice();
    let added = 0;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const p = y * size + x;
        if (before[p]) continue;
        sum.fill(0);
        let n = 0;
        for (const [dx, dy] of DIRS) {
          const ax = x + dx, ay = y + dy;
          if (ax < 0 || ay < 0 || ax >= size || ay >= size) continue;
          const a = ay * size + ax;
          if (!before[a]) continue;
          const bx = ax + dx, by = ay + dy;
          const b = bx >= 0 && by >= 0 && bx < size && by < size && before[by * size + bx] ? by * size + bx : a;
          for (let c = 0; c < channels; c++) sum[c] += 2 * values[a * channels + c] - values[b * channels + c];
          n++;
        }
        if (n === 0) continue;
        for (let c = 0; c < channels; c++) values[p * channels + c] = sum[c] / n;
        filled[p] = 1;
        added++;
      }
    }
    if (added === 0) break;
  }
  return filled;
}
