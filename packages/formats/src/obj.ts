// Wavefront OBJ meshes (the subset head_template.obj and friends use): `v x y z [r g b]`, `vt u v`,
// `vn x y z`, `f` with `v`, `v/vt`, `v//vn` or `v/vt/vn` corners, 1-based or negative (relative)
// indices. Polygons are fan-triangulated. UV seams are kept: positions, UVs and normals have their
// own index lists, as in the file. Other statements (o, g, s, usemtl, mtllib, l, p, ...) are ignored.

import { FormatError, sniffNotAFile } from './errors.js';

export interface ObjMesh {
  /** V×3 vertex positions. */
  positions: Float64Array;
  /** VT×2 texture coordinates (empty when the file has none). */
  uvs: Float64Array;
  /** VN×3 normals (empty when the file has none). */
  normals: Float64Array;
  /** F×3 position indices, 0-based. */
  faces: Uint32Array;
  /** F×3 UV indices (0-based) when every face has them, else null. */
  faceUvs: Uint32Array | null;
  /** F×3 normal indices (0-based) when every face has them, else null. */
  faceNormals: Uint32Array | null;
  /** V×3 per-vertex colours (`v x y z r g b`) when every vertex has them, else null. */
  colors: Float64Array | null;
}

class Grow {
  a: Float64Array;
  n = 0;
  constructor(cap = 1024) {
    this.a = new Float64Array(cap);
  }
  push(x: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = x;
  }
  done(): Float64Array {
    return this.a.slice(0, this.n);
  }
}

class GrowU32 {
  a: Uint32Array;
  n = 0;
  constructor(cap = 1024) {
    this.a = new Uint32Array(cap);
  }
  push(x: number): void {
    if (this.n === this.a.length) {
      const b = new Uint32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = x;
  }
  done(): Uint32Array {
    return this.a.slice(0, this.n);
  }
}

/** Parse an OBJ file (text or UTF-8/latin-1 bytes). */
export function readObj(textOrBytes: string | Uint8Array, file: string): ObjMesh {
  let text: string;
  if (typeof textOrBytes === 'string') {
    text = textOrBytes;
    if (/^\s*<(!doctype|html)/i.test(text)) throw new FormatError(file, 'this is an HTML page, not a Wavefront OBJ mesh (a failed or login-page download?)');
  } else {
    sniffNotAFile(textOrBytes, file, 'a Wavefront OBJ mesh');
    text = new TextDecoder('utf-8').decode(textOrBytes);
  }
  const pos = new Grow();
  const col = new Grow();
  const uv = new Grow();
  const nrm = new Grow();
  const fv = new GrowU32();
  const ft = new GrowU32();
  const fn = new GrowU32();
  let nv = 0;
  let nvt = 0;
  let nvn = 0;
  let withColor = 0;
  let facesWithUv = 0;
  let facesWithNormal = 0;
  let nfaces = 0;
  const lines = text.split(/\r?\n|\r/);
  const fail: (ln: number, m: string) => never = (ln, m) => {
    throw new FormatError(file, `line ${ln + 1}: ${m}`);
  };
  const num = (s: string | undefined, ln: number, what: string): number => {
    const x = s === undefined ? NaN : Number(s);
    if (s === undefined || s === '' || !Number.isFinite(x)) fail(ln, `expected a number for ${what}, got ${JSON.stringify(s ?? '')}`);
    return x;
  };
  const index = (s: string, count: number, ln: number, what: string): number => {
    if (!/^[+-]?\d+$/.test(s)) fail(ln, `bad ${what} index ${JSON.stringify(s)}`);
    const i = Number(s);
    let z: number;
    if (i > 0) z = i - 1;
    else if (i < 0) z = count + i;
    else return fail(ln, `${what} index 0 is invalid (OBJ indices start at 1)`);
    if (z < 0 || z >= count) fail(ln, `${what} index ${s} is out of range (${count} ${what}s defined so far)`);
    return z;
  };
  let pending = '';
  for (let ln = 0; ln < lines.length; ln++) {
    let line = lines[ln];
    if (pending) {
      line = pending + line;
      pending = '';
    }
    if (line.endsWith('\\')) {
      pending = line.slice(0, -1) + ' ';
      continue;
    }
    const hash = line.indexOf('#');
    if (hash >= 0) line = line.slice(0, hash);
    const t = line.trim().split(/\s+/);
    const kw = t[0];
    if (kw === '' || kw === undefined) continue;
    if (kw === 'v') {
      if (t.length !== 4 && t.length !== 5 && t.length !== 7) fail(ln, `a 'v' line needs 3 coordinates (optionally w, or r g b), got ${t.length - 1} values`);
      pos.push(num(t[1], ln, 'x'));
      pos.push(num(t[2], ln, 'y'));
      pos.push(num(t[3], ln, 'z'));
      if (t.length === 7) {
        col.push(num(t[4], ln, 'r'));
        col.push(num(t[5], ln, 'g'));
        col.push(num(t[6], ln, 'b'));
        withColor++;
      } else if (t.length === 5) num(t[4], ln, 'w');
      nv++;
    } else if (kw === 'vt') {
      if (t.length < 3 || t.length > 4) fail(ln, `a 'vt' line needs 2 (or 3) values, got ${t.length - 1}`);
      uv.push(num(t[1], ln, 'u'));
      uv.push(num(t[2], ln, 'v'));
      if (t.length === 4) num(t[3], ln, 'w');
      nvt++;
    } else if (kw === 'vn') {
      if (t.length !== 4) fail(ln, `a 'vn' line needs 3 values, got ${t.length - 1}`);
      nrm.push(num(t[1], ln, 'x'));
      nrm.push(num(t[2], ln, 'y'));
      nrm.push(num(t[3], ln, 'z'));
      nvn++;
    } else if (kw === 'f') {
      const n = t.length - 1;
      if (n < 3) fail(ln, `a face needs at least 3 corners, got ${n}`);
      const cv: number[] = [];
      const ct: number[] = [];
      const cn: number[] = [];
      let hasT = -1;
      let hasN = -1;
      for (let k = 1; k <= n; k++) {
        const parts = t[k].split('/');
        if (parts.length > 3) fail(ln, `bad face corner ${JSON.stringify(t[k])}`);
        cv.push(index(parts[0], nv, ln, 'vertex'));
        const tHere = parts.length >= 2 && parts[1] !== '' ? 1 : 0;
        const nHere = parts.length === 3 && parts[2] !== '' ? 1 : 0;
        if (parts.length === 3 && parts[2] === '') fail(ln, `bad face corner ${JSON.stringify(t[k])}`);
        if (hasT < 0) hasT = tHere;
        if (hasN < 0) hasN = nHere;
        if (hasT !== tHere || hasN !== nHere) fail(ln, 'all corners of a face must use the same v/vt/vn form');
        if (tHere) ct.push(index(parts[1], nvt, ln, 'texture coordinate'));
        if (nHere) cn.push(index(parts[2], nvn, ln, 'normal'));
      }
      for (let k = 1; k + 1 < n; k++) {
        fv.push(cv[0]);
        fv.push(cv[k]);
        fv.push(cv[k + 1]);
        if (hasT) {
          ft.push(ct[0]);
          ft.push(ct[k]);
          ft.push(ct[k + 1]);
        }
        if (hasN) {
          fn.push(cn[0]);
          fn.push(cn[k]);
          fn.push(cn[k + 1]);
        }
        nfaces++;
        if (hasT) facesWithUv++;
        if (hasN) facesWithNormal++;
      }
    }
  }
  if (pending) fail(lines.length - 1, 'the file ends with a line continuation');
  if (withColor !== 0 && withColor !== nv) {
    throw new FormatError(file, `${withColor} of ${nv} vertices have colours; expected all or none`);
  }
  if (facesWithUv !== 0 && facesWithUv !== nfaces) {
    throw new FormatError(file, `${facesWithUv} of ${nfaces} triangles have texture coordinates; expected all or none`);
  }
  if (facesWithNormal !== 0 && facesWithNormal !== nfaces) {
    throw new FormatError(file, `${facesWithNormal} of ${nfaces} triangles have normals; expected all or none`);
  }
  return {
    positions: pos.done(),
    uvs: uv.done(),
    normals: nrm.done(),
    faces: fv.done(),
    faceUvs: nfaces > 0 && facesWithUv === nfaces ? ft.done() : null,
    faceNormals: nfaces > 0 && facesWithNormal === nfaces ? fn.done() : null,
    colors: nv > 0 && withColor === nv ? col.done() : null,
  };
}

export interface ObjWriteMesh {
  positions: ArrayLike<number>;
  faces: ArrayLike<number>;
  uvs?: ArrayLike<number> | null;
  normals?: ArrayLike<number> | null;
  faceUvs?: ArrayLike<number> | null;
  faceNormals?: ArrayLike<number> | null;
  colors?: ArrayLike<number> | null;
}

/**
 * Write an OBJ. Numbers use the shortest exact decimal form, so reading the file back gives the same
 * float64 values (Float32Array input is widened exactly).
 */
export function writeObj(mesh: ObjWriteMesh, opts: { header?: string } = {}): string {
  const bad: (m: string) => never = (m) => {
    throw new FormatError('writeObj', m);
  };
  const p = mesh.positions;
  if (p.length % 3) bad(`positions has ${p.length} values, not a multiple of 3`);
  const nv = p.length / 3;
  const uvs = mesh.uvs ?? null;
  const nrm = mesh.normals ?? null;
  const col = mesh.colors ?? null;
  if (uvs && uvs.length % 2) bad('uvs must hold pairs');
  if (nrm && nrm.length % 3) bad('normals must hold triples');
  if (col && col.length !== p.length) bad(`colors has ${col.length} values, expected ${p.length}`);
  const f = mesh.faces;
  if (f.length % 3) bad('faces must hold triples');
  const fu = mesh.faceUvs ?? null;
  const fnn = mesh.faceNormals ?? null;
  if (fu && fu.length !== f.length) bad('faceUvs must have as many entries as faces');
  if (fnn && fnn.length !== f.length) bad('faceNormals must have as many entries as faces');
  const check = (a: ArrayLike<number>, n: number, what: string) => {
    for (let i = 0; i < a.length; i++) if (!(Number.isInteger(a[i]) && a[i] >= 0 && a[i] < n)) bad(`${what}[${i}] = ${a[i]} is out of range [0, ${n})`);
  };
  check(f, nv, 'faces');
  if (fu) check(fu, uvs ? uvs.length / 2 : 0, 'faceUvs');
  if (fnn) check(fnn, nrm ? nrm.length / 3 : 0, 'faceNormals');
  const out: string[] = [];
  if (opts.header) for (const l of opts.header.split('\n')) out.push(`# ${l}`);
  for (let i = 0; i < nv; i++) {
    let s = `v ${p[3 * i]} ${p[3 * i + 1]} ${p[3 * i + 2]}`;
    if (col) s += ` ${col[3 * i]} ${col[3 * i + 1]} ${col[3 * i + 2]}`;
    out.push(s);
  }
  if (uvs) for (let i = 0; i < uvs.length; i += 2) out.push(`vt ${uvs[i]} ${uvs[i + 1]}`);
  if (nrm) for (let i = 0; i < nrm.length; i += 3) out.push(`vn ${nrm[i]} ${nrm[i + 1]} ${nrm[i + 2]}`);
  for (let i = 0; i < f.length; i += 3) {
    const c: string[] = [];
    for (let k = 0; k < 3; k++) {
      const v = f[i + k] + 1;
      if (fu && fnn) c.push(`${v}/${fu[i + k] + 1}/${fnn[i + k] + 1}`);
      else if (fu) c.push(`${v}/${fu[i + k] + 1}`);
      else if (fnn) c.push(`${v}//${fnn[i + k] + 1}`);
      else c.push(`${v}`);
    }
    out.push(`f ${c.join(' ')}`);
  }
  return out.join('\n') + '\n';
}
