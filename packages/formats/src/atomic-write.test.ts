import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicSync } from './atomic-write.js';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'formats-atomic-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes and replaces a file, leaving no temp files', async () => {
    const d = tmp();
    const f = path.join(d, 'model.npz');
    await writeFileAtomic(f, new Uint8Array([1, 2, 3]));
    expect(Array.from(fs.readFileSync(f))).toEqual([1, 2, 3]);
    await writeFileAtomic(f, 'replaced');
    expect(fs.readFileSync(f, 'utf8')).toBe('replaced');
    writeFileAtomicSync(f, new Uint8Array([9]));
    expect(Array.from(fs.readFileSync(f))).toEqual([9]);
    expect(fs.readdirSync(d)).toEqual(['model.npz']);
  });

  it('removes the temp file and keeps the old content when the rename fails', async () => {
    const d = tmp();
    const target = path.join(d, 'is-a-dir');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'keep'), 'x'); // a non-empty directory cannot be replaced by rename
    await expect(writeFileAtomic(target, new Uint8Array([1]))).rejects.toThrow();
    expect(() => writeFileAtomicSync(target, new Uint8Array([1]))).toThrow();
    expect(fs.readdirSync(d)).toEqual(['is-a-dir']);
    expect(fs.readdirSync(target)).toEqual(['keep']);
  });

  it('fails cleanly when the directory does not exist', async () => {
    const d = tmp();
    await expect(writeFileAtomic(path.join(d, 'missing', 'f.bin'), new Uint8Array([1]))).rejects.toThrow(/ENOENT/);
    expect(fs.readdirSync(d)).toEqual([]);
  });
});
