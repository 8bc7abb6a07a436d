// A pickle writer for the layouts FLAME-era files use (written from the opcode specification and the
// layout notes in flame-formats.md §1.3):
//
// - protocol 2 (default): the Python 2 layout of FLAME 2020 `generic_model.pkl`: py2 `str` as
//   SHORT_BINSTRING / BINSTRING (keys, dtype codes and the raw array bytes), numpy arrays via
//   `numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), 'b')` + BUILD `(1, shape, dtype, False, raw)`,
//   dtypes via `numpy.dtype('f8', 0, 1)` + BUILD `(3, '<', None, None, None, -1, -1, 0)` memoised and
//   reused with BINGET, chumpy `Ch` and `scipy.sparse.csc.csc_matrix` via NEWOBJ + state dict + BUILD,
//   sets via `__builtin__.set([...])`.
// - protocol 0: the same objects in the text protocol (like FLAME_masks.pkl): STRING literals with
//   Python escapes, PUT/GET lines, `copy_reg._reconstructor` for chumpy / scipy objects.
// - protocol 3: the Python 3 layout (BINUNICODE strings, BINBYTES payloads, `scipy.sparse._csc`), as in
//   the pickle inside DECA's landmark_embedding.npy. `TorchTensor` values become legacy torch tensors.
//
// Value mapping: null → None, boolean → bool, integral number → int, other number / PyFloat → float,
// bigint → long, string → py2 str (protocols 0/2, falling back to unicode for characters above U+00FF)
// or unicode (protocol 3, or `strings: 'unicode'`), PyUnicode → unicode, Uint8Array → py2 str / bytes,
// PyTuple → tuple, other arrays → list, PyDict / Map → dict, Set → set, PyFrozenSet → frozenset.

import { FormatError } from './errors.js';
import { NdArray, dtypeCode, ndarrayBytes, typedArrayMatches } from './ndarray.js';
import {
  ChumpyArray,
  CscMatrix,
  ObjectArray,
  PyDType,
  PyDict,
  PyFloat,
  PyFrozenSet,
  PyTuple,
  PyUnicode,
  TorchTensor,
  tuple,
  type PyValue,
} from './pytypes.js';

export interface WritePickleOptions {
  /** 2 (default, Python-2 FLAME layout), 0 (text, like FLAME_masks.pkl) or 3 (Python-3 layout). */
  protocol?: 0 | 2 | 3;
  /** How plain JS strings are written: py2 `str` ('str', default for protocols 0 and 2) or 'unicode' (default for 3). */
  strings?: 'str' | 'unicode';
}

/** Writer-only: a reference to a class or function (GLOBAL module name). */
class WGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}

/** Writer-only: an object written as a persistent id (pid + BINPERSID). */
class WPersistent {
  constructor(readonly pid: WValue) {}
}

type WValue = PyValue | WGlobal | WPersistent | WValue[] | Map<unknown, unknown>;

class ByteSink {
  private chunks: Uint8Array[] = [];
  private buf = new Uint8Array(1 << 16);
  private n = 0;
  private total = 0;

  byte(b: number): void {
    if (this.n === this.buf.length) this.flush();
    this.buf[this.n++] = b;
  }

  ascii(s: string): void {
    for (let i = 0; i < s.length; i++) this.byte(s.charCodeAt(i) & 0xff);
  }

  u32(v: number): void {
    this.byte(v & 0xff);
    this.byte((v >>> 8) & 0xff);
    this.byte((v >>> 16) & 0xff);
    this.byte((v >>> 24) & 0xff);
  }

  bytes(b: Uint8Array): void {
    if (b.length <= 4096) {
      for (let i = 0; i < b.length; i++) this.byte(b[i]);
      return;
    }
    this.flush();
    this.chunks.push(b);
    this.total += b.length;
  }

  private flush(): void {
    if (this.n === 0) return;
    this.chunks.push(this.buf.slice(0, this.n));
    this.total += this.n;
    this.n = 0;
  }

  result(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.total);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

const utf8 = new TextEncoder();

function latin1Bytes(s: string): Uint8Array | null {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) return null;
    out[i] = c;
  }
  return out;
}

/** Python 2 `repr(str)` as bytes: the protocol-0 STRING argument (quotes included). */
function py2Repr(b: Uint8Array): Uint8Array {
  let hasSingle = false;
  let hasDouble = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x27) hasSingle = true;
    else if (c === 0x22) hasDouble = true;
  }
  const q = hasSingle && !hasDouble ? 0x22 : 0x27;
  const out = new Uint8Array(b.length * 4 + 2);
  const hex = '0123456789abcdef';
  let o = 0;
  out[o++] = q;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === q || c === 0x5c) {
      out[o++] = 0x5c;
      out[o++] = c;
    } else if (c === 0x09) {
      out[o++] = 0x5c;
      out[o++] = 0x74;
    } else if (c === 0x0a) {
      out[o++] = 0x5c;
      out[o++] = 0x6e;
    } else if (c === 0x0d) {
      out[o++] = 0x5c;
      out[o++] = 0x72;
    } else if (c < 0x20 || c >= 0x7f) {
      out[o++] = 0x5c;
      out[o++] = 0x78;
      out[o++] = hex.charCodeAt(c >> 4);
      out[o++] = hex.charCodeAt(c & 15);
    } else out[o++] = c;
  }
  out[o++] = q;
  return out.subarray(0, o);
}

/** Python 2's protocol-0 unicode argument: raw-unicode-escape with \ and newline escaped. */
function rawUnicodeEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c === 0x5c) out += '\\u005c';
    else if (c === 0x0a) out += '\\u000a';
    else if (c === 0x0d) out += '\\u000d';
    else if (c <= 0xff) out += ch;
    else if (c <= 0xffff) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += '\\U' + c.toString(16).padStart(8, '0');
  }
  return out;
}

/** Python `repr(float)` close enough for `float()` to read back the same double. */
function floatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0.0';
  const s = String(x);
  return /[.e]/.test(s) ? s : s + '.0';
}

const TORCH_MAGIC = 0x1950a86a20f9469cfc6cn;

const TORCH_STORAGE_NAMES: Partial<Record<string, string>> = {
  '<f4': 'FloatStorage',
  '<f8': 'DoubleStorage',
  '<i8': 'LongStorage',
  '<i4': 'IntStorage',
  '<i2': 'ShortStorage',
  '|i1': 'CharStorage',
  '|u1': 'ByteStorage',
  '|b1': 'BoolStorage',
};

class Pickler {
  private readonly out = new ByteSink();
  private memoCount = 0;
  private readonly globals = new Map<string, number>();
  private readonly dtypes = new Map<string, number>();
  private readonly py2: boolean;
  private readonly bin: boolean;
  private readonly unicodeStrings: boolean;

  constructor(readonly proto: 0 | 2 | 3, strings: 'str' | 'unicode' | undefined) {
    this.py2 = proto !== 3;
    this.bin = proto !== 0;
    this.unicodeStrings = (strings ?? (proto === 3 ? 'unicode' : 'str')) === 'unicode';
  }

  private fail(msg: string): never {
    throw new FormatError('writePickle', msg);
  }

  dump(v: WValue): Uint8Array {
    if (this.proto >= 2) {
      this.out.byte(0x80);
      this.out.byte(this.proto);
    }
    this.save(v);
    this.out.byte(0x2e);
    return this.out.result();
  }

  private put(): number {
    const i = this.memoCount++;
    if (!this.bin) this.out.ascii(`p${i}\n`);
    else if (i < 256) {
      this.out.byte(0x71);
      this.out.byte(i);
    } else {
      this.out.byte(0x72);
      this.out.u32(i);
    }
    return i;
  }

  private get(i: number): void {
    if (!this.bin) this.out.ascii(`g${i}\n`);
    else if (i < 256) {
      this.out.byte(0x68);
      this.out.byte(i);
    } else {
      this.out.byte(0x6a);
      this.out.u32(i);
    }
  }

  private global(module: string, name: string): void {
    const key = `${module}\n${name}`;
    const m = this.globals.get(key);
    if (m !== undefined) return this.get(m);
    this.out.ascii(`c${module}\n${name}\n`);
    this.globals.set(key, this.put());
  }

  private builtin(name: string): void {
    this.global(this.py2 ? '__builtin__' : 'builtins', name);
  }

  private int(v: number): void {
    if (!this.bin) return this.out.ascii(`I${v}\n`);
    if (v >= 0 && v < 256) {
      this.out.byte(0x4b);
      this.out.byte(v);
    } else if (v >= 0 && v < 65536) {
      this.out.byte(0x4d);
      this.out.byte(v & 0xff);
      this.out.byte(v >> 8);
    } else if (v >= -0x80000000 && v <= 0x7fffffff) {
      this.out.byte(0x4a);
      this.out.u32(v >>> 0);
    } else if (this.py2) {
      this.out.ascii(`I${v}\n`); // Python 2 writes a 64-bit int that does not fit in 4 bytes as text
    } else this.long(BigInt(v));
  }

  private long(v: bigint): void {
    if (!this.bin) return this.out.ascii(`L${v}L\n`);
    const bytes: number[] = [];
    if (v !== 0n) {
      let x = v;
      for (;;) {
        bytes.push(Number(x & 0xffn));
        x >>= 8n; // arithmetic shift: sign-extends
        const top = bytes[bytes.length - 1];
        if ((x === 0n && !(top & 0x80)) || (x === -1n && top & 0x80)) break;
      }
    }
    if (bytes.length < 256) {
      this.out.byte(0x8a);
      this.out.byte(bytes.length);
    } else {
      this.out.byte(0x8b);
      this.out.u32(bytes.length);
    }
    for (const b of bytes) this.out.byte(b);
  }

  private float(x: number): void {
    if (!this.bin) return this.out.ascii(`F${floatRepr(x)}\n`);
    this.out.byte(0x47);
    const dv = new DataView(new ArrayBuffer(8));
    dv.setFloat64(0, x, false);
    for (let i = 0; i < 8; i++) this.out.byte(dv.getUint8(i));
  }

  /** Python 2 `str` (protocols 0/2) or Python 3 `bytes` (protocol 3); always memoised. */
  private bytes(b: Uint8Array): void {
    if (b.length > 0xffffffff) this.fail('byte strings over 4 GiB are not supported');
    if (!this.bin) {
      this.out.byte(0x53);
      this.out.bytes(py2Repr(b));
      this.out.byte(0x0a);
    } else if (this.py2) {
      if (b.length < 256) {
        this.out.byte(0x55);
        this.out.byte(b.length);
      } else {
        this.out.byte(0x54);
        this.out.u32(b.length);
      }
      this.out.bytes(b);
    } else {
      if (b.length < 256) {
        this.out.byte(0x43);
        this.out.byte(b.length);
      } else {
        this.out.byte(0x42);
        this.out.u32(b.length);
      }
      this.out.bytes(b);
    }
    this.put();
  }

  private unicode(s: string): void {
    if (!this.bin) {
      const raw = latin1Bytes(rawUnicodeEscape(s))!;
      this.out.byte(0x56);
      this.out.bytes(raw);
      this.out.byte(0x0a);
    } else {
      const b = utf8.encode(s);
      this.out.byte(0x58);
      this.out.u32(b.length);
      this.out.bytes(b);
    }
    this.put();
  }

  private str(s: string): void {
    if (!this.unicodeStrings) {
      const b = latin1Bytes(s);
      if (b) return this.bytes(b);
    }
    this.unicode(s);
  }

  private tuple(items: readonly WValue[]): void {
    const n = items.length;
    if (n === 0) {
      if (this.bin) this.out.byte(0x29);
      else this.out.ascii('(t');
      return;
    }
    if (this.proto >= 2 && n <= 3) {
      for (const it of items) this.save(it);
      this.out.byte(0x84 + n);
    } else {
      this.out.byte(0x28);
      for (const it of items) this.save(it);
      this.out.byte(0x74);
    }
    this.put();
  }

  private list(items: readonly WValue[]): void {
    if (!this.bin) {
      this.out.ascii('(l');
      this.put();
      for (const it of items) {
        this.save(it);
        this.out.byte(0x61);
      }
      return;
    }
    this.out.byte(0x5d);
    this.put();
    for (let i = 0; i < items.length; i += 1000) {
      const batch = items.slice(i, i + 1000);
      if (batch.length === 1) {
        this.save(batch[0]);
        this.out.byte(0x61);
      } else {
        this.out.byte(0x28);
        for (const it of batch) this.save(it);
        this.out.byte(0x65);
      }
    }
  }

  private dict(d: Map<unknown, unknown>): void {
    const items = [...d.entries()];
    for (const [k] of items) {
      if (typeof k !== 'string' && typeof k !== 'number' && typeof k !== 'bigint' && !(k instanceof PyUnicode)) {
        this.fail(`dict keys must be strings or integers, got ${typeof k}`);
      }
    }
    if (!this.bin) {
      this.out.ascii('(d');
      this.put();
      for (const [k, v] of items) {
        this.save(k as WValue);
        this.save(v as WValue);
        this.out.byte(0x73);
      }
      return;
    }
    this.out.byte(0x7d);
    this.put();
    for (let i = 0; i < items.length; i += 1000) {
      const batch = items.slice(i, i + 1000);
      if (batch.length === 1) {
        this.save(batch[0][0] as WValue);
        this.save(batch[0][1] as WValue);
        this.out.byte(0x73);
      } else {
        this.out.byte(0x28);
        for (const [k, v] of batch) {
          this.save(k as WValue);
          this.save(v as WValue);
        }
        this.out.byte(0x75);
      }
    }
  }

  private set(s: Set<unknown>, frozen: boolean): void {
    this.builtin(frozen ? 'frozenset' : 'set');
    const items = [...s] as WValue[];
    // py2 sorts nothing; we sort strings for a deterministic output
    if (items.every((x) => typeof x === 'string')) (items as string[]).sort();
    this.tuple([items]);
    this.out.byte(0x52);
    this.put();
  }

  /** `cls.__new__(cls)` + state + BUILD: NEWOBJ for protocol 2+, copy_reg._reconstructor for 0. */
  private newobj(module: string, name: string, state: Map<unknown, unknown>): void {
    if (this.proto >= 2) {
      this.global(module, name);
      this.out.byte(0x29);
      this.out.byte(0x81);
    } else {
      this.global('copy_reg', '_reconstructor');
      this.tuple([new WGlobal(module, name), new WGlobal('__builtin__', 'object'), null]);
      this.out.byte(0x52);
    }
    this.put();
    this.dict(state);
    this.out.byte(0x62);
  }

  private dtype(descr: string, code: string): void {
    const m = this.dtypes.get(descr);
    if (m !== undefined) return this.get(m);
    this.global('numpy', 'dtype');
    // Python 2 numpy passes (code, 0, 1); numpy on Python 3 passes (code, False, True).
    this.tuple(this.py2 ? [code, 0, 1] : [code, false, true]);
    this.out.byte(0x52);
    this.dtypes.set(descr, this.put());
    const order = descr[0];
    const flags = code[0] === 'O' ? 63 : 0;
    this.tuple([3, order, null, null, null, -1, -1, flags]);
    this.out.byte(0x62);
  }

  private ndarrayHeader(): void {
    this.global('numpy.core.multiarray', '_reconstruct');
    this.tuple([new WGlobal('numpy', 'ndarray'), tuple(0), this.py2 ? 'b' : new Uint8Array([0x62])]);
    this.out.byte(0x52);
    this.put();
  }

  private ndarray(a: NdArray): void {
    if (!typedArrayMatches(a.dtype, a.data)) this.fail(`array ${a.describe()} holds a ${a.data.constructor.name}`);
    this.ndarrayHeader();
    this.out.byte(0x28);
    this.int(1);
    this.tuple(a.shape);
    this.dtype(a.dtype, dtypeCode(a.dtype));
    this.save(false);
    this.bytes(ndarrayBytes(a));
    this.out.byte(0x74);
    this.put();
    this.out.byte(0x62);
  }

  private objectArray(a: ObjectArray): void {
    this.ndarrayHeader();
    this.out.byte(0x28);
    this.int(1);
    this.tuple(a.shape);
    this.dtype('|O8', 'O8');
    this.save(false);
    this.list(a.items);
    this.out.byte(0x74);
    this.put();
    this.out.byte(0x62);
  }

  private csc(m: CscMatrix): void {
    const st = m.state;
    const maxprint = st?.get('maxprint');
    const mp = typeof maxprint === 'number' ? maxprint : 50;
    const shape = tuple(m.shape[0], m.shape[1]);
    if (this.py2) {
      this.newobj('scipy.sparse.csc', 'csc_matrix', new Map<unknown, unknown>([
        ['_shape', shape],
        ['maxprint', mp],
        ['format', 'csc'],
        ['indices', m.indices],
        ['indptr', m.indptr],
        ['data', m.data],
        ['_has_sorted_indices', true],
      ]));
    } else {
      this.newobj('scipy.sparse._csc', 'csc_matrix', new Map<unknown, unknown>([
        ['_shape', shape],
        ['maxprint', mp],
        ['indptr', m.indptr],
        ['indices', m.indices],
        ['data', m.data],
      ]));
    }
  }

  private torchTensor(t: TorchTensor): void {
    const a = t.array;
    const typeName = TORCH_STORAGE_NAMES[a.dtype];
    if (!typeName) this.fail(`a ${a.dtype} array cannot be written as a torch tensor`);
    const stride: number[] = [];
    let s = 1;
    for (let i = a.shape.length - 1; i >= 0; i--) {
      stride[i] = s;
      s *= a.shape[i];
    }
    const stream = legacyTorchStorageStream(a, typeName);
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.out.byte(0x28);
    this.global('torch.storage', '_load_from_bytes');
    this.tuple([stream]);
    this.out.byte(0x52);
    this.put();
    this.int(0);
    this.tuple(a.shape);
    this.tuple(stride);
    this.save(false);
    this.global('collections', 'OrderedDict');
    this.tuple([]);
    this.out.byte(0x52);
    this.put();
    this.out.byte(0x74);
    this.put();
    this.out.byte(0x52);
    this.put();
  }

  save(v: WValue): void {
    if (v === null) return this.out.byte(0x4e);
    switch (typeof v) {
      case 'boolean':
        if (this.proto >= 2) this.out.byte(v ? 0x88 : 0x89);
        else this.out.ascii(v ? 'I01\n' : 'I00\n');
        return;
      case 'number':
        if (Object.is(v, -0)) return this.float(v);
        if (Number.isSafeInteger(v)) return this.int(v);
        if (Number.isInteger(v)) return this.long(BigInt(v));
        return this.float(v);
      case 'bigint':
        return this.long(v);
      case 'string':
        return this.str(v);
      case 'object':
        break;
      default:
        this.fail(`cannot pickle a value of type ${typeof v}`);
    }
    if (v instanceof Uint8Array) return this.bytes(v);
    if (v instanceof PyTuple) return this.tuple(v as WValue[]);
    if (Array.isArray(v)) return this.list(v);
    if (v instanceof Map) return this.dict(v);
    if (v instanceof Set) return this.set(v, v instanceof PyFrozenSet);
    if (v instanceof NdArray) return this.ndarray(v);
    if (v instanceof ChumpyArray) {
      const st = new Map<unknown, unknown>(v.state);
      st.set('x', v.x);
      return this.newobj('chumpy.ch', 'Ch', st);
    }
    if (v instanceof CscMatrix) {
      v.validate('writePickle');
      return this.csc(v);
    }
    if (v instanceof PyDType) {
      const code = v.descr.slice(1);
      return this.dtype(v.descr, code);
    }
    if (v instanceof ObjectArray) return this.objectArray(v);
    if (v instanceof PyFloat) return this.float(v.value);
    if (v instanceof PyUnicode) return this.unicode(v.value);
    if (v instanceof TorchTensor) return this.torchTensor(v);
    if (v instanceof WGlobal) return this.global(v.module, v.name);
    if (v instanceof WPersistent) {
      if (!this.bin) this.fail('persistent ids are only written in binary protocols');
      this.save(v.pid);
      return this.out.byte(0x51);
    }
    this.fail(`cannot pickle ${(v as object).constructor?.name ?? 'this object'}`);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A legacy (non-zip) `torch.save(storage)` stream, as `torch.storage._load_from_bytes` reads it. */
function legacyTorchStorageStream(a: NdArray, typeName: string): Uint8Array {
  const p = (v: WValue) => new Pickler(2, 'unicode').dump(v);
  const key = '0';
  const header = new Uint8Array(8);
  new DataView(header.buffer).setBigUint64(0, BigInt(a.size), true);
  return concat([
    p(TORCH_MAGIC),
    p(1001),
    p(new Map<unknown, unknown>([
      ['protocol_version', 1001],
      ['little_endian', true],
      ['type_sizes', new Map<unknown, unknown>([['short', 2], ['int', 4], ['long', 4]])],
    ])),
    p(new WPersistent(tuple<PyValue>('storage', new WGlobal('torch', typeName) as unknown as PyValue, key, 'cpu', a.size, null))),
    p([key]),
    header,
    ndarrayBytes(a),
  ]);
}

/** Serialise `value` as a pickle (see the module comment for the layouts and the value mapping). */
export function writePickle(value: PyValue, opts: WritePickleOptions = {}): Uint8Array {
  const proto = opts.protocol ?? 2;
  if (proto !== 0 && proto !== 2 && proto !== 3) throw new FormatError('writePickle', `protocol ${proto} is not supported (use 0, 2 or 3)`);
  return new Pickler(proto, opts.strings).dump(value);
}
