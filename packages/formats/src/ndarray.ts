// The in-memory form of a numpy array, shared by the pickle, .npy and .npz readers and writers.
//
// Convention (written once, here): arrays are C order (row-major), little-endian, and `data` holds
// exactly prod(shape) elements. Readers reject Fortran order and big-endian data with a clear error
// rather than silently transposing or byte-swapping.

export type TypedArray =
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** numpy dtype descriptors this project reads and writes (`descr` strings as numpy writes them). */
export type DTypeDescr = '<f8' | '<f4' | '<i8' | '<u8' | '<i4' | '<u4' | '<i2' | '<u2' | '|i1' | '|u1' | '|b1';

export class NdArray<T extends TypedArray = TypedArray> {
  constructor(
    readonly dtype: DTypeDescr,
    readonly shape: readonly number[],
    readonly data: T,
  ) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) {
      throw new Error(`NdArray: data has ${data.length} elements but shape [${shape.join(', ')}] needs ${n}`);
    }
  }

  get size(): number {
    return this.data.length;
  }

  /** "<f8 [5023, 3]": how error messages describe an array. */
  describe(): string {
    return `${this.dtype} [${this.shape.join(', ')}]`;
  }
}

// ---------------------------------------------------------------------------------------------------
// Helpers shared by the readers and writers (added; the class above is the stable API).

type TypedArrayCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray; new (length: number): TypedArray; BYTES_PER_ELEMENT: number };

interface DTypeInfo {
  readonly itemsize: number;
  readonly ctor: TypedArrayCtor;
  /** numpy kind letter + itemsize, as `numpy.dtype('f8', 0, 1)` spells it in pickles. */
  readonly code: string;
}

const DTYPES: Record<DTypeDescr, DTypeInfo> = {
  '<f8': { itemsize: 8, ctor: Float64Array as unknown as TypedArrayCtor, code: 'f8' },
  '<f4': { itemsize: 4, ctor: Float32Array as unknown as TypedArrayCtor, code: 'f4' },
  '<i8': { itemsize: 8, ctor: BigInt64Array as unknown as TypedArrayCtor, code: 'i8' },
  '<u8': { itemsize: 8, ctor: BigUint64Array as unknown as TypedArrayCtor, code: 'u8' },
  '<i4': { itemsize: 4, ctor: Int32Array as unknown as TypedArrayCtor, code: 'i4' },
  '<u4': { itemsize: 4, ctor: Uint32Array as unknown as TypedArrayCtor, code: 'u4' },
  '<i2': { itemsize: 2, ctor: Int16Array as unknown as TypedArrayCtor, code: 'i2' },
  '<u2': { itemsize: 2, ctor: Uint16Array as unknown as TypedArrayCtor, code: 'u2' },
  '|i1': { itemsize: 1, ctor: Int8Array as unknown as TypedArrayCtor, code: 'i1' },
  '|u1': { itemsize: 1, ctor: Uint8Array as unknown as TypedArrayCtor, code: 'u1' },
  '|b1': { itemsize: 1, ctor: Uint8Array as unknown as TypedArrayCtor, code: 'b1' },
};

/** Every dtype descriptor this package handles. */
export const DTYPE_DESCRS: readonly DTypeDescr[] = Object.keys(DTYPES) as DTypeDescr[];

export function isDTypeDescr(s: string): s is DTypeDescr {
  return Object.prototype.hasOwnProperty.call(DTYPES, s);
}

export function dtypeItemsize(descr: DTypeDescr): number {
  return DTYPES[descr].itemsize;
}

/** 'f8', 'u4', 'b1': the numpy type code without byte order. */
export function dtypeCode(descr: DTypeDescr): string {
  return DTYPES[descr].code;
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('@pixel3dmm/formats needs a little-endian host (typed arrays are used as little-endian views)');
}

/**
 * Interpret little-endian `bytes` as `descr` elements. Zero-copy when `bytes` is suitably aligned,
 * otherwise the bytes are copied into a fresh (aligned) buffer. The caller checks the length.
 */
export function typedArrayFromBytes(descr: DTypeDescr, bytes: Uint8Array): TypedArray {
  const info = DTYPES[descr];
  if (bytes.length % info.itemsize !== 0) {
    throw new RangeError(`${bytes.length} bytes is not a whole number of ${descr} elements`);
  }
  const n = bytes.length / info.itemsize;
  if (bytes.byteOffset % info.itemsize === 0) return new info.ctor(bytes.buffer, bytes.byteOffset, n);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return new info.ctor(copy.buffer, 0, n);
}

/** A typed array of `n` zeros for `descr`. */
export function allocTypedArray(descr: DTypeDescr, n: number): TypedArray {
  return new DTYPES[descr].ctor(n);
}

/** The raw little-endian bytes of an array's data (a view, not a copy). */
export function ndarrayBytes(arr: NdArray): Uint8Array {
  return new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
}

/** Check that a typed array's class matches the descriptor (e.g. Float64Array for '<f8'). */
export function typedArrayMatches(descr: DTypeDescr, data: TypedArray): boolean {
  return data.constructor === (DTYPES[descr].ctor as unknown);
}

/** The element count of a shape, or -1 when it is not a list of safe non-negative integers. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return -1;
    n *= d;
    if (!Number.isSafeInteger(n)) return -1;
  }
  return n;
}

/** Convenience constructor: `ndarray('<f8', [2, 3], [1, 2, 3, 4, 5, 6])`. */
export function ndarray(descr: DTypeDescr, shape: readonly number[], values: ArrayLike<number | bigint> | TypedArray): NdArray {
  const n = shapeSize(shape);
  if (n < 0) throw new RangeError(`ndarray: bad shape [${shape.join(', ')}]`);
  const data = allocTypedArray(descr, n);
  if (values.length !== n) throw new RangeError(`ndarray: ${values.length} values for shape [${shape.join(', ')}]`);
  const big = data instanceof BigInt64Array || data instanceof BigUint64Array;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    (data as unknown as (number | bigint)[])[i] = big ? BigInt(v) : Number(v);
  }
  return new NdArray(descr, shape, data);
}
