// Stanford PLY meshes: a writer for binary little-endian meshes (float x,y,z; optional uchar
// red,green,blue; `property list uchar int vertex_indices`) and a reader for ascii and
// binary_little_endian files with any scalar property types and extra elements (skipped).

import { FormatError, sniffNotAFile } from './errors.js';

export interface PlyMesh {
  /** V×3 positions (float64; exact for float32 files). */
  positions: Float64Array;
  /** F×3 triangle indices (polygons are fan-triangulated). */
  faces: Uint32Array;
  /** V×3 RGB colours when the vertices have red/green/blue properties, else null. */
  colors: Uint8Array | null;
}

export interface PlyWriteMesh {
  positions: Float32Array | Float64Array;
  faces: Uint32Array;
  colors?: Uint8Array | null;
}

/** Write a binary little-endian PLY. */
export function writePly(mesh: PlyWriteMesh, opts: { comment?: string } = {}): Uint8Array {
  const bad: (m: string) => never = (m) => {
    throw new FormatError('writePly', m);
  };
  const p = mesh.positions;
  if (p.length % 3) bad(`positions has ${p.length} values, not a multiple of 3`);
  const nv = p.length / 3;
  const f = mesh.faces;
  if (f.length % 3) bad('faces must hold triples');
  const nf = f.length / 3;
  const col = mesh.colors ?? null;
  if (col && col.length !== nv * 3) bad(`colors has ${col.length} values, expected ${nv * 3}`);
  for (let i = 0; i < f.length; i++) if (f[i] >= nv) bad(`faces[${i}] = ${f[i]} is out of range [0, ${nv})`);
  if (nv > 0x7fffffff) bad('too many vertices for int indices');
  const head: string[] = ['ply', 'format binary_little_endian 1.0'];
  if (opts.comment) for (const l of opts.comment.split('\n')) head.push(`comment ${l}`);
  head.push(`element vertex ${nv}`, 'property float x', 'property float y', 'property float z');
  if (col) head.push('property uchar red', 'property uchar green', 'property uchar blue');
  head.push(`element face ${nf}`, 'property list uchar int vertex_indices', 'end_header', '');
  const headBytes = new TextEncoder().encode(head.join('\n'));
  const vsize = 12 + (col ? 3 : 0);
  const out = new Uint8Array(headBytes.length + nv * vsize + nf * 13);
  out.set(headBytes, 0);
  const dv = new DataView(out.buffer);
  let o = headBytes.length;
  for (let i = 0; i < nv; i++) {
    dv.setFloat32(o, p[3 * i], true);
    dv.setFloat32(o + 4, p[3 * i + 1], true);
    dv.setFloat32(o + 8, p[3 * i + 2], true);
    o += 12;
    if (col) {
      out[o] = col[3 * i];
      out[o + 1] = col[3 * i + 1];
      out[o + 2] = col[3 * i + 2];
      o += 3;
    }
  }
  for (let i = 0; i < nf; i++) {
    out[o] = 3;
    dv.setInt32(o + 1, f[3 * i], true);
    dv.setInt32(o + 5, f[3 * i + 1], true);
    dv.setInt32(o + 9, f[3 * i + 2], true);
    o += 13;
  }
  return out;
}

type ScalarType = 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'f32' | 'f64';

const TYPES: Record<string, ScalarType> = {
  char: 'i8', int8: 'i8', uchar: 'u8', uint8: 'u8', short: 'i16', int16: 'i16', ushort: 'u16', uint16: 'u16',
  int: 'i32', int32: 'i32', uint: 'u32', uint32: 'u32', float: 'f32', float32: 'f32', double: 'f64', float64: 'f64',
};
const SIZES: Record<ScalarType, number> = { i8: 1, u8: 1, i16: 2, u16: 2, i32: 4, u32: 4, f32: 4, f64: 8 };

interface Prop {
  name: string;
  type: ScalarType;
  /** For list properties: the count type. */
  countType: ScalarType | null;
}

interface Element {
  name: string;
  count: number;
  props: Prop[];
}

/** Read an ascii or binary_little_endian PLY mesh. */
export function readPly(bytes: Uint8Array, file: string): PlyMesh {
  sniffNotAFile(bytes, file, 'a PLY mesh');
  const fail: (m: string) => never = (m) => {
    throw new FormatError(file, m);
  };
  if (!(bytes[0] === 0x70 && bytes[1] === 0x6c && bytes[2] === 0x79 && (bytes[3] === 0x0a || bytes[3] === 0x0d))) {
    fail(`not a PLY file (it must start with "ply")`);
  }
  // Header: lines up to and including "end_header".
  let headerEnd = -1;
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length && i < 1 << 20; i++) {
    if (bytes[i] === 0x0a) {
      const line = String.fromCharCode(...bytes.subarray(start, i)).replace(/\r$/, '').trim();
      lines.push(line);
      start = i + 1;
      if (line === 'end_header') {
        headerEnd = start;
        break;
      }
    }
  }
  if (headerEnd < 0) fail('truncated or bad PLY header (no end_header line)');
  let format = '';
  const elements: Element[] = [];
  for (const line of lines.slice(1)) {
    const t = line.split(/\s+/);
    if (t[0] === 'format') {
      format = t[1];
      if (t[2] !== '1.0') fail(`unsupported PLY version ${t[2]}`);
    } else if (t[0] === 'element') {
      const count = Number(t[2]);
      if (t.length !== 3 || !Number.isSafeInteger(count) || count < 0) fail(`bad element line ${JSON.stringify(line)}`);
      elements.push({ name: t[1], count, props: [] });
    } else if (t[0] === 'property') {
      const el = elements[elements.length - 1];
      if (!el) fail('property before any element');
      if (t[1] === 'list') {
        const ct = TYPES[t[2]];
        const it = TYPES[t[3]];
        if (!ct || !it || t.length !== 5) fail(`bad list property ${JSON.stringify(line)}`);
        el.props.push({ name: t[4], type: it, countType: ct });
      } else {
        const ty = TYPES[t[1]];
        if (!ty || t.length !== 3) fail(`bad property ${JSON.stringify(line)}`);
        el.props.push({ name: t[2], type: ty, countType: null });
      }
    } else if (t[0] === 'comment' || t[0] === 'obj_info' || t[0] === 'end_header' || t[0] === '') {
      // ignored
    } else fail(`unexpected PLY header line ${JSON.stringify(line)}`);
  }
  if (format === 'binary_big_endian') fail('binary_big_endian PLY files are not supported');
  if (format !== 'ascii' && format !== 'binary_little_endian') fail(`unknown PLY format ${JSON.stringify(format)}`);
  const vert = elements.find((e) => e.name === 'vertex');
  if (!vert) fail('no vertex element');
  const pidx = (el: Element, name: string) => el.props.findIndex((p) => p.name === name && p.countType === null);
  const xi = pidx(vert, 'x');
  const yi = pidx(vert, 'y');
  const zi = pidx(vert, 'z');
  if (xi < 0 || yi < 0 || zi < 0) fail('vertex element needs x, y and z properties');
  const ri = pidx(vert, 'red');
  const gi = pidx(vert, 'green');
  const bi = pidx(vert, 'blue');
  const hasColor = ri >= 0 && gi >= 0 && bi >= 0;
  const nv = vert.count;
  // Each vertex takes at least one byte per property (binary) or two characters per value (ascii):
  // reject impossible counts before allocating.
  const minRow = format === 'ascii' ? 2 * vert.props.length : vert.props.reduce((n, p) => n + SIZES[p.countType ?? p.type], 0);
  if (nv * minRow > bytes.length - headerEnd + 1) fail(`truncated: the header declares ${nv} vertices but the file is only ${bytes.length} bytes`);

  // Value source: binary cursor or ascii token stream.
  let pos = headerEnd;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let tokens: string[] = [];
  let ti = 0;
  if (format === 'ascii') {
    tokens = new TextDecoder().decode(bytes.subarray(headerEnd)).split(/\s+/).filter((s) => s !== '');
  }
  const read = (type: ScalarType, what: string): number => {
    if (format === 'ascii') {
      if (ti >= tokens.length) fail(`truncated: the file ended while reading ${what}`);
      const s = tokens[ti++];
      const v = Number(s);
      if (!Number.isFinite(v)) fail(`bad number ${JSON.stringify(s)} in ${what}`);
      if (type[0] !== 'f' && !Number.isInteger(v)) fail(`expected an integer in ${what}, got ${s}`);
      return v;
    }
    const n = SIZES[type];
    if (pos + n > bytes.length) fail(`truncated at byte ${bytes.length} while reading ${what}`);
    const p = pos;
    pos += n;
    switch (type) {
      case 'i8': return dv.getInt8(p);
      case 'u8': return dv.getUint8(p);
      case 'i16': return dv.getInt16(p, true);
      case 'u16': return dv.getUint16(p, true);
      case 'i32': return dv.getInt32(p, true);
      case 'u32': return dv.getUint32(p, true);
      case 'f32': return dv.getFloat32(p, true);
      default: return dv.getFloat64(p, true);
    }
  };

  const positions = new Float64Array(nv * 3);
  const colors = hasColor ? new Uint8Array(nv * 3) : null;
  const faces: number[] = [];
  let sawFaces = false;
  for (const el of elements) {
    const isVert = el === vert;
    const isFace = el.name === 'face' && !sawFaces;
    const listIdx = isFace ? el.props.findIndex((p) => p.countType !== null && (p.name === 'vertex_indices' || p.name === 'vertex_index')) : -1;
    if (isFace) {
      sawFaces = true;
      if (listIdx < 0) fail('face element needs a vertex_indices list property');
    }
    const row = new Array<number>(el.props.length);
    for (let r = 0; r < el.count; r++) {
      for (let k = 0; k < el.props.length; k++) {
        const p = el.props[k];
        const what = `${el.name} ${r} property ${p.name}`;
        if (p.countType === null) {
          row[k] = read(p.type, what);
          continue;
        }
        const n = read(p.countType, what);
        if (!Number.isInteger(n) || n < 0) fail(`bad list length ${n} in ${what}`);
        if (k === listIdx) {
          if (n < 3) fail(`face ${r} has ${n} corners; at least 3 are needed`);
          const c: number[] = [];
          for (let j = 0; j < n; j++) {
            const v = read(p.type, what);
            if (!(Number.isInteger(v) && v >= 0 && v < nv)) fail(`face ${r} uses vertex ${v}, out of range [0, ${nv})`);
            c.push(v);
          }
          for (let j = 1; j + 1 < n; j++) faces.push(c[0], c[j], c[j + 1]);
        } else {
          if (format === 'binary_little_endian' && pos + n * SIZES[p.type] > bytes.length) fail(`truncated at byte ${bytes.length} while reading ${what}`);
          for (let j = 0; j < n; j++) read(p.type, what);
        }
      }
      if (isVert) {
        positions[3 * r] = row[xi];
        positions[3 * r + 1] = row[yi];
        positions[3 * r + 2] = row[zi];
        if (colors) {
          const ty = vert.props[ri].type;
          const scale = ty[0] === 'f' ? 255 : 1;
          colors[3 * r] = Math.max(0, Math.min(255, Math.round(row[ri] * scale)));
          colors[3 * r + 1] = Math.max(0, Math.min(255, Math.round(row[gi] * scale)));
          colors[3 * r + 2] = Math.max(0, Math.min(255, Math.round(row[bi] * scale)));
        }
      }
    }
  }
  return { positions, faces: Uint32Array.from(faces), colors };
}
