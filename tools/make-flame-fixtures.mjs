#!/usr/bin/env node
// Write FLAME-layout test pickles (random values; no FLAME data) into a folder:
//
//   node tools/make-flame-fixtures.mjs <out-dir> [--tiny-only] [--seed N]
//
// Files: flame_like_py2_tiny.pkl and flame_like_py2_full.pkl (5023 vertices, 9976 faces,
// 400 components, about 53 MB), both protocol 2 in the Python-2 FLAME 2020 layout (shapedirs as a
// chumpy Ch, J_regressor as scipy.sparse.csc.csc_matrix), plus expected_<size>.json with the dtype,
// shape and sha256 of every array (the sparse J_regressor as its dense row-major float64 matrix).
// Needs the built package: `npx tsc -b packages/formats` (or `npm run build`) first.
// Do not commit the full-size file.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'packages/formats/dist/index.js');
if (!fs.existsSync(dist)) {
  console.error(`make-flame-fixtures: ${dist} is missing; build it first with: npx tsc -b packages/formats`);
  process.exit(2);
}
const F = await import(pathToFileURL(dist).href);

const args = process.argv.slice(2);
const outDir = args.find((a) => !a.startsWith('--') && args[args.indexOf(a) - 1] !== '--seed');
if (!outDir) {
  console.error('usage: node tools/make-flame-fixtures.mjs <out-dir> [--tiny-only] [--seed N]');
  process.exit(2);
}
const seedArg = args.indexOf('--seed');
const seed = seedArg >= 0 ? Number(args[seedArg + 1]) : 0;
if (!Number.isSafeInteger(seed)) {
  console.error('--seed needs an integer');
  process.exit(2);
}
const sizes = args.includes('--tiny-only') ? ['tiny'] : ['tiny', 'full'];
fs.mkdirSync(outDir, { recursive: true });

const sha = (u8) => createHash('sha256').update(u8).digest('hex');

for (const size of sizes) {
  const t0 = performance.now();
  const dict = F.makeFlameLikeDict({ ...F.FLAME_SIZES[size], seed });
  const bytes = F.writePickle(dict, { protocol: 2 });
  const file = path.join(outDir, `flame_like_py2_${size}.pkl`);
  await F.writeFileAtomic(file, bytes);
  const expected = {};
  for (const [k, v] of dict) {
    const a = v instanceof F.ChumpyArray ? v.x : v;
    if (a instanceof F.NdArray) {
      expected[k] = { dtype: a.dtype, shape: a.shape, sha256: sha(F.ndarrayBytes(a)), first: Array.from(a.data.subarray(0, 3), Number) };
    } else if (a instanceof F.CscMatrix) {
      const dense = a.toDense();
      expected[k] = { sparse: 'csc', shape: a.shape, nnz: a.nnz, dense_sha256: sha(new Uint8Array(dense.buffer)) };
    } else expected[k] = a;
  }
  await F.writeFileAtomic(path.join(outDir, `expected_${size}.json`), JSON.stringify(expected, null, 1) + '\n');
  console.log(`${file}: ${bytes.length} bytes in ${(performance.now() - t0).toFixed(0)} ms`);
}
