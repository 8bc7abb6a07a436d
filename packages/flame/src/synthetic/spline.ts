// Small 1-D interpolation helpers (monotone-preserving cubic Hermite, Fritsch-Carlson tangents).

export class Pchip {
  readonly xs: Float64Array;
  readonly ys: Float64Array;
  private readonly ms: Float64Array;

  constructor(unsorted: ReadonlyArray<readonly [number, number]>) {
    const points = [...unsorted].sort((a, b) => a[0] - b[0]);
    const n = points.length;
    this.xs = new Float64Array(n);
    this.ys = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      this.xs[i] = points[i][0];
      this.ys[i] = points[i][1];
      if (i > 0 && !(this.xs[i] > this.xs[i - 1])) throw new Error('Pchip: x must increase');
    }
    this.ms = new Float64Array(n);
    const d = new Float64Array(Math.max(n - 1, 0));
    for (let i = 0; i + 1 < n; i++) d[i] = (this.ys[i + 1] - this.ys[i]) / (this.xs[i + 1] - this.xs[i]);
    if (n === 2) {
      this.ms[0] = this.ms[1] = d[0];
    } else if (n > 2) {
      for (let i = 1; i + 1 < n; i++) {
        if (d[i - 1] * d[i] <= 0) this.ms[i] = 0;
        else {
          const h0 = this.xs[i] - this.xs[i - 1];
          const h1 = this.xs[i + 1] - this.xs[i];
          const w1 = 2 * h1 + h0;
          const w2 = h1 + 2 * h0;
          this.ms[i] = (w1 + w2) / (w1 / d[i - 1] + w2 / d[i]);
        }
      }
      this.ms[0] = endSlope(this.xs[1] - this.xs[0], this.xs[2] - this.xs[1], d[0], d[1]);
      this.ms[n - 1] = endSlope(this.xs[n - 1] - this.xs[n - 2], this.xs[n - 2] - this.xs[n - 3], d[n - 2], d[n - 3]);
    }
  }

  private seg(x: number): number {
    const xs = this.xs;
    let lo = 0;
    let hi = xs.length - 2;
    if (x <= xs[0]) return 0;
    if (x >= xs[hi + 1]) return hi;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (xs[mid] <= x) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Value; outside the knots the curve continues linearly with the end slope. */
  value(x: number): number {
    const n = this.xs.length;
    if (x <= this.xs[0]) return this.ys[0] + this.ms[0] * (x - this.xs[0]);
    if (x >= this.xs[n - 1]) return this.ys[n - 1] + this.ms[n - 1] * (x - this.xs[n - 1]);
    const i = this.seg(x);
    const h = this.xs[i + 1] - this.xs[i];
    const t = (x - this.xs[i]) / h;
    const t2 = t * t;
    const t3 = t2 * t;
    return (
      (2 * t3 - 3 * t2 + 1) * this.ys[i] +
      (t3 - 2 * t2 + t) * h * this.ms[i] +
      (-2 * t3 + 3 * t2) * this.ys[i + 1] +
      (t3 - t2) * h * this.ms[i + 1]
    );
  }

  /** Derivative. */
  slope(x: number): number {
    const n = this.xs.length;
    if (x <= this.xs[0]) return this.ms[0];
    if (x >= this.xs[n - 1]) return this.ms[n - 1];
    const i = this.seg(x);
    const h = this.xs[i + 1] - this.xs[i];
    const t = (x - this.xs[i]) / h;
    const t2 = t * t;
    return (
      ((6 * t2 - 6 * t) * this.ys[i]) / h +
      (3 * t2 - 4 * t + 1) * this.ms[i] +
      ((-6 * t2 + 6 * t) * this.ys[i + 1]) / h +
      (3 * t2 - 2 * t) * this.ms[i + 1]
    );
  }
}

function endSlope(h0: number, h1: number, d0: number, d1: number): number {
  let m = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1);
  if (Math.sign(m) !== Math.sign(d0)) m = 0;
  else if (Math.sign(d0) !== Math.sign(d1) && Math.abs(m) > Math.abs(3 * d0)) m = 3 * d0;
  return m;
}

export function smoothstep(e0: number, e1: number, x: number): number {
  const t = Math.min(1, Math.max(0, (x - e0) / (e1 - e0)));
  return t * t * (3 - 2 * t);
}

export function clamp(x: number, a: number, b: number): number {
  return x < a ? a : x > b ? b : x;
}

export function lerp(a: number, b: number, t: number): number {
  return a + (b - a) * t;
}

/**
 * A Pchip resampled on a uniform grid for O(1) evaluation: value and slope interpolated linearly between
 * samples (outside the range the curve continues along its end slope).
 */
export class FastCurve {
  private readonly v: Float64Array;
  private readonly s: Float64Array;
  private readonly inv: number;
  /** Results of the last eval(). */
  value = 0;
  slope = 0;

  constructor(
    curve: Pchip,
    private readonly x0: number,
    private readonly x1: number,
    private readonly n = 1024,
  ) {
    this.v = new Float64Array(n + 1);
    this.s = new Float64Array(n + 1);
    for (let i = 0; i <= n; i++) {
      const x = x0 + ((x1 - x0) * i) / n;
      this.v[i] = curve.value(x);
      this.s[i] = curve.slope(x);
    }
    this.inv = n / (x1 - x0);
  }

  eval(x: number): void {
    if (x <= this.x0) {
      this.slope = this.s[0];
      this.value = this.v[0] + this.slope * (x - this.x0);
      return;
    }
    if (x >= this.x1) {
      this.slope = this.s[this.n];
      this.value = this.v[this.n] + this.slope * (x - this.x1);
      return;
    }
    const u = (x - this.x0) * this.inv;
    const i = Math.min(this.n - 1, Math.floor(u));
    const t = u - i;
    this.value = this.v[i] + t * (this.v[i + 1] - this.v[i]);
    this.slope = this.s[i] + t * (this.s[i + 1] - this.s[i]);
  }
}
