// `pixel3dmm render` end to end (needs the CLI built: `npx tsc -b packages/pixel3dmm`, or `npm test`).
//
// The expectations are computed here from the camera of pixel3dmm-spec.md section 5, written out again on purpose
// (not imported from @pixel3dmm/render): f_px = 2000/512 S, c = S/2 + 0.5, camera at (0,0,1) looking down -z, and
// the raster pixel (col, row) with its centre at col = fx x/d + cx - 0.5, row = cy - 0.5 - fy y/d (d = -z_c).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readNpy } from '@pixel3dmm/formats';
import { buildProgram } from '../packages/pixel3dmm/src/cli.js';

const bin = resolve(__dirname, '../packages/pixel3dmm/bin/pixel3dmm.js');
const tmp = mkdtempSync(join(tmpdir(), 'p3d-render-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The built CLI in a child process, as a user runs it. */
function run(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, 'render', ...args], { encoding: 'utf8', env: { ...process.env, PIXEL3DMM_FLAME_MODEL: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * The same command line parsed in this process (from the TypeScript sources): a child process costs about a second
 * of start-up on a busy machine, so most cases run here. Exit code 1 and the message on stderr, as bin/pixel3dmm.js does.
 */
async function runHere(...args: string[]) {
  const program = buildProgram();
  const render = program.commands.find((c) => c.name() === 'render')!;
  let err = '';
  let out = '';
  render.exitOverride().configureOutput({ writeErr: (s) => (err += s), writeOut: (s) => (out += s) });
  const log = vi.spyOn(console, 'log').mockImplementation((...m: unknown[]) => void (out += `${m.join(' ')}\n`));
  const saved = process.env.PIXEL3DMM_FLAME_MODEL;
  process.env.PIXEL3DMM_FLAME_MODEL = '';
  try {
    await program.parseAsync(['node', 'pixel3dmm', 'render', ...args]);
    return { code: 0, out, err };
  } catch (e) {
    if (!err) err = e instanceof Error ? e.message : String(e);
    return { code: 1, out, err };
  } finally {
    log.mockRestore();
    if (saved === undefined) delete process.env.PIXEL3DMM_FLAME_MODEL;
    else process.env.PIXEL3DMM_FLAME_MODEL = saved;
  }
}

const S = 64;
const fx = (2000 / 512) * S;
const cx = S / 2 + 0.5;
// A tilted plane in world space: depth d = 1 + a x + b y, i.e. a x + b y + z = 0 (normal along (a, b, 1)).
const a = 0.3;
const b = -0.2;

/** World point on the plane whose raster position is (col, row) (pixel centres at integers). */
function onPlane(col: number, row: number): [number, number, number] {
  const kx = (col - cx + 0.5) / fx;
  const ky = (cx - 0.5 - row) / fx;
  const d = 1 / (1 - a * kx - b * ky);
  return [kx * d, ky * d, 1 - d];
}

// An asymmetric quad (two triangles, ids 1 and 2) with its vertices on pixel corners, and edge directions (p, q)
// (coprime, p + q odd) that keep every pixel centre at least 0.5/|(p, q)| >= 0.08 px from every edge: larger than
// the at most 1/32 px by which snapping to 1/16 px could move an edge, so the covered set has no ties. (col, row):
const corners = [
  [3.5, 7.5], // A
  [51.5, 15.5], // B
  [23.5, 57.5], // C
  [58.5, 43.5], // D
];
const triangles = [
  [0, 2, 1],
  [1, 2, 3],
];
// UVs with a seam: vertex C has different UVs in the two triangles.
const uvs = [
  [0.1, 0.2],
  [0.9, 0.25],
  [0.2, 0.8],
  [0.85, 0.9],
  [0.3, 0.95],
];
const faceUvs = [
  [0, 2, 1],
  [1, 4, 3],
];

const world = corners.map(([c, r]) => onPlane(c, r));
const objText = [
  '# render-cli test quad',
  ...world.map((p) => `v ${p.map((x) => x.toPrecision(17)).join(' ')}`),
  ...uvs.map((t) => `vt ${t.join(' ')}`),
  ...triangles.map((t, i) => `f ${t.map((v, k) => `${v + 1}/${faceUvs[i][k] + 1}`).join(' ')}`),
].join('\n');

/** Raster position (col, row) and depth of a world point, from the spec formulas. */
function project(p: number[]): [number, number, number] {
  const d = 1 - p[2];
  return [(fx * p[0]) / d + cx - 0.5, cx - 0.5 - (fx * p[1]) / d, d];
}

const screen = world.map(project);

/** Screen-space barycentrics of (col, row) in triangle t, or null when outside; also the smallest edge distance. */
function screenBary(t: number, col: number, row: number): { l: number[]; margin: number } {
  const [p0, p1, p2] = triangles[t].map((i) => screen[i]);
  const area = (p1[0] - p0[0]) * (p2[1] - p0[1]) - (p2[0] - p0[0]) * (p1[1] - p0[1]);
  const edge = (pa: number[], pb: number[]) => ((pb[0] - pa[0]) * (row - pa[1]) - (pb[1] - pa[1]) * (col - pa[0])) / area;
  const l = [edge(p1, p2), edge(p2, p0), edge(p0, p1)];
  const lengths = [Math.hypot(p2[0] - p1[0], p2[1] - p1[1]), Math.hypot(p0[0] - p2[0], p0[1] - p2[1]), Math.hypot(p1[0] - p0[0], p1[1] - p0[1])];
  const margin = Math.min(...l.map((li, k) => (li * Math.abs(area)) / lengths[k]));
  return { l, margin };
}

/** Expected triangle id (0 = background) of every pixel, asserting that no pixel centre is close to an edge. */
function expectedIds(): Int32Array {
  const ids = new Int32Array(S * S);
  for (let row = 0; row < S; row++) {
    for (let col = 0; col < S; col++) {
      for (let t = 0; t < triangles.length; t++) {
        const { margin } = screenBary(t, col, row);
        expect(Math.abs(margin), `pixel (${col}, ${row}) is within 0.05 px of an edge of triangle ${t}`).toBeGreaterThan(0.05);
        if (margin > 0) ids[row * S + col] = t + 1;
      }
    }
  }
  return ids;
}

function readArray(file: string) {
  return readNpy(new Uint8Array(readFileSync(file)), file);
}

describe('pixel3dmm render', () => {
  const obj = join(tmp, 'quad.obj');
  let ids: Int32Array;
  beforeAll(() => {
    writeFileSync(obj, objText);
    ids = expectedIds();
  });

  it('triangle-id .npy: int32 [S,S], rows top-down, exactly the pixels the spec camera predicts', () => {
    const out = join(tmp, 'ids.npy');
    const r = run('--mesh', obj, '--size', String(S), '--out', out, '--channel', 'triangle-id');
    expect(r.code, r.err).toBe(0);
    const a = readArray(out);
    expect(a.dtype).toBe('<i4');
    expect(a.shape).toEqual([S, S]);
    const got = a.data as Int32Array;
    let wrong = 0;
    for (let p = 0; p < S * S; p++) if (got[p] !== ids[p]) wrong++;
    expect(wrong).toBe(0);
    // the test shape is asymmetric and both triangles are large: a flip or a mirror would change many pixels
    const count = (id: number) => ids.filter((v) => v === id).length;
    expect(count(1)).toBeGreaterThan(600);
    expect(count(2)).toBeGreaterThan(300);
    expect(ids[9 * S + 6]).toBe(1); // near A, the top-left corner
    expect(ids[43 * S + 56]).toBe(2); // near D, the right corner
    expect(ids[9 * S + 57]).toBe(0); // top-right: background
  });

  it('uv, normal, depth and mask .npy: float32 [S,S,C] with the values of the spec camera', async () => {
    const outs = Object.fromEntries(['uv', 'normal', 'depth', 'mask'].map((c) => [c, join(tmp, `${c}.npy`)]));
    for (const [channel, out] of Object.entries(outs)) {
      const args = ['--mesh', obj, '--size', String(S), '--out', out, '--channel', channel];
      const r = await runHere(...args);
      expect(r.code, r.err).toBe(0);
      if (channel === 'mask') expect(r.out).toMatch(/mask, antialiased/);
    }
    const arrays = Object.fromEntries(Object.entries(outs).map(([c, f]) => [c, readArray(f)]));
    expect(Object.values(arrays).map((x) => x.dtype)).toEqual(['<f4', '<f4', '<f4', '<f4']);
    expect(arrays.uv.shape).toEqual([S, S, 2]);
    expect(arrays.normal.shape).toEqual([S, S, 3]);
    expect(arrays.depth.shape).toEqual([S, S, 1]);
    expect(arrays.mask.shape).toEqual([S, S, 1]);
    const [uv, normal, depth, mask] = ['uv', 'normal', 'depth', 'mask'].map((c) => ({ data: arrays[c].data as Float32Array }));
    // the plane a x + b y + z = 0 has unit normals +-(a, b, 1)/|.|; both triangles wind counter-clockwise as seen
    // from the camera (y up = -row), so their right-hand normals point to the camera (+z)
    for (const t of triangles) {
      const [p0, p1, p2] = t.map((i) => [screen[i][0], -screen[i][1]]);
      expect((p1[0] - p0[0]) * (p2[1] - p0[1]) - (p2[0] - p0[0]) * (p1[1] - p0[1])).toBeGreaterThan(0);
    }
    const nl = Math.hypot(a, b, 1);
    const n = [a / nl, b / nl, 1 / nl];
    let checked = 0;
    for (let row = 0; row < S; row++) {
      for (let col = 0; col < S; col++) {
        const p = row * S + col;
        const id = ids[p];
        if (id === 0) {
          expect([uv.data[2 * p], uv.data[2 * p + 1], normal.data[3 * p], depth.data[p]]).toEqual([0, 0, 0, 0]);
          continue;
        }
        // perspective-correct interpolation: screen barycentrics weighted by 1/d
        const t = id - 1;
        const { l } = screenBary(t, col, row);
        const vs = triangles[t];
        const q = l.map((li, k) => li / screen[vs[k]][2]);
        const qs = q[0] + q[1] + q[2];
        const wantDepth = 1 / qs;
        const kx = (col - cx + 0.5) / fx;
        const ky = (cx - 0.5 - row) / fx;
        expect(wantDepth).toBeCloseTo(1 / (1 - a * kx - b * ky), 12); // the plane's depth along the pixel ray
        expect(Math.abs(depth.data[p] - wantDepth)).toBeLessThan(1e-5);
        for (let c = 0; c < 2; c++) {
          const want = (q[0] * uvs[faceUvs[t][0]][c] + q[1] * uvs[faceUvs[t][1]][c] + q[2] * uvs[faceUvs[t][2]][c]) / qs;
          expect(Math.abs(uv.data[2 * p + c] - want)).toBeLessThan(2e-5);
        }
        for (let c = 0; c < 3; c++) expect(Math.abs(normal.data[3 * p + c] - n[c])).toBeLessThan(1e-5);
        expect(mask.data[p]).toBeGreaterThan(0);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(900);
    // the antialiased mask integrates to the quad's screen area (analytic silhouette AA), within 1%
    const shoelace = [0, 1, 3, 2].reduce((s, i, k, ord) => {
      const j = ord[(k + 1) % 4];
      return s + screen[i][0] * screen[j][1] - screen[j][0] * screen[i][1];
    }, 0);
    const area = Math.abs(shoelace) / 2;
    const sum = (mask.data as Float32Array).reduce((s, v) => s + v, 0);
    expect(Math.abs(sum - area) / area).toBeLessThan(0.01);
    // --no-antialias: the plain 0/1 coverage
    const plain = join(tmp, 'plain.npy');
    const r = await runHere('--mesh', obj, '--size', String(S), '--out', plain, '--channel', 'mask', '--no-antialias');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/not antialiased/);
    expect(Array.from(readArray(plain).data as Float32Array)).toEqual(Array.from(ids, (v) => (v > 0 ? 1 : 0)));
  });

  it('PNG: S x S RGB, upright (the same pixels as the .npy are coloured, background black)', async () => {
    const out = join(tmp, 'ids.png');
    const r = run('--mesh', obj, '--size', String(S), '--out', out);
    expect(r.code, r.err).toBe(0);
    const { data, info } = await sharp(readFileSync(out)).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([S, S, 3]);
    const colours = new Set<number>();
    for (let p = 0; p < S * S; p++) {
      const rgb = (data[3 * p] << 16) | (data[3 * p + 1] << 8) | data[3 * p + 2];
      expect(rgb !== 0, `pixel ${p}`).toBe(ids[p] > 0);
      if (ids[p] > 0) colours.add(rgb * 4 + ids[p]);
    }
    expect(colours.size).toBe(2); // one false colour per triangle
  });

  it('rejects bad arguments with messages naming them, and writes nothing', async () => {
    const out = join(tmp, 'never.npy');
    const ply = join(tmp, 'tri.ply');
    writeFileSync(ply, 'ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n' +
      'element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n0.1 0 0\n0 0.1 0\n3 0 1 2\n');
    const broken = join(tmp, 'broken.obj');
    writeFileSync(broken, 'v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 7\n');
    const noFaces = join(tmp, 'points.obj');
    writeFileSync(noFaces, 'v 0 0 0\nv 1 0 0\n');
    const cases: [string[], RegExp][] = [
      [['--mesh', obj, '--size', '0', '--out', out], /--size must be an integer in \[1, 4096\]/],
      [['--mesh', obj, '--size', '12.5', '--out', out], /--size must be an integer/],
      [['--mesh', obj, '--out', out], /required option '--size <n>' not specified/],
      [['--mesh', obj, '--size', '8', '--out', out, '--channel', 'albedo'], /--channel <name>' argument 'albedo' is invalid.*triangle-id, uv, normal, depth, mask/],
      [['--mesh', obj, '--size', '8', '--out', join(tmp, 'x.jpg')], /--out .*x\.jpg: expected a \.png or \.npy file name/],
      [['--mesh', obj, '--size', '8', '--out', join(tmp, 'nodir', 'x.png')], /--out .*: the directory .*nodir does not exist/],
      [['--mesh', join(tmp, 'quad.stl'), '--size', '8', '--out', out], /--mesh .*quad\.stl: expected a \.obj or \.ply file/],
      [['--mesh', join(tmp, 'missing.obj'), '--size', '8', '--out', out], /--mesh .*missing\.obj: file not found/],
      [['--mesh', broken, '--size', '8', '--out', out], /broken\.obj: line 4: vertex index 7 is out of range/],
      [['--mesh', noFaces, '--size', '8', '--out', out], /points\.obj: the mesh has no triangles/],
      [['--mesh', ply, '--size', '8', '--out', out, '--channel', 'uv'], /tri\.ply: the mesh has no texture coordinates, needed for --channel uv/],
      [['--mesh', obj, '--params', join(tmp, 'p.json'), '--size', '8', '--out', out], /give one or the other/],
      [['--size', '8', '--out', out, '--params', join(tmp, 'missing.json')], /--params .*missing\.json: cannot read the parameter file/],
      [['--mesh', obj, '--size', '8', '--out', out, '--channel', 'depth', '--no-antialias'], /--no-antialias applies to --channel mask only/],
    ];
    for (const [k, [args, message]] of cases.entries()) {
      // one through the built CLI (bin/pixel3dmm.js prints the message, exit code 1), the others in this process
      const r = k === 4 ? run(...args) : await runHere(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err, args.join(' ')).toMatch(message);
    }
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp') || f.startsWith('never'))).toEqual([]);
    // the PLY itself renders (as triangle-id)
    const r = await runHere('--mesh', ply, '--size', '8', '--out', out);
    expect(r.code, r.err).toBe(0);
  });
});

describe('pixel3dmm render of a FLAME model', () => {
  it('renders the posed model in world space: a head translation moves the image by f t / d', async () => {
    const params = join(tmp, 'moved.json');
    // moved back by 0.5 m so that the top of the head is in the image (the default head fills it)
    const back = join(tmp, 'back.json');
    writeFileSync(back, JSON.stringify({ translation: [0, 0, -0.5] }));
    writeFileSync(params, JSON.stringify({ translation: [0.03, 0.02, -0.5] }));
    const outs = [join(tmp, 'head.npy'), join(tmp, 'moved.npy')];
    let r = await runHere('--params', back, '--size', String(S), '--out', outs[0]);
    expect(r.out).toMatch(/built-in synthetic head.*posed by back\.json/);
    expect(r.code, r.err).toBe(0);
    r = await runHere('--params', params, '--size', String(S), '--out', outs[1]);
    expect(r.code, r.err).toBe(0);
    const centroid = (file: string) => {
      const ids = readArray(file).data as Int32Array;
      let n = 0, sc = 0, top = S;
      for (let p = 0; p < S * S; p++) if (ids[p] > 0) { n++; sc += p % S; top = Math.min(top, Math.floor(p / S)); }
      return [sc / n, top, n];
    };
    const [c0, r0, n0] = centroid(outs[0]);
    const [c1, r1] = centroid(outs[1]);
    expect(n0).toBeGreaterThan(0.1 * S * S);
    // +x is right, +y is up (smaller rows), by f t / d at d ~ 1.5 m (silhouette points lie within ~0.1 m of that
    // depth). The neck is cut by the bottom of the image, so rows are compared at the top of the head.
    expect(Math.abs(c1 - c0 - (fx * 0.03) / 1.5)).toBeLessThan(0.6);
    expect(r0).toBeGreaterThan(3);
    expect(Math.abs(r1 - r0 + (fx * 0.02) / 1.5)).toBeLessThan(1);
  });
});
