// Ground-truth parameters of a synthetic subject: a random identity and smooth motion over the sequence
// (expression, jaw, eyes, eyelid blinks, neck, and the global head pose R, t), as a 25 fps video would show.
//
// Every signal is a sum of a few sinusoids with random frequencies (0.15-0.8 Hz) and phases, so frames are
// continuous in time and any frame can be computed alone. Ranges (at most, about):
//   head yaw +-25 deg, pitch +-12 deg, roll +-6 deg; translation x, y +-1 cm, z +-3 cm (the camera is 1 m
//   away with the default focal 2000/512, so the head fills ~200 px of the 256 crop, spec 9.18);
//   neck +-5 deg; jaw opening 0-10 deg; gaze +-10 deg (both eyes together); one blink every ~2 s (eyelids 0-1);
//   expression: the first 10 components, |psi| <~ 1.5; identity: beta_k ~ N(0, 0.8^2) for the first 50.
import { defaultFlameParams, type FlameModel, type FlameParams } from '@pixel3dmm/flame';
import { Rng, STREAM } from './random.js';

export const FRAME_RATE = 25;

const DEG = Math.PI / 180;

/** Row-major R = Ry(yaw) Rx(pitch) Rz(roll) -> 6D (its first two rows), radians. */
export function eulerTo6d(yaw: number, pitch: number, roll: number): number[] {
  const cy = Math.cos(yaw), sy = Math.sin(yaw);
  const cp = Math.cos(pitch), sp = Math.sin(pitch);
  const cr = Math.cos(roll), sr = Math.sin(roll);
  // Ry = [[cy,0,sy],[0,1,0],[-sy,0,cy]], Rx = [[1,0,0],[0,cp,-sp],[0,sp,cp]], Rz = [[cr,-sr,0],[sr,cr,0],[0,0,1]].
  const ryrx = [
    [cy, sy * sp, sy * cp],
    [0, cp, -sp],
    [-sy, cy * sp, cy * cp],
  ];
  const R = ryrx.map((row) => [row[0] * cr + row[1] * sr, -row[0] * sr + row[1] * cr, row[2]]);
  // + 0 turns -0 into 0 (JSON writes both as 0).
  return [...R[0], ...R[1]].map((v) => v + 0);
}

/** A smooth random signal in about [-1, 1]: two sinusoids with random frequencies and phases. */
class Wave {
  private readonly parts: { f: number; phase: number; a: number }[];
  constructor(rng: Rng) {
    this.parts = [0, 1].map((k) => ({ f: rng.range(0.15, 0.8), phase: rng.range(0, 2 * Math.PI), a: k === 0 ? 0.7 : 0.3 }));
  }
  at(seconds: number): number {
    let s = 0;
    for (const p of this.parts) s += p.a * Math.sin(2 * Math.PI * p.f * seconds + p.phase);
    return s;
  }
}

/** The identity of a subject: random shape coefficients. */
export function sampleIdentity(model: Pick<FlameModel, 'numShape'>, seed: number): number[] {
  const rng = new Rng(seed, STREAM.identity);
  return Array.from({ length: model.numShape }, (_, k) => (k < 50 ? 0.8 * rng.normal() : 0));
}

/** Ground-truth FLAME parameters of frames 0..numFrames-1 (global pose included). */
export function sampleMotion(model: Pick<FlameModel, 'numShape' | 'numExpression'>, numFrames: number, seed: number): FlameParams[] {
  if (!Number.isInteger(numFrames) || numFrames < 1) throw new RangeError(`sampleMotion: numFrames must be a positive integer, got ${numFrames}`);
  const shape = sampleIdentity(model, seed);
  const rng = new Rng(seed, STREAM.motion);
  const wave = () => new Wave(rng);
  const head = { yaw: wave(), pitch: wave(), roll: wave(), x: wave(), y: wave(), z: wave() };
  const neck = { yaw: wave(), pitch: wave() };
  const jaw = wave();
  const gaze = { yaw: wave(), pitch: wave() };
  const numExpr = Math.min(10, model.numExpression);
  const expr = Array.from({ length: numExpr }, (_, k) => ({ w: wave(), a: 1.5 / (1 + 0.3 * k) }));
  const blinkPeriod = rng.range(1.6, 2.6);
  const blinkPhase = rng.range(0, blinkPeriod);
  return Array.from({ length: numFrames }, (_, i) => {
    const s = i / FRAME_RATE;
    const p = defaultFlameParams();
    p.shape = shape.slice();
    p.expression = Array.from({ length: model.numExpression }, (_, k) => (k < numExpr ? expr[k].a * expr[k].w.at(s) : 0));
    p.rotation = eulerTo6d(25 * DEG * head.yaw.at(s), 12 * DEG * head.pitch.at(s), 6 * DEG * head.roll.at(s));
    p.translation = [0.01 * head.x.at(s), 0.01 * head.y.at(s), 0.03 * head.z.at(s)];
    p.neck = eulerTo6d(5 * DEG * neck.yaw.at(s), 5 * DEG * neck.pitch.at(s), 0);
    // The jaw opens by a positive rotation about x (the chin moves down and back); half the time closed.
    p.jaw = eulerTo6d(0, 10 * DEG * Math.max(0, jaw.at(s)), 0);
    const g = eulerTo6d(10 * DEG * gaze.yaw.at(s), 10 * DEG * gaze.pitch.at(s), 0);
    p.eyes = [...g, ...g];
    // A blink: the lids close and reopen over ~0.2 s.
    const tb = (((s - blinkPhase) % blinkPeriod) + blinkPeriod) % blinkPeriod;
    const lid = tb < 0.2 ? Math.sin((Math.PI * tb) / 0.2) : 0;
    p.eyelids = [lid, lid];
    return p;
  });
}
