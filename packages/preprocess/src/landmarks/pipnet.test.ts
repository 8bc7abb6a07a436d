import { describe, expect, it } from 'vitest';
import { decodePipnet, pipnetBox, pipnetNeighbours } from './pipnet.js';

describe('PIPNet decoding (spec 2.2)', () => {
  // Four landmarks on a line at x = 0, 1, 3, 7 (y = 0), one neighbour each:
  // nearest of 0 is 1, of 1 is 0, of 3 is 1, of 7 is 3.
  const meanface = [0, 0, 1, 0, 3, 0, 7, 0];

  it('builds the neighbour table and the reverse lists padded by repetition', () => {
    const { nb, reverse } = pipnetNeighbours(meanface, 4, 1);
    expect(nb).toEqual([[1], [0], [1], [2]]);
    // predicted-by lists: 0 <- {1}, 1 <- {0, 2}, 2 <- {3}, 3 <- {} ; max_len 2, padded by repetition
    expect(reverse).toEqual([[[1, 0], [1, 0]], [[0, 0], [2, 0]], [[3, 0], [3, 0]], []]);
  });

  it('takes the argmax cell, adds offsets and averages own and neighbour estimates', () => {
    const { reverse } = pipnetNeighbours(meanface, 4, 1);
    const G = 2;
    const cls = new Float32Array(4 * 4);
    // argmax cells: l0 -> 0 (col 0,row 0), l1 -> 1 (col 1,row 0), l2 -> 2 (col 0,row 1), l3 -> 3 (col 1,row 1)
    [0, 1, 2, 3].forEach((k, l) => (cls[l * 4 + k] = 1));
    const offX = new Float32Array(16).fill(0.25);
    const offY = new Float32Array(16).fill(0.5);
    const nbX = new Float32Array(16).fill(0.75); // each landmark's one neighbour: col + 0.75
    const nbY = new Float32Array(16).fill(0);
    const out = decodePipnet({ cls, offX, offY, nbX, nbY }, 4, G, 1, reverse);
    // own x: l0 .125, l1 .625, l2 .125, l3 .625 ; own y: l0 .25, l1 .25, l2 .75, l3 .75
    // nb estimates (made by l, for nb[l]): by l0 (col0) x .375 y 0; by l1 (col1) x .875 y 0; by l2 (col0,row1) x .375 y .5; by l3 x .875 y .5
    // l0 <- l1, l1 twice: x (.125 + .875 + .875)/3
    expect(out[0]).toBeCloseTo((0.125 + 0.875 * 2) / 3, 6);
    expect(out[1]).toBeCloseTo((0.25 + 0 + 0) / 3, 6);
    // l1 <- l0, l2: x (.625 + .375 + .375)/3, y (.25 + 0 + .5)/3
    expect(out[2]).toBeCloseTo((0.625 + 0.375 + 0.375) / 3, 6);
    expect(out[3]).toBeCloseTo((0.25 + 0 + 0.5) / 3, 6);
    // l3 is nobody's neighbour: its own estimate only
    expect([out[6], out[7]]).toEqual([0.625, 0.75]);
  });

  it("moves the box's top down and grows it by int(w*0.2/2) in float64 (w/10 - 1 for multiples of 10)", () => {
    // g(100) = int(100 * 0.19999999999999996 / 2) = 9
    expect(pipnetBox({ x: 50, y: 60, w: 100, h: 100 }, 512, 512)).toEqual({ xmin: 41, ymin: 69, xmax: 158, ymax: 168 });
    expect(pipnetBox({ x: 5, y: 0, w: 101, h: 500 }, 512, 512)).toEqual({ xmin: 0, ymin: 49, xmax: 115, ymax: 511 });
  });
});
