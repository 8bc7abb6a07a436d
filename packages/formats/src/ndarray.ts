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
