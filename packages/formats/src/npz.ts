// numpy .npz archives: ZIP files (PKWARE APPNOTE) with one .npy per array.
//
// The reader trusts the central directory (found through the end-of-central-directory record, with
// ZIP64 support as numpy writes it), checks each local header, supports stored (0) and deflated (8)
// entries, data descriptors (general-purpose flag bit 3), and verifies every CRC-32. The writer emits
// plain (non-ZIP64) archives with fixed timestamps, so the output is deterministic.

import * as zlib from 'node:zlib';
import { FormatError, previewBytes, sniffNotAFile } from './errors.js';
import type { NdArray } from './ndarray.js';
import { readNpy, writeNpy } from './npy.js';

let CRC_TABLE: Uint32Array | null = null;

function crcTable(): Uint32Array {
  if (CRC_TABLE) return CRC_TABLE;
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return (CRC_TABLE = t);
}

/** CRC-32 (ISO-HDLC, as ZIP uses); `crc32(bytes('123456789')) === 0xcbf43926`. */
export function crc32(data: Uint8Array, seed = 0): number {
  const native = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (typeof native === 'function') return native(data, seed) >>> 0;
  const t = crcTable();
  let c = (seed ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface Entry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  csize: number;
  usize: number;
  localOffset: number;
}

const latin1 = (b: Uint8Array) => String.fromCharCode(...b);

/** Read the raw members of a ZIP archive (name → uncompressed bytes), checking CRCs. */
export function readZip(bytes: Uint8Array, file: string): Map<string, Uint8Array> {
  sniffNotAFile(bytes, file, 'a ZIP archive');
  const fail: (m: string) => never = (m) => {
    throw new FormatError(file, m);
  };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (p: number) => dv.getUint16(p, true);
  const u32 = (p: number) => dv.getUint32(p, true);
  const u64 = (p: number) => {
    const v = dv.getBigUint64(p, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('ZIP64 size or offset is too large');
    return Number(v);
  };
  if (bytes.length < 22 || u32(0) !== 0x04034b50) {
    if (bytes.length >= 4 && u32(0) === 0x06054b50) return new Map(); // empty archive
    fail(`not a ZIP archive (expected "PK\\x03\\x04", got ${previewBytes(bytes)})`);
  }
  // End of central directory: the last "PK\5\6" within the final 64 KiB + 22 bytes.
  let eocd = -1;
  for (let p = bytes.length - 22; p >= Math.max(0, bytes.length - 22 - 0xffff); p--) {
    if (u32(p) === 0x06054b50 && p + 22 + u16(p + 20) <= bytes.length) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) fail(`truncated at byte ${bytes.length}: the ZIP end-of-central-directory record is missing`);
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(loc) !== 0x07064b50) fail('ZIP64 end-of-central-directory locator is missing');
    const z = u64(loc + 8);
    if (z + 56 > bytes.length || u32(z) !== 0x06064b50) fail('ZIP64 end-of-central-directory record is missing');
    count = u64(z + 32);
    cdSize = u64(z + 40);
    cdOffset = u64(z + 48);
  }
  if (cdOffset + cdSize > bytes.length) fail(`truncated at byte ${bytes.length}: the central directory (${cdSize} bytes at ${cdOffset}) is cut off`);
  const entries: Entry[] = [];
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cdOffset + cdSize || u32(p) !== 0x02014b50) fail(`bad central directory entry ${k} at byte ${p}`);
    const flags = u16(p + 8);
    const method = u16(p + 10);
    const crc = u32(p + 16);
    let csize = u32(p + 20);
    let usize = u32(p + 24);
    const nlen = u16(p + 28);
    const xlen = u16(p + 30);
    const clen = u16(p + 32);
    let localOffset = u32(p + 42);
    if (p + 46 + nlen + xlen + clen > cdOffset + cdSize) fail(`central directory entry ${k} runs past the directory`);
    const nameBytes = bytes.subarray(p + 46, p + 46 + nlen);
    const name = flags & 0x800 ? new TextDecoder().decode(nameBytes) : latin1(nameBytes);
    // ZIP64 extra field (id 1): the 0xffffffff fields, in order usize, csize, offset.
    let x = p + 46 + nlen;
    const xend = x + xlen;
    while (x + 4 <= xend) {
      const id = u16(x);
      const len = u16(x + 2);
      if (x + 4 + len > xend) fail(`bad extra field in central directory entry '${name}'`);
      if (id === 1) {
        let q = x + 4;
        const take = () => {
          if (q + 8 > x + 4 + len) fail(`bad ZIP64 extra field in entry '${name}'`);
          const v = u64(q);
          q += 8;
          return v;
        };
        if (usize === 0xffffffff) usize = take();
        if (csize === 0xffffffff) csize = take();
        if (localOffset === 0xffffffff) localOffset = take();
      }
      x += 4 + len;
    }
    if (flags & 1) fail(`entry '${name}' is encrypted, which is not supported`);
    entries.push({ name, method, flags, crc, csize, usize, localOffset });
    p += 46 + nlen + xlen + clen;
  }
  const out = new Map<string, Uint8Array>();
  for (const e of entries) {
    const lp = e.localOffset;
    if (lp + 30 > bytes.length || u32(lp) !== 0x04034b50) fail(`bad local header for '${e.name}' at byte ${lp}`);
    const start = lp + 30 + u16(lp + 26) + u16(lp + 28);
    if (start + e.csize > bytes.length) fail(`truncated at byte ${bytes.length} while reading '${e.name}' (${e.csize} bytes at ${start})`);
    const comp = bytes.subarray(start, start + e.csize);
    let data: Uint8Array;
    if (e.method === 0) {
      if (e.csize !== e.usize) fail(`stored entry '${e.name}' has different compressed (${e.csize}) and uncompressed (${e.usize}) sizes`);
      data = comp;
    } else if (e.method === 8) {
      try {
        data = zlib.inflateRawSync(comp, { maxOutputLength: Math.max(1, e.usize) });
      } catch (err) {
        return fail(`entry '${e.name}': corrupt deflate data (${(err as Error).message})`);
      }
      if (data.length !== e.usize) fail(`entry '${e.name}' inflates to ${data.length} bytes, expected ${e.usize}`);
    } else {
      return fail(`entry '${e.name}' uses compression method ${e.method}; only stored (0) and deflate (8) are supported`);
    }
    const c = crc32(data);
    if (c !== e.crc) fail(`CRC-32 mismatch in '${e.name}' (computed ${c.toString(16).padStart(8, '0')}, stored ${e.crc.toString(16).padStart(8, '0')}): the file is corrupt`);
    if (out.has(e.name)) fail(`duplicate entry '${e.name}'`);
    out.set(e.name, data);
  }
  return out;
}

/** Read an .npz archive: array name (without '.npy') → array. */
export function readNpz(bytes: Uint8Array, file: string): Map<string, NdArray> {
  sniffNotAFile(bytes, file, 'a numpy .npz archive');
  const members = readZip(bytes, file);
  const out = new Map<string, NdArray>();
  for (const [name, data] of members) {
    if (name.endsWith('/')) continue;
    const key = name.endsWith('.npy') ? name.slice(0, -4) : name;
    out.set(key, readNpy(data, `${file}:${name}`));
  }
  return out;
}

function dosDateTime(): { time: number; date: number } {
  return { time: 0, date: (0 << 9) | (1 << 5) | 1 }; // 1980-01-01 00:00:00
}

/** Build a ZIP archive from name → bytes (stored or deflated). */
export function writeZip(members: Iterable<[string, Uint8Array]>, opts: { compress?: boolean } = {}): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  let count = 0;
  const enc = new TextEncoder();
  const { time, date } = dosDateTime();
  for (const [name, data] of members) {
    const nameBytes = enc.encode(name);
    const utf8Flag = nameBytes.length !== name.length || /[^\x20-\x7e]/.test(name) ? 0x800 : 0;
    const crc = crc32(data);
    const comp = opts.compress ? new Uint8Array(zlib.deflateRawSync(data)) : data;
    const method = opts.compress ? 8 : 0;
    if (comp.length > 0xfffffff0 || data.length > 0xfffffff0 || offset > 0xfffffff0) {
      throw new FormatError('writeNpz', 'archives over 4 GiB (ZIP64) are not supported by this writer');
    }
    const lh = new Uint8Array(30 + nameBytes.length);
    const l = new DataView(lh.buffer);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(4, 20, true);
    l.setUint16(6, utf8Flag, true);
    l.setUint16(8, method, true);
    l.setUint16(10, time, true);
    l.setUint16(12, date, true);
    l.setUint32(14, crc, true);
    l.setUint32(18, comp.length, true);
    l.setUint32(22, data.length, true);
    l.setUint16(26, nameBytes.length, true);
    l.setUint16(28, 0, true);
    lh.set(nameBytes, 30);
    const ch = new Uint8Array(46 + nameBytes.length);
    const c = new DataView(ch.buffer);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 20, true);
    c.setUint16(6, 20, true);
    c.setUint16(8, utf8Flag, true);
    c.setUint16(10, method, true);
    c.setUint16(12, time, true);
    c.setUint16(14, date, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, comp.length, true);
    c.setUint32(24, data.length, true);
    c.setUint16(28, nameBytes.length, true);
    c.setUint32(38, 0o100644 * 0x10000, true); // external attributes: a regular file, rw-r--r--
    c.setUint32(42, offset, true);
    ch.set(nameBytes, 46);
    locals.push(lh, comp);
    centrals.push(ch);
    offset += lh.length + comp.length;
    count++;
  }
  if (count > 0xfffe) throw new FormatError('writeNpz', 'more than 65534 entries (ZIP64) are not supported by this writer');
  const cdSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = new Uint8Array(22);
  const e = new DataView(end.buffer);
  e.setUint32(0, 0x06054b50, true);
  e.setUint16(8, count, true);
  e.setUint16(10, count, true);
  e.setUint32(12, cdSize, true);
  e.setUint32(16, offset, true);
  const parts = [...locals, ...centrals, end];
  const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const part of parts) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

/** Write an .npz (like np.savez, or np.savez_compressed with `compress: true`). Names get '.npy' appended. */
export function writeNpz(
  entries: Map<string, NdArray> | Iterable<[string, NdArray]> | Record<string, NdArray>,
  opts: { compress?: boolean } = {},
): Uint8Array {
  const list: [string, NdArray][] =
    entries instanceof Map ? [...entries] : Symbol.iterator in (entries as object) ? [...(entries as Iterable<[string, NdArray]>)] : Object.entries(entries as Record<string, NdArray>);
  const seen = new Set<string>();
  for (const [k] of list) {
    if (seen.has(k)) throw new FormatError('writeNpz', `duplicate array name '${k}'`);
    seen.add(k);
  }
  return writeZip(list.map(([k, a]) => [`${k}.npy`, writeNpy(a)] as [string, Uint8Array]), opts);
}
