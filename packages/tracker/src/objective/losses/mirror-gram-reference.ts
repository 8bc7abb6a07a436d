// The mirror regulariser's Gram matrix as the plain loop it was first written as (test support, not exported): the
// reference that the native mirrorGram (native/src/tracker/mirror_gram.cc) must match bit for bit.

/**
 * Q[k][l] = 2 Σ_{i<n2} A[k][i] A[l][i] + Σ_{n2<=i<n} A[k][i] A[l][i] for the K rows of A [K,n] (float64 sums over i
 * in ascending order), in tiles of 4 rows (each row of A read once per tile).
 */
export function mirrorGramReference(A: Float32Array, K: number, n: number, n2: number): Float64Array {
  const Q = new Float64Array(K * K);
  const dot4 = (o0: number, o1: number, o2: number, o3: number, lo: number, from: number, to: number, out: Float64Array) => {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let i = from; i < to; i++) {
      const a = A[lo + i];
      s0 += A[o0 + i] * a;
      s1 += A[o1 + i] * a;
      s2 += A[o2 + i] * a;
      s3 += A[o3 + i] * a;
    }
    out[0] = s0;
    out[1] = s1;
    out[2] = s2;
    out[3] = s3;
  };
  const sums2 = new Float64Array(4), sums1 = new Float64Array(4);
  for (let k0 = 0; k0 < K; k0 += 4) {
    const k1 = Math.min(k0 + 1, K - 1), k2 = Math.min(k0 + 2, K - 1), k3 = Math.min(k0 + 3, K - 1);
    const o0 = k0 * n, o1 = k1 * n, o2 = k2 * n, o3 = k3 * n;
    for (let l = k0; l < K; l++) {
      dot4(o0, o1, o2, o3, l * n, 0, n2, sums2);
      dot4(o0, o1, o2, o3, l * n, n2, n, sums1);
      for (let t = 0; t < 4 && k0 + t < K; t++) {
        const k = k0 + t;
        if (l < k) continue;
        Q[k * K + l] = Q[l * K + k] = 2 * sums2[t] + sums1[t];
      }
    }
  }
  return Q;
}
