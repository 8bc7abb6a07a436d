// A safe Python pickle reader ("unpickler") written from the pickle opcode specification
// (CPython Lib/pickletools.py documentation, protocols 0-5).
//
// Safety model: nothing is ever executed. GLOBAL / STACK_GLOBAL may only name the allow-listed
// numpy / chumpy / scipy.sparse / legacy-torch / builtins callables below, and REDUCE / NEWOBJ / BUILD
// on them are interpreted by this file (they build NdArray, ChumpyArray, CscMatrix, ... values).
// Every length, index and memo key is checked against the input, so a truncated or hostile file gives
// a FormatError, never a crash, a hang or an allocation larger than the input.
//
// Byte payloads (BINSTRING, BINBYTES, BYTEARRAY8, array data) are zero-copy views into `bytes` when
// aligned; array data that is not aligned for its element size is copied into a fresh buffer. Do not
// mutate the input buffer while you use the result.

import { FormatError, sniffNotAFile } from './errors.js';
import { NdArray, isDTypeDescr, shapeSize, typedArrayFromBytes, dtypeItemsize, type DTypeDescr, type TypedArray } from './ndarray.js';
import {
  ChumpyArray,
  CscMatrix,
  ObjectArray,
  PyDType,
  PyDict,
  PyFrozenSet,
  PyTuple,
  type PyKey,
  type PyValue,
} from './pytypes.js';

export interface ReadPickleOptions {
  /**
   * Resolves persistent ids (PERSID / BINPERSID). Without it a persistent id is a FormatError.
   * The id is passed as read (a string for PERSID, any value for BINPERSID).
   */
  persistentLoad?: (pid: unknown) => unknown;
  /** Byte offset at which the pickle starts (default 0). */
  offset?: number;
}

// ---------------------------------------------------------------------------------------------------
// Internal (non-value) objects that live on the VM stack.

abstract class Internal {
  abstract describe(): string;
}

type GlobalKind =
  | 'reconstruct'
  | 'ndarray'
  | 'dtype'
  | 'frombuffer'
  | 'scalar'
  | 'codecs_encode'
  | 'set'
  | 'frozenset'
  | 'object'
  | 'bytes'
  | 'bytearray'
  | 'ordereddict'
  | 'copyreg_reconstructor'
  | 'ch'
  | 'csc'
  | 'torch_rebuild_v2'
  | 'torch_rebuild'
  | 'torch_load_from_bytes'
  | 'torch_storage';

class GlobalRef extends Internal {
  constructor(
    readonly path: string,
    readonly kind: GlobalKind,
    readonly storageDtype: DTypeDescr | null = null,
  ) {
    super();
  }
  describe(): string {
    return `a reference to ${this.path}`;
  }
}

/** An object created by REDUCE / NEWOBJ that becomes a value when BUILD gives it its state. */
class Pending extends Internal {
  result: PyValue | undefined = undefined;
  constructor(
    readonly kind: 'ndarray' | 'ch' | 'csc',
    readonly at: number,
  ) {
    super();
  }
  describe(): string {
    const what = { ndarray: 'numpy array', ch: 'chumpy Ch object', csc: 'scipy csc_matrix' }[this.kind];
    return this.result === undefined
      ? `a ${what} (created at byte ${this.at}) that never received its state (BUILD)`
      : `a ${what} (created at byte ${this.at}) referenced from inside its own state`;
  }
}

/** A legacy torch storage (from a persistent id in a torch.save stream). */
class TorchStorage extends Internal {
  constructor(
    readonly dtype: DTypeDescr,
    readonly numel: number,
    readonly data: TypedArray | null,
  ) {
    super();
  }
  describe(): string {
    return `a torch storage (${this.dtype}, ${this.numel} elements)`;
  }
}

const PLACEHOLDER = Symbol('placeholder');

const ALLOWED_GLOBALS = new Map<string, GlobalKind>([
  ['numpy.core.multiarray._reconstruct', 'reconstruct'],
  ['numpy._core.multiarray._reconstruct', 'reconstruct'],
  ['numpy.ndarray', 'ndarray'],
  ['numpy.dtype', 'dtype'],
  ['numpy.core.numeric._frombuffer', 'frombuffer'],
  ['numpy._core.numeric._frombuffer', 'frombuffer'],
  ['numpy.core.multiarray.scalar', 'scalar'],
  ['numpy._core.multiarray.scalar', 'scalar'],
  ['_codecs.encode', 'codecs_encode'],
  ['__builtin__.set', 'set'],
  ['builtins.set', 'set'],
  ['__builtin__.frozenset', 'frozenset'],
  ['builtins.frozenset', 'frozenset'],
  ['__builtin__.object', 'object'],
  ['builtins.object', 'object'],
  ['__builtin__.bytes', 'bytes'],
  ['builtins.bytes', 'bytes'],
  ['__builtin__.bytearray', 'bytearray'],
  ['builtins.bytearray', 'bytearray'],
  ['collections.OrderedDict', 'ordereddict'],
  ['copy_reg._reconstructor', 'copyreg_reconstructor'],
  ['copyreg._reconstructor', 'copyreg_reconstructor'],
  ['chumpy.ch.Ch', 'ch'],
  ['scipy.sparse.csc.csc_matrix', 'csc'],
  ['scipy.sparse._csc.csc_matrix', 'csc'],
  ['torch._utils._rebuild_tensor_v2', 'torch_rebuild_v2'],
  ['torch._utils._rebuild_tensor', 'torch_rebuild'],
  ['torch.storage._load_from_bytes', 'torch_load_from_bytes'],
  ['torch.FloatStorage', 'torch_storage'],
  ['torch.DoubleStorage', 'torch_storage'],
  ['torch.LongStorage', 'torch_storage'],
  ['torch.IntStorage', 'torch_storage'],
  ['torch.ShortStorage', 'torch_storage'],
  ['torch.CharStorage', 'torch_storage'],
  ['torch.ByteStorage', 'torch_storage'],
  ['torch.BoolStorage', 'torch_storage'],
]);

const TORCH_STORAGE_DTYPES: Record<string, DTypeDescr> = {
  'torch.FloatStorage': '<f4',
  'torch.DoubleStorage': '<f8',
  'torch.LongStorage': '<i8',
  'torch.IntStorage': '<i4',
  'torch.ShortStorage': '<i2',
  'torch.CharStorage': '|i1',
  'torch.ByteStorage': '|u1',
  'torch.BoolStorage': '|b1',
};

/** The globals this reader accepts (module.name), for documentation and error messages. */
export const ALLOWED_PICKLE_GLOBALS: readonly string[] = [...ALLOWED_GLOBALS.keys()];

const OPNAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT',
  0x4a: 'BININT', 0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID',
  0x51: 'BINPERSID', 0x52: 'REDUCE', 0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND', 0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT',
  0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET', 0x69: 'INST', 0x6a: 'LONG_BINGET',
  0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

const utf8 = new TextDecoder('utf-8');

/** Bytes → JS string, one code unit per byte (true latin-1, unlike TextDecoder('latin1')). */
export function latin1String(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) {
    s += String.fromCharCode.apply(null, b.subarray(i, Math.min(b.length, i + 8192)) as unknown as number[]);
  }
  return s;
}

const MAX_NESTING = 4;

// ---------------------------------------------------------------------------------------------------

class Unpickler {
  private pos: number;
  private readonly end: number;
  private stack: unknown[] = [];
  private readonly metastack: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();
  private opPos = 0;
  private op = 0;
  private proto = 0;

  constructor(
    private readonly b: Uint8Array,
    private readonly file: string,
    start: number,
    private readonly persistentLoad: ((pid: unknown) => unknown) | undefined,
    private readonly depth: number,
    /** When true, torch tensors over storages without data are built as placeholders (first pass). */
    private readonly placeholders = false,
  ) {
    this.pos = start;
    this.end = b.length;
  }

  // ---- errors and raw reads -------------------------------------------------------------------

  private fail(msg: string): never {
    throw new FormatError(this.file, msg);
  }

  private opName(): string {
    return OPNAMES[this.op] ?? `0x${this.op.toString(16).padStart(2, '0')}`;
  }

  private bad(msg: string): never {
    this.fail(`${msg} (opcode ${this.opName()} at byte ${this.opPos})`);
  }

  private need(n: number): void {
    if (n > this.end - this.pos) this.fail(`truncated at byte ${this.end} while reading ${this.opName()}`);
  }

  private u8(): number {
    this.need(1);
    return this.b[this.pos++];
  }

  private u16(): number {
    this.need(2);
    const p = this.pos;
    this.pos += 2;
    return this.b[p] | (this.b[p + 1] << 8);
  }

  private u32(): number {
    this.need(4);
    const p = this.pos;
    this.pos += 4;
    return (this.b[p] | (this.b[p + 1] << 8) | (this.b[p + 2] << 16)) + this.b[p + 3] * 0x1000000;
  }

  private i32(): number {
    this.need(4);
    const p = this.pos;
    this.pos += 4;
    return this.b[p] | (this.b[p + 1] << 8) | (this.b[p + 2] << 16) | (this.b[p + 3] << 24);
  }

  /** An unsigned 64-bit length; anything beyond the remaining input is a truncation. */
  private u64len(): number {
    const lo = this.u32();
    const hi = this.u32();
    const n = hi * 0x100000000 + lo;
    if (hi >= 0x200000 || n > this.end - this.pos) this.fail(`truncated at byte ${this.end} while reading ${this.opName()} (it declares ${hi >= 0x200000 ? 'more than 2^53' : n} bytes)`);
    return n;
  }

  private take(n: number): Uint8Array {
    this.need(n);
    const s = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** A protocol-0 line without its trailing newline. */
  private line(): Uint8Array {
    const i = this.b.indexOf(0x0a, this.pos);
    if (i < 0 || i >= this.end) this.fail(`truncated at byte ${this.end} while reading ${this.opName()} (no end of line)`);
    const s = this.b.subarray(this.pos, i);
    this.pos = i + 1;
    return s;
  }

  private lineText(): string {
    return latin1String(this.line());
  }

  // ---- stack ------------------------------------------------------------------------------------

  private pop(): unknown {
    if (this.stack.length === 0) this.bad('stack underflow');
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length === 0) this.bad('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  private popMark(): unknown[] {
    if (this.metastack.length === 0) this.bad('no MARK on the stack');
    const items = this.stack;
    this.stack = this.metastack.pop()!;
    return items;
  }

  private memoGet(key: number): unknown {
    if (!this.memo.has(key)) this.bad(`memo key ${key} was never stored`);
    const v = this.memo.get(key);
    return v instanceof Pending && v.result !== undefined ? v.result : v;
  }

  private memoPut(key: number): void {
    if (!Number.isSafeInteger(key) || key < 0) this.bad(`bad memo key ${key}`);
    this.memo.set(key, this.top());
  }

  // ---- value helpers ------------------------------------------------------------------------------

  private int(s: string, what: string): number | bigint {
    let t = s.trim();
    if (t.endsWith('L')) t = t.slice(0, -1);
    // CPython refuses decimal ints over 4300 digits (quadratic conversion); so do we.
    if (t.length > 4300) this.bad(`${what} has ${t.length} digits, more than the 4300 CPython accepts`);
    if (!/^[+-]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)$/.test(t)) {
      this.bad(`${what} ${JSON.stringify(s.slice(0, 40))} is not an integer`);
    }
    let neg = false;
    if (t[0] === '+' || t[0] === '-') {
      neg = t[0] === '-';
      t = t.slice(1);
    }
    t = t.replace(/_/g, '');
    if (/^0[0-9]+$/.test(t) && /[1-9]/.test(t)) this.bad(`${what} ${JSON.stringify(s)} has leading zeros`);
    let v = BigInt(t);
    if (neg) v = -v;
    return bigToNumber(v);
  }

  private key(v: unknown): PyKey {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') return v;
    if (v instanceof Uint8Array) return latin1String(v);
    if (typeof v === 'boolean') return v ? 1 : 0;
    this.bad(`unsupported dict key (${describe(v)}); keys must be strings or integers`);
  }

  private setMember(v: unknown): unknown {
    return v instanceof Uint8Array ? latin1String(v) : v;
  }

  private dictOf(v: unknown, what: string): PyDict {
    if (!(v instanceof PyDict)) this.bad(`${what} must be a dict, got ${describe(v)}`);
    return v;
  }

  private tupleArgs(v: unknown, callee: string): unknown[] {
    if (!Array.isArray(v)) this.bad(`arguments of ${callee} must be a tuple, got ${describe(v)}`);
    return v;
  }

  private bytesOf(v: unknown, what: string): Uint8Array {
    if (v instanceof Uint8Array) return v;
    if (typeof v === 'string') {
      // A py2 str read as unicode (latin-1 semantics): every code unit must be a byte.
      const out = new Uint8Array(v.length);
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i);
        if (c > 0xff) this.bad(`${what} contains the character U+${c.toString(16).padStart(4, '0')}, which is not a byte`);
        out[i] = c;
      }
      return out;
    }
    this.bad(`${what} must be bytes, got ${describe(v)}`);
  }

  private textOf(v: unknown, what: string): string {
    if (typeof v === 'string') return v;
    if (v instanceof Uint8Array) return latin1String(v);
    this.bad(`${what} must be a string, got ${describe(v)}`);
  }

  private shapeOf(v: unknown, what: string): number[] {
    if (!Array.isArray(v)) this.bad(`${what} must be a tuple of integers, got ${describe(v)}`);
    const out: number[] = [];
    for (const d of v) {
      const n = typeof d === 'bigint' ? Number(d) : d;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) this.bad(`${what} has a bad dimension ${describe(d)}`);
      out.push(n);
    }
    return out;
  }

  /** numpy dtype → one of our descriptors (or 'object'), with clear errors for the rest. */
  private descrOf(dt: unknown, what: string): DTypeDescr | 'object' {
    if (!(dt instanceof PyDType)) this.bad(`${what}: expected a numpy dtype, got ${describe(dt)}`);
    return resolveDescr(dt.descr, (m) => this.bad(`${what}: ${m}`));
  }

  private makeArray(descr: DTypeDescr, shape: number[], raw: Uint8Array, what: string): NdArray {
    const n = shapeSize(shape);
    const bytes = n * dtypeItemsize(descr);
    if (n < 0 || !Number.isSafeInteger(bytes)) this.bad(`${what}: shape (${shape.join(', ')}) is too large`);
    if (raw.length !== bytes) {
      this.bad(`${what}: ${descr} array of shape (${shape.join(', ')}) needs ${bytes} bytes but the payload has ${raw.length}`);
    }
    return new NdArray(descr, shape, typedArrayFromBytes(descr, raw));
  }

  // ---- calls --------------------------------------------------------------------------------------

  private reduce(fn: unknown, argsV: unknown): unknown {
    if (!(fn instanceof GlobalRef)) this.bad(`REDUCE needs a callable, got ${describe(fn)}`);
    const args = this.tupleArgs(argsV, fn.path);
    const nargs = (lo: number, hi = lo): void => {
      if (args.length < lo || args.length > hi) {
        this.bad(`${fn.path} expects ${lo === hi ? lo : `${lo} to ${hi}`} arguments, got ${args.length}`);
      }
    };
    switch (fn.kind) {
      case 'reconstruct': {
        nargs(3);
        const cls = args[0];
        if (!(cls instanceof GlobalRef) || cls.kind !== 'ndarray') {
          this.bad(`${fn.path} may only rebuild numpy.ndarray, got ${describe(cls)}`);
        }
        return new Pending('ndarray', this.opPos);
      }
      case 'dtype': {
        nargs(1, 3);
        const code = this.textOf(args[0], 'numpy.dtype type code');
        let order = '=';
        let c = code;
        if (c.length > 1 && '<>|='.includes(c[0])) {
          order = c[0];
          c = c.slice(1);
        }
        return new PyDType(order + c);
      }
      case 'frombuffer': {
        nargs(4);
        const buf = this.bytesOf(args[0], `${fn.path} buffer`);
        const d = this.descrOf(args[1], fn.path);
        if (d === 'object') this.bad(`${fn.path}: object arrays cannot come from a buffer`);
        const shape = this.shapeOf(args[2], `${fn.path} shape`);
        const order = this.textOf(args[3], `${fn.path} order`);
        if (order === 'F' && shape.filter((s) => s !== 1).length > 1) {
          this.bad(`${fn.path}: Fortran-order (column-major) arrays are not supported; re-save the array with np.ascontiguousarray`);
        }
        if (order !== 'C' && order !== 'F') this.bad(`${fn.path}: unknown order ${JSON.stringify(order)}`);
        return this.makeArray(d, shape, buf, fn.path);
      }
      case 'scalar': {
        nargs(1, 2);
        const d = this.descrOf(args[0], fn.path);
        if (d === 'object') this.bad(`${fn.path}: object scalars are not supported`);
        if (args.length < 2) this.bad(`${fn.path}: missing scalar bytes`);
        const raw = this.bytesOf(args[1], `${fn.path} data`);
        const a = this.makeArray(d, [], raw, fn.path);
        const v = a.data[0];
        if (d === '|b1') return v !== 0;
        return typeof v === 'bigint' ? bigToNumber(v) : v;
      }
      case 'codecs_encode': {
        nargs(1, 2);
        if (typeof args[0] !== 'string') this.bad(`_codecs.encode expects a string, got ${describe(args[0])}`);
        const enc = args.length > 1 ? this.textOf(args[1], '_codecs.encode encoding').toLowerCase().replace(/[-_]/g, '') : 'utf8';
        if (enc === 'latin1' || enc === 'iso88591') return this.bytesOf(args[0], '_codecs.encode string');
        if (enc === 'utf8') return new TextEncoder().encode(args[0]);
        return this.bad(`_codecs.encode: only latin1 and utf-8 are supported, got ${JSON.stringify(args[1])}`);
      }
      case 'set':
      case 'frozenset': {
        nargs(0, 1);
        const s = fn.kind === 'set' ? new Set<unknown>() : new PyFrozenSet<unknown>();
        if (args.length === 1) {
          const it = args[0];
          if (!Array.isArray(it) && !(it instanceof Set)) this.bad(`${fn.path} expects a list, got ${describe(it)}`);
          for (const x of it) s.add(this.setMember(x));
        }
        return s;
      }
      case 'bytes':
      case 'bytearray': {
        nargs(0, 2);
        if (args.length === 0) return new Uint8Array(0);
        if (args[0] instanceof Uint8Array) return args[0];
        if (Array.isArray(args[0])) {
          const out = new Uint8Array(args[0].length);
          args[0].forEach((x, i) => {
            if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 255) this.bad(`${fn.path}: ${describe(x)} is not a byte`);
            out[i] = x;
          });
          return out;
        }
        if (typeof args[0] === 'string') {
          const enc = args.length > 1 ? this.textOf(args[1], `${fn.path} encoding`).toLowerCase().replace(/[-_]/g, '') : '';
          if (enc === 'latin1' || enc === 'iso88591') return this.bytesOf(args[0], fn.path);
          if (enc === 'utf8') return new TextEncoder().encode(args[0]);
        }
        return this.bad(`${fn.path}: unsupported arguments`);
      }
      case 'ordereddict': {
        nargs(0, 1);
        const d = new PyDict();
        if (args.length === 1) {
          const it = args[0];
          if (it instanceof PyDict) for (const [k, v] of it) d.set(k, v as PyValue);
          else if (Array.isArray(it)) {
            for (const pair of it) {
              if (!Array.isArray(pair) || pair.length !== 2) this.bad(`collections.OrderedDict expects (key, value) pairs`);
              d.set(this.key(pair[0]), pair[1] as PyValue);
            }
          } else this.bad(`collections.OrderedDict expects a list of pairs, got ${describe(it)}`);
        }
        return d;
      }
      case 'copyreg_reconstructor': {
        nargs(3);
        const [cls, base, state] = args;
        if (!(cls instanceof GlobalRef) || (cls.kind !== 'ch' && cls.kind !== 'csc')) {
          this.bad(`${fn.path} may only rebuild chumpy.ch.Ch or scipy csc_matrix, got ${describe(cls)}`);
        }
        if (!(base instanceof GlobalRef) || base.kind !== 'object') this.bad(`${fn.path}: base class must be object, got ${describe(base)}`);
        if (state !== null) this.bad(`${fn.path}: base state must be None`);
        return new Pending(cls.kind, this.opPos);
      }
      case 'ch':
      case 'csc':
        nargs(0);
        return new Pending(fn.kind, this.opPos);
      case 'torch_load_from_bytes': {
        nargs(1);
        return this.loadTorchLegacy(this.bytesOf(args[0], fn.path));
      }
      case 'torch_rebuild_v2':
        nargs(6, 7);
        return this.rebuildTensor(args);
      case 'torch_rebuild':
        nargs(4);
        return this.rebuildTensor(args);
      default:
        return this.bad(`${fn.path} cannot be called`);
    }
  }

  private newobj(cls: unknown, args: unknown, kwargs: unknown): unknown {
    if (!(cls instanceof GlobalRef)) this.bad(`${this.opName()} needs a class, got ${describe(cls)}`);
    if (cls.kind !== 'ch' && cls.kind !== 'csc') this.bad(`${this.opName()}: ${cls.path} cannot be instantiated`);
    if (!Array.isArray(args) || args.length !== 0) this.bad(`${cls.path}.__new__ expects no arguments`);
    if (kwargs !== null && !(kwargs instanceof PyDict && kwargs.size === 0)) this.bad(`${cls.path}.__new__ expects no keyword arguments`);
    return new Pending(cls.kind, this.opPos);
  }

  private build(obj: unknown, state: unknown): unknown {
    if (obj instanceof PyDType) {
      if (!Array.isArray(state) || state.length < 2) this.bad(`numpy.dtype state must be a tuple, got ${describe(state)}`);
      const order = this.textOf(state[1], 'numpy.dtype byte order');
      if (!['<', '>', '|', '='].includes(order)) this.bad(`numpy.dtype: unknown byte order ${JSON.stringify(order)}`);
      for (let i = 2; i <= 4 && i < state.length; i++) {
        if (state[i] !== null) this.bad(`numpy.dtype: structured or sub-array dtypes are not supported`);
      }
      obj.descr = order + obj.descr.slice(1);
      return obj;
    }
    if (!(obj instanceof Pending)) this.bad(`BUILD on ${describe(obj)} is not supported`);
    if (obj.result !== undefined) this.bad(`BUILD applied twice to ${obj.describe()}`);
    let result: PyValue;
    if (obj.kind === 'ndarray') result = this.buildNdarray(state);
    else if (obj.kind === 'ch') {
      const st = this.dictOf(state, 'chumpy.ch.Ch state');
      const x = st.get('x');
      if (!(x instanceof NdArray)) this.bad(`chumpy.ch.Ch state['x'] must be a numpy array, got ${describe(x)}`);
      result = new ChumpyArray(x, st);
    } else {
      const st = this.dictOf(state, 'csc_matrix state');
      const shapeV = st.has('_shape') ? st.get('_shape') : st.get('shape');
      const shape = this.shapeOf(shapeV, 'csc_matrix _shape');
      if (shape.length !== 2) this.bad(`csc_matrix _shape must have 2 entries, got ${shape.length}`);
      const fmt = st.get('format');
      if (fmt !== undefined && this.textOf(fmt, 'csc_matrix format') !== 'csc') this.bad(`csc_matrix format is ${describe(fmt)}, expected 'csc'`);
      const arr = (k: string): NdArray => {
        const a = st.get(k);
        if (!(a instanceof NdArray)) this.bad(`csc_matrix state['${k}'] must be a numpy array, got ${describe(a)}`);
        return a;
      };
      const m = new CscMatrix([shape[0], shape[1]], arr('data'), arr('indices'), arr('indptr'), st);
      m.validate(this.file);
      result = m;
    }
    obj.result = result;
    return result;
  }

  private buildNdarray(state: unknown): PyValue {
    if (!Array.isArray(state) || (state.length !== 5 && state.length !== 4)) {
      this.bad(`numpy array state must be a 4- or 5-tuple (version, shape, dtype, fortran, data), got ${describe(state)}`);
    }
    const s = state.length === 5 ? state.slice(1) : state;
    const shape = this.shapeOf(s[0], 'numpy array shape');
    const descr = this.descrOf(s[1], 'numpy array');
    const fortran = s[2];
    if (fortran !== false && fortran !== 0) {
      if (fortran !== true && fortran !== 1) this.bad(`numpy array: bad fortran flag ${describe(fortran)}`);
      if (shape.filter((d) => d !== 1).length > 1) {
        this.bad(`numpy array of shape (${shape.join(', ')}) is in Fortran (column-major) order, which is not supported; re-save it with np.ascontiguousarray`);
      }
    }
    if (descr === 'object') {
      const items = s[3];
      const n = shapeSize(shape);
      if (!Array.isArray(items) || items.length !== n) this.bad(`numpy object array of shape (${shape.join(', ')}) needs a list of ${n} items`);
      return new ObjectArray(shape, items as PyValue[]);
    }
    return this.makeArray(descr, shape, this.bytesOf(s[3], 'numpy array data'), 'numpy array');
  }

  // ---- legacy torch -------------------------------------------------------------------------------

  private rebuildTensor(args: unknown[]): unknown {
    const [storage, offsetV] = args;
    if (!(storage instanceof TorchStorage)) this.bad(`torch tensor: expected a storage, got ${describe(storage)}`);
    const size = this.shapeOf(args[2], 'torch tensor size');
    const stride = this.shapeOf(args[3], 'torch tensor stride');
    if (stride.length !== size.length) this.bad(`torch tensor: size and stride have different lengths`);
    const offset = typeof offsetV === 'bigint' ? Number(offsetV) : offsetV;
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) this.bad(`torch tensor: bad storage offset ${describe(offsetV)}`);
    let expect = 1;
    for (let i = size.length - 1; i >= 0; i--) {
      if (size[i] !== 1 && stride[i] !== expect) {
        this.bad(`torch tensor of size (${size.join(', ')}) with stride (${stride.join(', ')}) is not contiguous, which is not supported`);
      }
      expect *= size[i];
    }
    const n = shapeSize(size);
    if (n < 0 || offset + n > storage.numel) {
      this.bad(`torch tensor of size (${size.join(', ')}) at offset ${offset} does not fit its storage of ${storage.numel} elements`);
    }
    if (storage.data === null) {
      if (this.placeholders) return PLACEHOLDER;
      this.bad('torch tensor: storage data is missing');
    }
    return new NdArray(storage.dtype, size, storage.data.subarray(offset, offset + n) as TypedArray);
  }

  /** `torch.storage._load_from_bytes`: a legacy (non-zip) torch.save stream holding one storage. */
  private loadTorchLegacy(b: Uint8Array): unknown {
    const file = `${this.file} (torch.save stream at byte ${this.opPos})`;
    if (this.depth >= MAX_NESTING) this.bad('torch streams nested too deeply');
    const sub = (start: number, persistentLoad?: (pid: unknown) => unknown, placeholders = false) => {
      const u = new Unpickler(b, file, start, persistentLoad, this.depth + 1, placeholders);
      return { value: u.run(), end: u.pos };
    };
    const magic = sub(0);
    if (magic.value !== 0x1950a86a20f9469cfc6cn) {
      throw new FormatError(file, `not a legacy torch.save stream (bad magic number ${describe(magic.value)})`);
    }
    const proto = sub(magic.end);
    if (proto.value !== 1001) throw new FormatError(file, `unsupported torch.save protocol ${describe(proto.value)}, expected 1001`);
    const sys = sub(proto.end);
    if (sys.value instanceof PyDict && sys.value.get('little_endian') === false) {
      throw new FormatError(file, 'big-endian torch.save streams are not supported');
    }
    // Pass 1: find the storages and where the object pickle ends.
    const found = new Map<string, { dtype: DTypeDescr; numel: number }>();
    const pid = (id: unknown, data: Map<string, TypedArray> | null): TorchStorage => {
      if (!Array.isArray(id) || id.length !== 6 || id[0] !== 'storage') {
        throw new FormatError(file, `unsupported persistent id ${describe(id)}; expected ('storage', type, key, location, numel, None)`);
      }
      const [, type, keyV, , numelV, view] = id;
      if (!(type instanceof GlobalRef) || type.storageDtype === null) throw new FormatError(file, `unsupported storage type ${describe(type)}`);
      const key = typeof keyV === 'string' ? keyV : keyV instanceof Uint8Array ? latin1String(keyV) : null;
      if (key === null) throw new FormatError(file, `storage key must be a string, got ${describe(keyV)}`);
      const numel = typeof numelV === 'bigint' ? Number(numelV) : numelV;
      if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw new FormatError(file, `bad storage size ${describe(numelV)}`);
      if (view !== null) throw new FormatError(file, 'storage views are not supported');
      const prev = found.get(key);
      if (prev && (prev.dtype !== type.storageDtype || prev.numel !== numel)) throw new FormatError(file, `storage ${key} is declared twice differently`);
      found.set(key, { dtype: type.storageDtype, numel });
      return new TorchStorage(type.storageDtype, numel, data ? data.get(key)! : null);
    };
    const obj1 = sub(sys.end, (id) => pid(id, null), true);
    const keys = sub(obj1.end);
    if (!Array.isArray(keys.value)) throw new FormatError(file, `expected the list of storage keys, got ${describe(keys.value)}`);
    let p = keys.end;
    const data = new Map<string, TypedArray>();
    for (const kv of keys.value) {
      const key = typeof kv === 'string' ? kv : kv instanceof Uint8Array ? latin1String(kv) : '';
      const info = found.get(key);
      if (!info) throw new FormatError(file, `storage key ${describe(kv)} is not used by the object`);
      if (p + 8 > b.length) throw new FormatError(file, `truncated at byte ${b.length} while reading the size of storage ${key}`);
      const lo = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16);
      const n = lo + b[p + 3] * 0x1000000 + (b[p + 4] + b[p + 5] * 256 + b[p + 6] * 65536 + b[p + 7] * 16777216) * 0x100000000;
      p += 8;
      if (n !== info.numel) throw new FormatError(file, `storage ${key} holds ${n} elements but its id says ${info.numel}`);
      const nbytes = n * dtypeItemsize(info.dtype);
      if (p + nbytes > b.length) throw new FormatError(file, `truncated at byte ${b.length} while reading storage ${key} (${nbytes} bytes)`);
      data.set(key, typedArrayFromBytes(info.dtype, b.subarray(p, p + nbytes)));
      p += nbytes;
    }
    for (const key of found.keys()) if (!data.has(key)) throw new FormatError(file, `the data of storage ${key} is missing`);
    // Pass 2: the real objects, now that storage data is known.
    return sub(sys.end, (id) => pid(id, data)).value;
  }

  // ---- main loop ----------------------------------------------------------------------------------

  run(): unknown {
    const b = this.b;
    for (;;) {
      this.opPos = this.pos;
      if (this.pos >= this.end) {
        this.op = 0x2e;
        this.fail(`truncated at byte ${this.end}: the pickle ended before its STOP opcode`);
      }
      const op = b[this.pos++];
      this.op = op;
      const st = this.stack;
      switch (op) {
        case 0x80: { // PROTO
          const v = this.u8();
          if (v > 5) this.bad(`unsupported pickle protocol ${v}`);
          this.proto = v;
          break;
        }
        case 0x95: // FRAME
          this.u64len();
          break;
        case 0x2e: { // STOP
          const v = this.pop();
          return v;
        }
        case 0x28: // MARK
          this.metastack.push(this.stack);
          this.stack = [];
          break;
        case 0x30: // POP
          if (st.length > 0) st.pop();
          else this.popMark();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: { // DUP
          const v = this.top();
          if (v instanceof Pending) this.bad('DUP of an unfinished object is not supported');
          st.push(v);
          break;
        }
        case 0x7d: // EMPTY_DICT
          st.push(new PyDict());
          break;
        case 0x5d: // EMPTY_LIST
          st.push([]);
          break;
        case 0x29: // EMPTY_TUPLE
          st.push(new PyTuple());
          break;
        case 0x8f: // EMPTY_SET
          st.push(new Set());
          break;
        case 0x91: { // FROZENSET
          const items = this.popMark();
          this.stack.push(new PyFrozenSet(items.map((x) => this.setMember(x))));
          break;
        }
        case 0x64: { // DICT
          const items = this.popMark();
          if (items.length % 2) this.bad('odd number of items for a dict');
          const d = new PyDict();
          for (let i = 0; i < items.length; i += 2) d.set(this.key(items[i]), items[i + 1] as PyValue);
          this.stack.push(d);
          break;
        }
        case 0x6c: { // LIST
          const items = this.popMark();
          this.stack.push(items);
          break;
        }
        case 0x74: { // TUPLE
          const items = this.popMark();
          Object.setPrototypeOf(items, PyTuple.prototype);
          this.stack.push(items);
          break;
        }
        case 0x85: case 0x86: case 0x87: { // TUPLE1/2/3
          const n = op - 0x84;
          if (st.length < n) this.bad('stack underflow');
          const t = new PyTuple<unknown>();
          for (const x of st.splice(st.length - n, n)) t.push(x);
          st.push(t);
          break;
        }
        case 0x61: { // APPEND
          const v = this.pop();
          const l = this.top();
          if (!Array.isArray(l) || l instanceof PyTuple) this.bad(`APPEND to ${describe(l)}`);
          l.push(v);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.popMark();
          const l = this.top();
          if (!Array.isArray(l) || l instanceof PyTuple) this.bad(`APPENDS to ${describe(l)}`);
          for (const x of items) l.push(x);
          break;
        }
        case 0x73: { // SETITEM
          const v = this.pop();
          const k = this.pop();
          const d = this.top();
          if (!(d instanceof PyDict)) this.bad(`SETITEM on ${describe(d)}`);
          d.set(this.key(k), v as PyValue);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.popMark();
          const d = this.top();
          if (!(d instanceof PyDict)) this.bad(`SETITEMS on ${describe(d)}`);
          if (items.length % 2) this.bad('odd number of items for SETITEMS');
          for (let i = 0; i < items.length; i += 2) d.set(this.key(items[i]), items[i + 1] as PyValue);
          break;
        }
        case 0x90: { // ADDITEMS
          const items = this.popMark();
          const s = this.top();
          if (!(s instanceof Set) || s instanceof PyFrozenSet) this.bad(`ADDITEMS on ${describe(s)}`);
          for (const x of items) s.add(this.setMember(x));
          break;
        }
        case 0x4e: // NONE
          st.push(null);
          break;
        case 0x88: // NEWTRUE
          st.push(true);
          break;
        case 0x89: // NEWFALSE
          st.push(false);
          break;
        case 0x49: { // INT
          const s = this.lineText();
          if (s === '00') st.push(false);
          else if (s === '01') st.push(true);
          else st.push(this.int(s, 'INT'));
          break;
        }
        case 0x4c: // LONG
          st.push(this.int(this.lineText(), 'LONG'));
          break;
        case 0x4a: // BININT
          st.push(this.i32());
          break;
        case 0x4b: // BININT1
          st.push(this.u8());
          break;
        case 0x4d: // BININT2
          st.push(this.u16());
          break;
        case 0x8a: { // LONG1
          const n = this.u8();
          st.push(signedLE(this.take(n)));
          break;
        }
        case 0x8b: { // LONG4
          const n = this.i32();
          if (n < 0) this.bad(`negative LONG4 length ${n}`);
          st.push(signedLE(this.take(n)));
          break;
        }
        case 0x46: { // FLOAT
          const s = this.lineText().trim();
          if (!/^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity|nan)$/i.test(s)) this.bad(`FLOAT ${JSON.stringify(s.slice(0, 40))} is not a number`);
          const t = s.toLowerCase().replace(/^([+-]?)inf(inity)?$/, '$1Infinity').replace(/^[+-]?nan$/, 'NaN');
          st.push(Number(t));
          break;
        }
        case 0x47: { // BINFLOAT (big-endian double)
          this.need(8);
          st.push(new DataView(b.buffer, b.byteOffset + this.pos, 8).getFloat64(0, false));
          this.pos += 8;
          break;
        }
        case 0x53: // STRING
          st.push(unescapeString(this.line(), (m) => this.bad(m)));
          break;
        case 0x54: { // BINSTRING
          const n = this.i32();
          if (n < 0) this.bad(`negative BINSTRING length ${n}`);
          st.push(this.take(n));
          break;
        }
        case 0x55: // SHORT_BINSTRING
          st.push(this.take(this.u8()));
          break;
        case 0x43: // SHORT_BINBYTES
          st.push(this.take(this.u8()));
          break;
        case 0x42: // BINBYTES
          st.push(this.take(this.u32()));
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          st.push(this.take(this.u64len()));
          break;
        case 0x56: // UNICODE (raw-unicode-escape)
          st.push(rawUnicodeEscape(this.line(), (m) => this.bad(m)));
          break;
        case 0x58: // BINUNICODE
          st.push(utf8.decode(this.take(this.u32())));
          break;
        case 0x8c: // SHORT_BINUNICODE
          st.push(utf8.decode(this.take(this.u8())));
          break;
        case 0x8d: // BINUNICODE8
          st.push(utf8.decode(this.take(this.u64len())));
          break;
        case 0x63: { // GLOBAL
          const mod = utf8.decode(this.line());
          const name = utf8.decode(this.line());
          st.push(this.global(mod, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop();
          const mod = this.pop();
          if (typeof name !== 'string' || typeof mod !== 'string') this.bad('STACK_GLOBAL needs two strings');
          this.stack.push(this.global(mod, name));
          break;
        }
        case 0x52: { // REDUCE
          const args = this.pop();
          const fn = this.pop();
          this.stack.push(this.reduce(fn, args));
          break;
        }
        case 0x81: { // NEWOBJ
          const args = this.pop();
          const cls = this.pop();
          this.stack.push(this.newobj(cls, args, null));
          break;
        }
        case 0x92: { // NEWOBJ_EX
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          this.stack.push(this.newobj(cls, args, kwargs));
          break;
        }
        case 0x62: { // BUILD
          const state = this.pop();
          const obj = this.pop();
          this.stack.push(this.build(obj, state));
          break;
        }
        case 0x70: // PUT
          this.memoPut(Number(this.int(this.lineText(), 'PUT')));
          break;
        case 0x71: // BINPUT
          this.memoPut(this.u8());
          break;
        case 0x72: // LONG_BINPUT
          this.memoPut(this.u32());
          break;
        case 0x94: // MEMOIZE
          this.memoPut(this.memo.size);
          break;
        case 0x67: // GET
          st.push(this.memoGet(Number(this.int(this.lineText(), 'GET'))));
          break;
        case 0x68: // BINGET
          st.push(this.memoGet(this.u8()));
          break;
        case 0x6a: // LONG_BINGET
          st.push(this.memoGet(this.u32()));
          break;
        case 0x50: // PERSID
          st.push(this.persistent(this.lineText()));
          break;
        case 0x51: { // BINPERSID
          const pid = this.pop();
          this.stack.push(this.persistent(pid));
          break;
        }
        case 0x69: case 0x6f:
          this.bad('old-style class instances (INST/OBJ) are not supported');
        case 0x82: case 0x83: case 0x84:
          this.bad('extension registry codes (EXT1/2/4) are not supported');
        case 0x97: case 0x98:
          this.bad('out-of-band buffers (pickle protocol 5 buffer_callback) are not supported');
        default:
          if (this.opPos === 0) this.fail(`not a Python pickle (unknown opcode 0x${op.toString(16).padStart(2, '0')} at byte 0)`);
          this.fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${this.opPos} (corrupt file?)`);
      }
    }
  }

  private global(mod: string, name: string): GlobalRef {
    const path = `${mod}.${name}`;
    const kind = ALLOWED_GLOBALS.get(path);
    if (kind === undefined) {
      this.fail(`pickle global '${path}' is not allowed (this reader only accepts numpy, chumpy, scipy.sparse, torch-legacy tensors and builtins)`);
    }
    return new GlobalRef(path, kind, TORCH_STORAGE_DTYPES[path] ?? null);
  }

  private persistent(pid: unknown): unknown {
    if (!this.persistentLoad) this.bad(`persistent id ${describe(pid)} found, but no persistent-id resolver was given`);
    try {
      return this.persistentLoad(pid);
    } catch (e) {
      if (e instanceof FormatError) throw e;
      throw new FormatError(this.file, `persistent id ${describe(pid)} could not be resolved: ${(e as Error).message ?? e} (opcode ${this.opName()} at byte ${this.opPos})`, { cause: e });
    }
  }

  get protocol(): number {
    return this.proto;
  }
  get position(): number {
    return this.pos;
  }
}

// ---------------------------------------------------------------------------------------------------

function bigToNumber(v: bigint): number | bigint {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

/** Signed little-endian two's complement (LONG1/LONG4 payload). */
function signedLE(bytes: Uint8Array): number | bigint {
  const n = bytes.length;
  if (n === 0) return 0;
  if (n <= 6) {
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + bytes[i];
    if (bytes[n - 1] & 0x80) v -= 2 ** (8 * n);
    return v;
  }
  let hex = '';
  for (let i = n - 1; i >= 0; i--) hex += bytes[i].toString(16).padStart(2, '0');
  let v = BigInt('0x' + hex);
  if (bytes[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
  return bigToNumber(v);
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function hexVal(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10;
}

/** Protocol-0 STRING: a Python-quoted literal with backslash escapes → raw bytes. */
function unescapeString(line: Uint8Array, bad: (m: string) => never): Uint8Array {
  let l = line;
  if (l.length > 0 && l[l.length - 1] === 0x0d) l = l.subarray(0, l.length - 1);
  const q = l[0];
  if (l.length < 2 || (q !== 0x27 && q !== 0x22) || l[l.length - 1] !== q) bad('the STRING argument must be quoted');
  const s = l.subarray(1, l.length - 1);
  if (s.indexOf(0x5c) < 0) return s;
  const out = new Uint8Array(s.length);
  let o = 0;
  for (let i = 0; i < s.length; ) {
    const c = s[i++];
    if (c !== 0x5c) {
      out[o++] = c;
      continue;
    }
    if (i >= s.length) bad('STRING ends with a lone backslash');
    const e = s[i++];
    switch (e) {
      case 0x0a: break; // backslash-newline: line continuation
      case 0x5c: out[o++] = 0x5c; break;
      case 0x27: out[o++] = 0x27; break;
      case 0x22: out[o++] = 0x22; break;
      case 0x61: out[o++] = 7; break; // \a
      case 0x62: out[o++] = 8; break; // \b
      case 0x66: out[o++] = 12; break; // \f
      case 0x6e: out[o++] = 10; break; // \n
      case 0x72: out[o++] = 13; break; // \r
      case 0x74: out[o++] = 9; break; // \t
      case 0x76: out[o++] = 11; break; // \v
      case 0x78: { // \xhh
        if (i + 2 > s.length || !isHex(s[i]) || !isHex(s[i + 1])) bad('invalid \\x escape in STRING');
        out[o++] = hexVal(s[i]) * 16 + hexVal(s[i + 1]);
        i += 2;
        break;
      }
      default:
        if (e >= 0x30 && e <= 0x37) { // octal, up to 3 digits
          let v = e - 0x30;
          for (let k = 0; k < 2 && i < s.length && s[i] >= 0x30 && s[i] <= 0x37; k++) v = v * 8 + (s[i++] - 0x30);
          out[o++] = v & 0xff;
        } else {
          out[o++] = 0x5c; // unknown escape: kept verbatim, as Python does
          out[o++] = e;
        }
    }
  }
  return out.subarray(0, o);
}

/** Protocol-0 UNICODE: raw-unicode-escape (latin-1 bytes plus \uXXXX / \UXXXXXXXX). */
function rawUnicodeEscape(line: Uint8Array, bad: (m: string) => never): string {
  if (line.indexOf(0x5c) < 0) return latin1String(line);
  let out = '';
  let run = 0; // consecutive backslashes seen just before i
  for (let i = 0; i < line.length; ) {
    const c = line[i];
    if (c === 0x5c) {
      run++;
      out += '\\';
      i++;
      continue;
    }
    if ((c === 0x75 || c === 0x55) && run % 2 === 1) {
      const n = c === 0x75 ? 4 : 8;
      if (i + 1 + n > line.length) bad('truncated \\u escape in UNICODE');
      let v = 0;
      for (let k = 1; k <= n; k++) {
        const h = line[i + k];
        if (!isHex(h)) bad('invalid \\u escape in UNICODE');
        v = v * 16 + hexVal(h);
      }
      if (v > 0x10ffff) bad('\\U escape out of range in UNICODE');
      out = out.slice(0, -1) + String.fromCodePoint(v);
      i += 1 + n;
      run = 0;
      continue;
    }
    run = 0;
    out += String.fromCharCode(c);
    i++;
  }
  return out;
}

/** numpy dtype string ('<f8', '=u4', '|b1', '|O8') → our descriptor, 'object', or an error message. */
export function resolveDescr(d: string, bad: (m: string) => never): DTypeDescr | 'object' {
  const order = d[0];
  const code = d.slice(1);
  if (code[0] === 'O') return 'object';
  const m = /^([fiub])(\d+)$/.exec(code);
  if (!m) bad(`dtype '${d}' is not supported (supported: float64/32, int/uint 8-64, bool)`);
  const size = Number(m[2]);
  if (order === '>' && size > 1) bad(`big-endian dtype '${d}' is not supported; re-save the array little-endian (arr.astype('<${code}'))`);
  const descr = size === 1 ? `|${code}` : `<${code}`;
  if (!isDTypeDescr(descr)) bad(`dtype '${d}' is not supported (supported: float64/32, int/uint 8-64, bool)`);
  return descr;
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v === undefined) return 'nothing';
  if (v instanceof Internal) return v.describe();
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return `${v}`;
  if (v instanceof Uint8Array) return `bytes of length ${v.length}`;
  if (v instanceof PyTuple) return v.length <= 6 ? `(${v.map(describe).join(', ')}${v.length === 1 ? ',' : ''})` : `a tuple of ${v.length} items`;
  if (Array.isArray(v)) return `a list of ${v.length} items`;
  if (v instanceof PyDict) return `a dict of ${v.size} items`;
  if (v instanceof Set) return `a set of ${v.size} items`;
  if (v instanceof NdArray) return `a numpy array ${v.describe()}`;
  if (v instanceof PyDType) return `dtype('${v.descr}')`;
  if (v instanceof ChumpyArray) return `a chumpy Ch of ${v.x.describe()}`;
  if (v instanceof CscMatrix) return `a csc_matrix of shape (${v.shape.join(', ')})`;
  if (v instanceof ObjectArray) return `a numpy object array of shape (${v.shape.join(', ')})`;
  return typeof v;
}

/** Reject results that still hold internal objects (class references, unfinished objects). */
function checkResult(v: unknown, file: string): PyValue {
  const seen = new Set<unknown>();
  const todo: unknown[] = [v];
  while (todo.length) {
    const x = todo.pop();
    if (x === null || typeof x !== 'object' || seen.has(x)) continue;
    seen.add(x);
    if (x instanceof Internal) {
      throw new FormatError(file, `the pickle's value contains ${x.describe()}, which is not data this reader can return`);
    }
    if (Array.isArray(x)) for (const y of x) todo.push(y);
    else if (x instanceof PyDict) for (const y of x.values()) todo.push(y);
    else if (x instanceof Set) for (const y of x) todo.push(y);
    else if (x instanceof ChumpyArray) todo.push(x.state);
    else if (x instanceof CscMatrix) todo.push(x.state);
    else if (x instanceof ObjectArray) todo.push(x.items);
  }
  return v as PyValue;
}

export interface PickleReadResult {
  value: PyValue;
  /** Byte offset just after the STOP opcode. */
  end: number;
  /** The protocol from the PROTO opcode (0 or 1 when absent). */
  protocol: number;
}

/** Read one pickle starting at `opts.offset` (default 0); returns the value and where it ended. */
export function readPickleAt(bytes: Uint8Array, file: string, opts: ReadPickleOptions = {}): PickleReadResult {
  const start = opts.offset ?? 0;
  if (!Number.isSafeInteger(start) || start < 0 || start > bytes.length) throw new RangeError(`readPickleAt: bad offset ${start}`);
  if (start === 0) sniffNotAFile(bytes, file, 'a Python pickle');
  if (start === 0 && bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4) {
    throw new FormatError(file, 'this is a ZIP archive (a torch.save zip file or an .npz?), not a Python pickle');
  }
  if (start === 0 && bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw new FormatError(file, 'this is a gzip-compressed file, not a Python pickle (decompress it first)');
  }
  if (start === 0 && bytes.length >= 6 && bytes[0] === 0x93 && latin1String(bytes.subarray(1, 6)) === 'NUMPY') {
    throw new FormatError(file, 'this is a .npy file, not a Python pickle (use readNpy / readNpyObject)');
  }
  const u = new Unpickler(bytes, file, start, opts.persistentLoad, 0);
  let v: unknown;
  try {
    v = u.run();
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(file, `corrupt pickle near byte ${u.position}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  return { value: checkResult(v, file), end: u.position, protocol: u.protocol };
}

/** Read a Python pickle (protocols 0-5) with the allow-list described above. */
export function readPickle(bytes: Uint8Array, file: string, opts: Omit<ReadPickleOptions, 'offset'> = {}): PyValue {
  return readPickleAt(bytes, file, opts).value;
}
