import { describe, expect, it } from 'vitest';
import { FormatError } from './errors.js';
import { readObj, writeObj } from './obj.js';

function expectFormatError(fn: () => unknown, re: RegExp): void {
  expect(fn).toThrow(FormatError);
  expect(fn).toThrow(re);
}

// A unit square split into two triangles, with a UV seam: vertex 2 (index 1) has two UVs.
const SEAM = `# Blender v2.80
mtllib template.mtl
o head
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
vt 0 0
vt 0.5 0
vt 0.5 1
vt 0 1
vt 0.9 0
usemtl m
s off
f 1/1 2/2 3/3
f 1/1 3/3 4/4
f 2/5 3/3 4/4
`;

describe('readObj', () => {
  it('keeps UV seams as separate index lists', () => {
    const m = readObj(SEAM, 'head_template.obj');
    expect(Array.from(m.positions)).toEqual([0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0]);
    expect(m.uvs.length).toBe(10);
    expect(Array.from(m.faces)).toEqual([0, 1, 2, 0, 2, 3, 1, 2, 3]);
    expect(Array.from(m.faceUvs!)).toEqual([0, 1, 2, 0, 2, 3, 4, 2, 3]);
    expect(m.faceNormals).toBe(null);
    expect(m.colors).toBe(null);
  });

  it('fan-triangulates polygons, resolves negative indices, reads normals and colours', () => {
    const src = `v 0 0 0 1 0 0\nv 1 0 0 0 1 0\nv 1 1 0 0 0 1\nv 0 1 0 0.5 0.5 0.5\nvn 0 0 1\nf -4//1 -3//1 -2//1 -1//1\nf 1//-1 2//-1 3//-1\r\n`;
    const m = readObj(new TextEncoder().encode(src), 'color.obj');
    expect(Array.from(m.faces)).toEqual([0, 1, 2, 0, 2, 3, 0, 1, 2]);
    expect(Array.from(m.faceNormals!)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(m.faceUvs).toBe(null);
    expect(Array.from(m.colors!)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0.5]);
    expect(Array.from(m.normals)).toEqual([0, 0, 1]);
  });

  it('bounds-checked indices with line numbers', () => {
    expectFormatError(() => readObj('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n', 'm.obj'), /^m\.obj: line 4: vertex index 4 is out of range \(3 vertexs defined so far\)|^m\.obj: line 4: vertex index 4 is out of range/);
    expectFormatError(() => readObj('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 -4\n', 'm.obj'), /line 4: vertex index -4 is out of range/);
    expectFormatError(() => readObj('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n', 'm.obj'), /line 4: vertex index 0 is invalid/);
    expectFormatError(() => readObj('v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nf 1/1 2/2 3/1\n', 'm.obj'), /line 5: texture coordinate index 2 is out of range/);
    expectFormatError(() => readObj('v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1/1 2 3\n', 'm.obj'), /line 4: .*(out of range|same v\/vt\/vn form)/);
    expectFormatError(() => readObj('v 0 0 zero\n', 'm.obj'), /line 1: expected a number for z/);
    expectFormatError(() => readObj('v 0 0 0\nv 1 0 0\nf 1 2\n', 'm.obj'), /line 3: a face needs at least 3 corners/);
    expectFormatError(() => readObj('v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nf 1/1 2/1 3/1\nf 1 2 3\n', 'm.obj'), /1 of 2 triangles have texture coordinates/);
    expectFormatError(() => readObj('\n\n<!DOCTYPE html>', 'm.obj'), /^m\.obj: this is an HTML page, not a Wavefront OBJ mesh/);
    expectFormatError(() => readObj(new TextEncoder().encode('<html>'), 'm.obj'), /HTML page/);
  });
});

describe('writeObj round trips', () => {
  it('seams, normals and exact float64 values', () => {
    const positions = new Float64Array([0.1, -0.2, 0.30000000000000004, 1e-7, 2.5, -3, 1 / 3, 2 / 3, 5e-324, 4, 5, 6]);
    const mesh = {
      positions,
      uvs: new Float64Array([0, 0, 0.5, 0, 0.5, 1, 0, 1, 0.9, 0]),
      normals: new Float64Array([0, 0, 1, 0, 1, 0]),
      faces: new Uint32Array([0, 1, 2, 0, 2, 3, 1, 2, 3]),
      faceUvs: new Uint32Array([0, 1, 2, 0, 2, 3, 4, 2, 3]),
      faceNormals: new Uint32Array([0, 0, 0, 1, 1, 1, 0, 1, 0]),
      colors: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1, 0.25, 0.5, 0.75]),
    };
    const m = readObj(writeObj(mesh), 'rt.obj');
    for (const k of ['positions', 'uvs', 'normals', 'faces', 'faceUvs', 'faceNormals', 'colors'] as const) {
      expect(Array.from(m[k]!), k).toEqual(Array.from(mesh[k]));
    }
    const plain = readObj(writeObj({ positions, faces: mesh.faces }), 'plain.obj');
    expect(plain.faceUvs).toBe(null);
    expect(plain.colors).toBe(null);
    expect(Array.from(plain.positions)).toEqual(Array.from(positions));
    const uvOnly = readObj(writeObj({ positions, faces: mesh.faces, uvs: mesh.uvs, faceUvs: mesh.faceUvs }), 'uv.obj');
    expect(Array.from(uvOnly.faceUvs!)).toEqual(Array.from(mesh.faceUvs));
  });
  it('rejects out-of-range faces', () => {
    expectFormatError(() => writeObj({ positions: [0, 0, 0], faces: [0, 0, 1] }), /faces\[2\] = 1 is out of range/);
  });
});
