// JavaScript forms of the Python values the pickle reader returns and the writer accepts.
//
// Mapping (reader): None → null; bool → boolean; int → number (bigint beyond ±2^53); float → number;
// unicode str → string; Python-2 str, bytes and bytearray → Uint8Array (raw bytes, never decoded);
// list → Array; tuple → PyTuple (an Array subclass); dict → PyDict (a Map); set → Set; frozenset →
// PyFrozenSet; numpy arrays → NdArray; chumpy Ch → ChumpyArray; scipy csc_matrix → CscMatrix.
//
// Dict keys and set members that are Python-2 str/bytes become latin-1 JS strings (each byte one
// UTF-16 code unit), so `dict.get('v_template')` works for Python 2 and Python 3 pickles alike.

import { FormatError } from './errors.js';
import { NdArray } from './ndarray.js';

export type PyKey = string | number | bigint;

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | PyDict
  | Set<PyValue>
  | NdArray
  | ChumpyArray
  | CscMatrix
  | PyDType
  | ObjectArray
  | PyFloat
  | PyUnicode
  | TorchTensor;

/** A Python dict. Insertion order is kept (and is the order the writer emits). */
export class PyDict extends Map<PyKey, PyValue> {
  /** `PyDict.from({a: 1, b: 'x'})`: build from a plain object (keys in object order). */
  static fromObject(obj: Record<string, PyValue>): PyDict {
    return new PyDict(Object.entries(obj));
  }
}

/**
 * A Python tuple. It is a real Array (indexing, length, iteration work as usual); the class only
 * tells the writer to emit a tuple instead of a list. `map`/`filter` results are plain arrays.
 */
export class PyTuple<T = PyValue> extends Array<T> {
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }
}

/** Build a tuple: `tuple(1, 2, 3)`. */
export function tuple<T extends PyValue>(...items: T[]): PyTuple<T> {
  const t = new PyTuple<T>();
  for (const it of items) t.push(it);
  return t;
}

/** A Python frozenset (a Set that the writer emits as `frozenset`). */
export class PyFrozenSet<T = PyValue> extends Set<T> {}

/** Writer hint: emit this number as a Python float even when it is integral (1.0, not 1). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Writer hint: emit this string as a Python unicode string even where plain strings become py2 `str`. */
export class PyUnicode {
  constructor(readonly value: string) {}
}

/** A numpy dtype object that appeared as a value (not as an array's dtype). */
export class PyDType {
  /** numpy dtype string with byte order, e.g. '<f8', '|u1', '|O8'. */
  descr: string;
  constructor(descr: string) {
    this.descr = descr;
  }
}

/** A numpy object array (dtype `|O`): its shape and its elements in C order. */
export class ObjectArray {
  constructor(
    readonly shape: readonly number[],
    readonly items: PyValue[],
  ) {}
}

/**
 * Writer hint: emit this array as a legacy (non-zip) torch tensor
 * (`torch._utils._rebuild_tensor_v2(torch.storage._load_from_bytes(...), ...)`), as DECA's
 * landmark_embedding.npy stores some of its arrays. The reader returns such tensors as plain NdArrays.
 */
export class TorchTensor {
  constructor(readonly array: NdArray) {}
}

/**
 * A chumpy `Ch` object. `x` is the payload array; `state` is the whole pickled state dict
 * (`x`, `_dirty_vars`, `_itr`, `_make_dense`, `_make_sparse`, `_depends_on_deps`, ...).
 */
export class ChumpyArray {
  readonly state: PyDict;
  constructor(
    readonly x: NdArray,
    state?: PyDict,
  ) {
    this.state = state ?? ChumpyArray.defaultState(x);
  }

  /** The state dict `chumpy.ch.Ch(x).__getstate__()` returns for a plain `Ch(x)`. */
  static defaultState(x: NdArray): PyDict {
    return new PyDict([
      ['_dirty_vars', new Set<PyValue>(['x'])],
      ['_itr', null],
      ['_make_dense', false],
      ['_make_sparse', false],
      ['_depends_on_deps', new PyDict()],
      ['x', x],
    ]);
  }
}

function indexArrayToNumbers(arr: NdArray): Float64Array | Int32Array | Uint32Array | number[] {
  const d = arr.data;
  if (d instanceof Int32Array || d instanceof Uint32Array || d instanceof Float64Array) return d;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    const out = new Array<number>(d.length);
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
    return out;
  }
  return Array.from(d as ArrayLike<number>);
}

/** A scipy.sparse CSC matrix (compressed sparse columns). */
export class CscMatrix {
  /** The pickled state dict when read from a file (other keys such as `maxprint` are kept here). */
  readonly state: PyDict | null;
  constructor(
    readonly shape: readonly [number, number],
    readonly data: NdArray,
    readonly indices: NdArray,
    readonly indptr: NdArray,
    state?: PyDict | null,
  ) {
    this.state = state ?? null;
  }

  get nnz(): number {
    const p = this.indptr.data;
    return p.length === 0 ? 0 : Number(p[p.length - 1]);
  }

  /** Check the CSC structure (sizes, monotone indptr, row indices in range); throws FormatError. */
  validate(file = 'csc_matrix'): void {
    const [rows, cols] = this.shape;
    const what = `csc_matrix of shape (${rows}, ${cols})`;
    if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || rows < 0 || cols < 0) {
      throw new FormatError(file, `${what}: the shape must be two non-negative integers`);
    }
    for (const [name, a] of [['data', this.data], ['indices', this.indices], ['indptr', this.indptr]] as const) {
      if (a.shape.length !== 1) throw new FormatError(file, `${what}: ${name} must be 1-D, got ${a.describe()}`);
    }
    if (this.data.dtype === '|b1') throw new FormatError(file, `${what}: boolean data is not supported`);
    for (const [name, a] of [['indices', this.indices], ['indptr', this.indptr]] as const) {
      if (a.dtype[1] === 'f' || a.dtype === '|b1') {
        throw new FormatError(file, `${what}: ${name} must be an integer array, got ${a.describe()}`);
      }
    }
    if (this.indptr.size !== cols + 1) {
      throw new FormatError(file, `${what}: indptr has ${this.indptr.size} entries, expected cols + 1 = ${cols + 1}`);
    }
    const p = indexArrayToNumbers(this.indptr);
    if (p[0] !== 0) throw new FormatError(file, `${what}: indptr[0] is ${p[0]}, expected 0`);
    for (let c = 0; c < cols; c++) {
      if (!(p[c + 1] >= p[c])) throw new FormatError(file, `${what}: indptr decreases at column ${c}`);
    }
    const nnz = p[cols];
    if (this.indices.size < nnz || this.data.size < nnz) {
      throw new FormatError(file, `${what}: indptr says ${nnz} stored values but indices has ${this.indices.size} and data ${this.data.size}`);
    }
    const idx = indexArrayToNumbers(this.indices);
    for (let k = 0; k < nnz; k++) {
      const r = idx[k];
      if (!(r >= 0 && r < rows)) throw new FormatError(file, `${what}: row index ${r} at position ${k} is out of range [0, ${rows})`);
    }
  }

  /** The dense matrix in row-major order (rows × cols float64); duplicate entries are summed, as scipy does. */
  toDense(file = 'csc_matrix'): Float64Array {
    this.validate(file);
    const [rows, cols] = this.shape;
    if (rows * cols > 2 ** 31) throw new FormatError(file, `csc_matrix of shape (${rows}, ${cols}) is too large to make dense`);
    const out = new Float64Array(rows * cols);
    const p = indexArrayToNumbers(this.indptr);
    const idx = indexArrayToNumbers(this.indices);
    const d = this.data.data;
    for (let c = 0; c < cols; c++) {
      for (let k = p[c]; k < p[c + 1]; k++) out[idx[k] * cols + c] += Number(d[k]);
    }
    return out;
  }
}
