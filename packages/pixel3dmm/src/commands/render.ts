// `pixel3dmm render`: one image of a mesh (an OBJ/PLY file, or a FLAME model posed by a parameter file) as the
// tracker's renderer sees it: camera at (0,0,1) looking down -z, focal 2000/512 of the size, principal point at
// the centre, near 0.1, far 5 (all from @pixel3dmm/render camera.ts). `.png` for looking at, `.npy` for numbers.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import sharp from 'sharp';
import { Flame, defaultFlameParams, parseFlameParams } from '@pixel3dmm/flame';
import { NdArray, readObj, readPly, writeFileAtomic, writeNpy } from '@pixel3dmm/formats';
import { MAX_TRIANGLES } from '@pixel3dmm/render';
import { chooseFlameModel } from '../model-choice.js';
import { CHANNELS, channelToRgb, renderChannel, type Channel, type WorldMesh } from './render-channels.js';

export interface RenderOptions {
  mesh?: string;
  model?: string;
  params?: string;
  size: number;
  out: string;
  channel: string;
  /** false with --no-antialias (mask only). */
  antialias: boolean;
}

/** Largest accepted image side (an S x S float32 rast buffer of 4 channels is 256 MiB at 4096). */
export const MAX_RENDER_SIZE = 4096;

function fail(message: string): never {
  throw new Error(message);
}

/** A mesh file (.obj or .ply) as a world-space mesh; every problem names the file. */
function loadMeshFile(file: string): WorldMesh {
  const ext = extname(file).toLowerCase();
  if (ext !== '.obj' && ext !== '.ply') fail(`--mesh ${file}: expected a .obj or .ply file`);
  if (!existsSync(file)) fail(`--mesh ${file}: file not found`);
  if (!statSync(file).isFile()) fail(`--mesh ${file}: not a file`);
  const bytes = new Uint8Array(readFileSync(file));
  let positions: Float64Array, faces: Uint32Array;
  let uv: WorldMesh['uv'] = null;
  if (ext === '.obj') {
    const m = readObj(bytes, file);
    positions = m.positions;
    faces = m.faces;
    if (m.faceUvs && m.uvs.length > 0) uv = { uvs: Float32Array.from(m.uvs), faceUvs: Int32Array.from(m.faceUvs) };
  } else {
    const m = readPly(bytes, file);
    positions = m.positions;
    faces = m.faces;
  }
  return checkedMesh(file, Float32Array.from(positions), faces, uv);
}

function checkedMesh(what: string, positions: Float32Array, faces: ArrayLike<number>, uv: WorldMesh['uv']): WorldMesh {
  const V = positions.length / 3;
  const T = faces.length / 3;
  if (T === 0) fail(`${what}: the mesh has no triangles`);
  if (T > MAX_TRIANGLES) fail(`${what}: ${T} triangles, at most ${MAX_TRIANGLES} can be rendered`);
  for (let i = 0; i < positions.length; i++) {
    if (!Number.isFinite(positions[i])) fail(`${what}: vertex ${Math.floor(i / 3)} has a non-finite coordinate (${positions[i]}) in float32`);
  }
  for (let i = 0; i < faces.length; i++) {
    if (!(faces[i] < V)) fail(`${what}: triangle ${Math.floor(i / 3)} uses vertex ${faces[i]}, out of range [0, ${V})`);
  }
  return { positions, faces: Int32Array.from(faces), uv };
}

/** The FLAME model (--model, else PIXEL3DMM_FLAME_MODEL, else the built-in head) posed by --params, in world space. */
function loadFlameMesh(opts: RenderOptions): { mesh: WorldMesh; source: string } {
  // the parameter file is read before the (slower) model is built, so that a bad path fails at once
  let json: unknown;
  if (opts.params !== undefined) {
    try {
      json = JSON.parse(readFileSync(opts.params, 'utf8'));
    } catch (e) {
      fail(`--params ${opts.params}: cannot read the parameter file as JSON (${(e as Error).message})`);
    }
  }
  const model = chooseFlameModel(opts.model);
  const params = opts.params !== undefined ? parseFlameParams(json, opts.params, model) : defaultFlameParams();
  // world: the global rotation / translation applied, as the tracker renders the head.
  const { vertices } = new Flame(model).evaluate([params], { world: true });
  const uv = model.uv ? { uvs: model.uv.uvs, faceUvs: Int32Array.from(model.uv.faceUvs) } : null;
  const source = `${model.source}${opts.params !== undefined ? ` posed by ${basename(opts.params)}` : ', default parameters'}`;
  return { mesh: checkedMesh(model.source, vertices.slice(0, 3 * model.numVertices), model.faces, uv), source };
}

function checkArguments(opts: RenderOptions): { channel: Channel; format: 'png' | 'npy' } {
  if (!(CHANNELS as readonly string[]).includes(opts.channel)) {
    fail(`--channel ${opts.channel}: expected one of ${CHANNELS.join(', ')}`);
  }
  const channel = opts.channel as Channel;
  if (!Number.isInteger(opts.size) || opts.size < 1 || opts.size > MAX_RENDER_SIZE) {
    fail(`--size ${opts.size}: expected an integer in [1, ${MAX_RENDER_SIZE}]`);
  }
  const ext = extname(opts.out).toLowerCase();
  if (ext !== '.png' && ext !== '.npy') fail(`--out ${opts.out}: expected a .png or .npy file name`);
  const dir = dirname(resolve(opts.out));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) fail(`--out ${opts.out}: the directory ${dir} does not exist`);
  if (existsSync(opts.out) && statSync(opts.out).isDirectory()) fail(`--out ${opts.out}: is a directory, expected a file name`);
  if (opts.mesh !== undefined && (opts.model !== undefined || opts.params !== undefined)) {
    fail('--mesh renders a mesh file as it is; --model and --params pose a FLAME model instead: give one or the other');
  }
  if (opts.antialias === false && channel !== 'mask') fail(`--no-antialias applies to --channel mask only, not ${channel}`);
  return { channel, format: ext === '.png' ? 'png' : 'npy' };
}

export async function renderCommand(opts: RenderOptions): Promise<void> {
  const { channel, format } = checkArguments(opts);
  const { mesh, source } = opts.mesh !== undefined ? { mesh: loadMeshFile(opts.mesh), source: opts.mesh } : loadFlameMesh(opts);
  if (channel === 'uv' && !mesh.uv) {
    fail(`${source}: the mesh has no texture coordinates, needed for --channel uv (an OBJ with 'vt' lines and 'f v/vt' faces)`);
  }
  const S = opts.size;
  const image = renderChannel(mesh, S, channel, opts.antialias !== false);
  let bytes: Uint8Array;
  if (format === 'npy') {
    bytes = image.values === null
      ? writeNpy(new NdArray('<i4', [S, S], image.ids))
      : writeNpy(new NdArray('<f4', [S, S, image.channels], image.values));
  } else {
    const rgb = channelToRgb(image, channel, S);
    bytes = await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width: S, height: S, channels: 3 } }).png().toBuffer();
  }
  await writeFileAtomic(opts.out, bytes);
  let covered = 0;
  for (let p = 0; p < S * S; p++) if (image.ids[p] > 0) covered++;
  const aa = image.antialiased === undefined ? '' : image.antialiased ? ', antialiased' : ', not antialiased';
  console.log(`${opts.out}: ${channel}${aa}, ${S}x${S}, ${covered} pixels covered (${source}, ${mesh.faces.length / 3} triangles)`);
  if (covered === 0) console.log('  nothing in view: the camera sits at (0,0,1) looking down -z, seeing depths 0.1 to 5 m in front of it');
}
