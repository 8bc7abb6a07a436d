import { describe, expect, it } from 'vitest';
import { FormatError } from './errors.js';
import { readPly, writePly } from './ply.js';

function expectFormatError(fn: () => unknown, re: RegExp): void {
  expect(fn).toThrow(FormatError);
  expect(fn).toThrow(re);
}

const enc = (s: string) => new TextEncoder().encode(s);

describe('PLY', () => {
  const positions = new Float32Array([0, 0, 0, 1, 0, 0, 1, 1, 0.5, -0.25, 1, 2]);
  const faces = new Uint32Array([0, 1, 2, 0, 2, 3]);
  const colors = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);

  it('writePly → readPly (with and without colours)', () => {
    const bytes = writePly({ positions, faces, colors });
    const head = new TextDecoder().decode(bytes.subarray(0, 300));
    expect(head).toContain('format binary_little_endian 1.0\n');
    expect(head).toContain('property float x\n');
    expect(head).toContain('property uchar red\n');
    expect(head).toContain('property list uchar int vertex_indices\nend_header\n');
    expect(bytes.length).toBe(head.indexOf('end_header\n') + 11 + 4 * 15 + 2 * 13);
    const m = readPly(bytes, 'mesh.ply');
    expect(Array.from(m.positions)).toEqual(Array.from(positions));
    expect(Array.from(m.faces)).toEqual(Array.from(faces));
    expect(Array.from(m.colors!)).toEqual(Array.from(colors));
    const n = readPly(writePly({ positions: new Float64Array(positions), faces }), 'nocolor.ply');
    expect(n.colors).toBe(null);
    expect(Array.from(n.positions)).toEqual(Array.from(positions));
  });

  it('ascii, RGBA, extra properties, quads and other elements (trimesh-like)', () => {
    const src = [
      'ply', 'format ascii 1.0', 'comment made by hand', 'element vertex 4', 'property float x', 'property float y', 'property float z',
      'property float nx', 'property uchar red', 'property uchar green', 'property uchar blue', 'property uchar alpha',
      'element face 1', 'property list uchar int vertex_indices', 'property uchar flags', 'element edge 1', 'property int vertex1', 'property int vertex2', 'end_header',
      '0 0 0 9 1 2 3 255', '1 0 0 9 4 5 6 255', '1 1 0 9 7 8 9 255', '0 1 0 9 10 11 12 255', '4 0 1 2 3 7', '0 1', '',
    ].join('\n');
    const m = readPly(enc(src), 'a.ply');
    expect(Array.from(m.positions)).toEqual([0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0]);
    expect(Array.from(m.faces)).toEqual([0, 1, 2, 0, 2, 3]);
    expect(Array.from(m.colors!)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('bad input', () => {
    const good = writePly({ positions, faces });
    for (let cut = 0; cut < good.length; cut++) expectFormatError(() => readPly(good.subarray(0, cut), 't.ply'), /^t\.ply: /);
    expectFormatError(() => readPly(enc('<!DOCTYPE html>'), 'x.ply'), /^x\.ply: this is an HTML page, not a PLY mesh/);
    expectFormatError(() => readPly(enc('solid cube\n'), 'x.ply'), /not a PLY file/);
    expectFormatError(() => readPly(enc('ply\nformat binary_big_endian 1.0\nelement vertex 0\nproperty float x\nproperty float y\nproperty float z\nend_header\n'), 'x.ply'), /big_endian/);
    expectFormatError(() => readPly(enc('ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n'), 'x.ply'), /face 0 uses vertex 3, out of range \[0, 3\)/);
    expectFormatError(() => readPly(enc('ply\nformat ascii 1.0\nelement vertex 9999999\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 0 0\n'), 'x.ply'), /truncated/);
    expectFormatError(() => writePly({ positions, faces: new Uint32Array([0, 1, 4]) }), /out of range/);
  });
});
