// numpy .npy files (format versions 1.0, 2.0 and 3.0), written from numpy's NEP 1 format description:
//
//   "\x93NUMPY" major minor  header_len (u16 for 1.x, u32 for 2.x/3.x)  header  data
//
// The header is a Python dict literal {'descr': '<f8', 'fortran_order': False, 'shape': (5023, 3), }
// padded with spaces and ended by '\n' (latin-1 for 1.x/2.x, UTF-8 for 3.x). Object arrays ('|O')
// store a pickle of the whole ndarray instead of raw data; readNpyObject reads those.

import { FormatError, previewBytes, sniffNotAFile } from './errors.js';
import { NdArray, dtypeItemsize, ndarrayBytes, shapeSize, typedArrayFromBytes, typedArrayMatches } from './ndarray.js';
import { latin1String, readPickleAt, resolveDescr, type ReadPickleOptions } from './pickle.js';
import { writePickle } from './pickle-writer.js';
import { ObjectArray, type PyValue } from './pytypes.js';

export interface NpyHeader {
  version: [number, number];
  /** The dtype string as written ('<f8', '|O', ...). */
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** Byte offset of the array data (or of the pickle for object arrays). */
  dataOffset: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

type Lit = string | boolean | number | Lit[] | null;

/** Parse the small subset of Python literals an .npy header uses. */
function parseHeaderDict(text: string, fail: (m: string) => never): Map<string, Lit> {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const expect = (c: string) => {
    ws();
    if (text[i] !== c) fail(`bad .npy header: expected '${c}' at character ${i} of ${JSON.stringify(text.slice(0, 120))}`);
    i++;
  };
  const value = (depth: number): Lit => {
    ws();
    if (depth > 4) fail('bad .npy header: nested too deeply');
    const c = text[i];
    if (c === "'" || c === '"') {
      const j = text.indexOf(c, i + 1);
      if (j < 0) fail('bad .npy header: unterminated string');
      const s = text.slice(i + 1, j);
      if (s.includes('\\')) fail('bad .npy header: escapes in strings are not supported');
      i = j + 1;
      return s;
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const items: Lit[] = [];
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          return items;
        }
        items.push(value(depth + 1));
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== close) fail(`bad .npy header: expected ',' or '${close}' at character ${i}`);
      }
    }
    const m = /^(True|False|None|[+-]?\d+L?)/.exec(text.slice(i, i + 32));
    if (!m) fail(`bad .npy header: unexpected ${JSON.stringify(text.slice(i, i + 20))}`);
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number(m[0].replace(/L$/, ''));
  };
  const out = new Map<string, Lit>();
  expect('{');
  for (;;) {
    ws();
    if (text[i] === '}') {
      i++;
      break;
    }
    const k = value(0);
    if (typeof k !== 'string') fail('bad .npy header: keys must be strings');
    expect(':');
    out.set(k, value(0));
    ws();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') fail(`bad .npy header: expected ',' or '}' at character ${i}`);
  }
  ws();
  if (i !== text.length) fail(`bad .npy header: unexpected text after the dict: ${JSON.stringify(text.slice(i, i + 20))}`);
  return out;
}

/** Parse and validate an .npy header. */
export function readNpyHeader(bytes: Uint8Array, file: string): NpyHeader {
  sniffNotAFile(bytes, file, 'a numpy .npy file');
  const fail: (m: string) => never = (m) => {
    throw new FormatError(file, m);
  };
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) {
    if (bytes.length >= 2 && bytes[0] === 0x50 && bytes[1] === 0x4b) fail('this is a ZIP archive (an .npz?), not a .npy file');
    if (bytes.length >= 1 && bytes[0] === 0x80) fail('this looks like a Python pickle, not a .npy file');
    fail(`not a .npy file (expected the magic "\\x93NUMPY", got ${previewBytes(bytes)})`);
  }
  const major = bytes[6];
  const minor = bytes[7];
  let hlen: number;
  let start: number;
  if (major === 1) {
    hlen = bytes[8] | (bytes[9] << 8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail(`truncated at byte ${bytes.length} while reading the .npy header length`);
    hlen = (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16)) + bytes[11] * 0x1000000;
    start = 12;
  } else {
    return fail(`unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  }
  if (start + hlen > bytes.length) fail(`truncated at byte ${bytes.length} while reading the .npy header (${hlen} bytes declared)`);
  const raw = bytes.subarray(start, start + hlen);
  const text = major === 3 ? new TextDecoder('utf-8', { fatal: false }).decode(raw) : latin1String(raw);
  const d = parseHeaderDict(text, fail);
  const descr = d.get('descr');
  const fortran = d.get('fortran_order');
  const shapeL = d.get('shape');
  for (const k of d.keys()) if (!['descr', 'fortran_order', 'shape'].includes(k)) fail(`bad .npy header: unexpected key '${k}'`);
  if (typeof descr !== 'string') fail(`bad .npy header: 'descr' must be a dtype string (structured dtypes are not supported), got ${JSON.stringify(descr)}`);
  if (typeof fortran !== 'boolean') fail(`bad .npy header: 'fortran_order' must be True or False`);
  if (!Array.isArray(shapeL) || !shapeL.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    fail(`bad .npy header: 'shape' must be a tuple of non-negative integers, got ${JSON.stringify(shapeL)}`);
  }
  return { version: [major, minor], descr, fortranOrder: fortran, shape: shapeL as number[], dataOffset: start + hlen };
}

/** Read a numeric .npy file. */
export function readNpy(bytes: Uint8Array, file: string): NdArray {
  const h = readNpyHeader(bytes, file);
  const fail: (m: string) => never = (m) => {
    throw new FormatError(file, m);
  };
  if (/^[|<>=]?O/.test(h.descr)) fail(`this .npy holds a Python object array (dtype '${h.descr}'); read it with readNpyObject`);
  const descr = resolveDescr(h.descr.length >= 2 && '<>|='.includes(h.descr[0]) ? h.descr : `=${h.descr}`, fail);
  if (descr === 'object') return fail('object arrays need readNpyObject');
  if (h.fortranOrder && h.shape.filter((s) => s !== 1).length > 1) {
    fail(`array of shape (${h.shape.join(', ')}) is stored in Fortran (column-major) order, which is not supported; re-save it with np.ascontiguousarray`);
  }
  const n = shapeSize(h.shape);
  const nbytes = n * dtypeItemsize(descr);
  if (n < 0 || !Number.isSafeInteger(nbytes)) fail(`shape (${h.shape.join(', ')}) is too large`);
  const have = bytes.length - h.dataOffset;
  if (have < nbytes) fail(`truncated at byte ${bytes.length}: a ${descr} array of shape (${h.shape.join(', ')}) needs ${nbytes} data bytes but only ${have} are present`);
  if (have > nbytes) fail(`${have - nbytes} unexpected bytes after the data of a ${descr} array of shape (${h.shape.join(', ')})`);
  return new NdArray(descr, h.shape, typedArrayFromBytes(descr, bytes.subarray(h.dataOffset)));
}

/**
 * Read an object-dtype .npy ('|O'), whose payload is a pickle of the ndarray. For a 0-d array (as in
 * DECA's landmark_embedding.npy) the single element is returned; otherwise an ObjectArray.
 */
export function readNpyObject(bytes: Uint8Array, file: string, opts: Omit<ReadPickleOptions, 'offset'> = {}): PyValue {
  const h = readNpyHeader(bytes, file);
  if (!/^[|<>=]?O/.test(h.descr)) {
    throw new FormatError(file, `expected a Python object array (dtype '|O'), got dtype '${h.descr}'; read it with readNpy`);
  }
  if (h.dataOffset >= bytes.length) throw new FormatError(file, `truncated at byte ${bytes.length}: the object array's pickle is missing`);
  const { value } = readPickleAt(bytes, file, { ...opts, offset: h.dataOffset });
  if (!(value instanceof ObjectArray)) throw new FormatError(file, 'the pickle inside this object .npy is not a numpy object array');
  if (value.shape.length !== h.shape.length || value.shape.some((s, k) => s !== h.shape[k])) {
    throw new FormatError(file, `the header says shape (${h.shape.join(', ')}) but the pickled array has shape (${value.shape.join(', ')})`);
  }
  return value.shape.length === 0 ? value.items[0] : value;
}

function pyTupleRepr(shape: readonly number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** The header numpy itself writes (sorted keys, growth padding, 64-byte alignment, version 1.0 when it fits). */
function npyHeader(descr: string, shape: readonly number[]): Uint8Array {
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${pyTupleRepr(shape)}, }`;
  if (shape.length > 0) h += ' '.repeat(Math.max(0, 21 - String(shape[0]).length));
  let version = 1;
  let pre = 10;
  let hlen = h.length + 1;
  let pad = 64 - ((pre + hlen) % 64);
  if (hlen + pad > 0xffff) {
    version = 2;
    pre = 12;
    pad = 64 - ((pre + hlen) % 64);
  }
  const total = hlen + pad;
  const out = new Uint8Array(pre + total);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  if (version === 1) {
    out[8] = total & 0xff;
    out[9] = total >> 8;
  } else new DataView(out.buffer).setUint32(8, total, true);
  for (let i = 0; i < h.length; i++) out[pre + i] = h.charCodeAt(i);
  out.fill(0x20, pre + h.length, pre + h.length + pad);
  out[out.length - 1] = 0x0a;
  return out;
}

/** Write an array as .npy (byte-identical to numpy's `np.save` for C-order little-endian arrays). */
export function writeNpy(arr: NdArray): Uint8Array {
  if (!typedArrayMatches(arr.dtype, arr.data)) throw new FormatError('writeNpy', `array ${arr.describe()} holds a ${arr.data.constructor.name}`);
  const head = npyHeader(arr.dtype, arr.shape);
  const data = ndarrayBytes(arr);
  const out = new Uint8Array(head.length + data.length);
  out.set(head, 0);
  out.set(data, head.length);
  return out;
}

/**
 * Write a 0-d object .npy whose payload is a pickle of `value` (like DECA's landmark_embedding.npy).
 * Wrap arrays in `TorchTensor` to store them as legacy torch tensors. Default pickle protocol: 3.
 */
export function writeNpyObject(value: PyValue, opts: { protocol?: 2 | 3 } = {}): Uint8Array {
  const head = npyHeader('|O', []);
  const body = writePickle(new ObjectArray([], [value]), { protocol: opts.protocol ?? 3 });
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}
