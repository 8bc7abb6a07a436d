// Writes a finished tracking run into TRACKING_OUTPUT/{name}/ (spec 8):
//   checkpoint/{t:05d}.json  parameters in the FLAME parameter schema + focal_length, principal_point, image_size
//   mesh/{t:05d}.ply         posed mesh in FLAME space (global R, t NOT applied), mesh/canonical.ply (shape only)
//   tracking.npz             every frame gathered (parameters, rotation matrices, joint transforms, cameras)
//   cameras.json             the camera in OpenCV and OpenGL conventions, and per-frame head-centric cameras
//   telemetry.jsonl          one line per frame (stage 1), then one line for stage 2
//   result.mp4               [image | blend | FLAME-space normals], 25 fps, crf 15
//   tracking.json            the manifest, written last
//
// Atomicity and resume (the granularity is the whole run): stage 2 revises every frame, so no frame's result
// is final before the end and a half-finished run cannot be resumed meaningfully. Everything is written into a
// hidden staging folder beside the target (.{name}.partial-{pid}-{random}), each file by temporary name and
// rename, and the staging folder is renamed to {name} only when all files are complete. An interrupted run
// therefore leaves no {name} folder (or the previous complete one), only a staging folder that the next run
// of the same name removes. A folder with a manifest is a finished run: rerunning with the same configuration
// and input is skipped (see `finishedRun`) unless forced; with a different configuration it is an error
// unless forced (the folder name encodes only some keys).
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { Flame, type FlameModel, type FlameParams } from '@pixel3dmm/flame';
import { ndarray, writeFileAtomic, writeNpz, writePly, type NdArray } from '@pixel3dmm/formats';
import { makeCamera, type Camera } from '@pixel3dmm/render';
import type { TrackerConfig } from '../config.js';
import type { FrameSource } from '../run/frames.js';
import type { RunResult } from '../run/tracker.js';
import { headCentricCamera, sequenceCamera } from './cameras.js';
import { OUTPUT_FILES, frameMeshPath, frameParamsPath, trackingFolderName } from './folder.js';
import { overlayFrame, type OverlayRender } from './overlay.js';
import { canonicalVertices, poseFrame, toWorld } from './posing.js';
import { VideoEncoder } from './video.js';
import { flameParamsOf } from '../run/variables.js';

export const OUTPUT_FORMAT = 'pixel3dmm-ts tracking v1';

/**
 * Renders FLAME-space normals and the face mask of one posed frame (the objective's forward render):
 * `world` [V,3] = R v + t, `noNeck` [V,3] the FLAME-space neck-free vertices.
 */
export type FrameRenderer = (camera: Camera, world: Float32Array, noNeck: Float32Array) => OverlayRender;

export interface OutputOptions {
  /** TRACKING_OUTPUT: the folder the run's folder goes into. */
  outRoot: string;
  /** VID: the video or image-folder name. */
  vid: string;
  config: TrackerConfig;
  model: FlameModel;
  /** The frames again, for the video's first panel. */
  frames: FrameSource;
  /** Forward render for result.mp4; without it no video is written (the manifest says so). */
  render?: FrameRenderer;
  /** Where the input came from (recorded in the manifest, compared on rerun). */
  source: string;
  signal?: AbortSignal;
  /** Called after each frame's files are written (done of total). */
  onProgress?: (done: number, total: number) => void;
}

export interface Manifest {
  format: string;
  vid: string;
  name: string;
  source: string;
  mode: RunResult['mode'];
  frames: number;
  frame_indices: number[];
  config: TrackerConfig;
  model: string;
  seconds: number;
  stage2: RunResult['stage2'];
  warnings: string[];
  files: string[];
  video: boolean;
}

export class OutputError extends Error {
  override name = 'OutputError';
}

/** The run folder's path for a name and configuration. */
export function outputFolder(outRoot: string, vid: string, config: TrackerConfig): string {
  return join(outRoot, trackingFolderName(vid, config));
}

/** The manifest of a finished run in `dir`, or null when there is none. */
export function readManifest(dir: string): Manifest | null {
  const file = join(dir, OUTPUT_FILES.manifest);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch (e) {
    throw new OutputError(`${file}: unreadable manifest (${(e as Error).message}); rerun with --force to replace the folder`);
  }
}

function differingKeys(a: TrackerConfig, b: TrackerConfig): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => (a as unknown as Record<string, unknown>)[k] !== (b as unknown as Record<string, unknown>)[k]);
}

/**
 * A finished run of this input and configuration, or null when the run has to be done. Throws when the
 * folder holds a finished run of something else (another configuration or input) and `force` is off.
 */
export function finishedRun(dir: string, config: TrackerConfig, source: string, frames: number, force: boolean, model?: string, video?: boolean): Manifest | null {
  if (force) return null;
  const m = readManifest(dir);
  if (!m) return null;
  if (model !== undefined && m.model !== model) throw new OutputError(`${dir} holds a finished run with another FLAME model (${m.model}); use --force to overwrite it`);
  const diff = differingKeys(m.config, config);
  if (diff.length) throw new OutputError(`${dir} holds a finished run with a different configuration (${diff.slice(0, 5).join(', ')}); use --force to overwrite it`);
  if (m.source !== source || m.frames !== frames) {
    throw new OutputError(`${dir} holds a finished run of another input (${m.source}, ${m.frames} frames); use --force to overwrite it`);
  }
  if (video && !m.video) throw new OutputError(`${dir} holds a finished run without result.mp4; use --force to track again with the video`);
  return m;
}

/** Removes staging folders of earlier runs of `name` whose process is gone. */
function removeStaleStaging(outRoot: string, name: string): void {
  if (!existsSync(outRoot)) return;
  const prefix = `.${name}.partial-`;
  for (const entry of readdirSync(outRoot)) {
    if (!entry.startsWith(prefix) && !entry.startsWith(`.${name}.old-`)) continue;
    const pid = Number(entry.slice(entry.lastIndexOf('.') + 1).split('-')[1]);
    let alive = false;
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch {
        alive = false;
      }
    }
    if (!alive) rmSync(join(outRoot, entry), { recursive: true, force: true });
  }
}

const f8 = (shape: number[], values: ArrayLike<number>): NdArray => ndarray('<f8', shape, values);

export async function writeTrackingOutputs(result: RunResult, o: OutputOptions): Promise<{ dir: string; manifest: Manifest }> {
  const name = trackingFolderName(o.vid, o.config);
  const dir = join(o.outRoot, name);
  mkdirSync(o.outRoot, { recursive: true });
  removeStaleStaging(o.outRoot, name);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const staging = join(o.outRoot, `.${name}.partial-${tag}`);
  mkdirSync(join(staging, 'checkpoint'), { recursive: true });
  mkdirSync(join(staging, 'mesh'), { recursive: true });
  const files: string[] = [];
  const put = async (rel: string, bytes: Uint8Array | string) => {
    await writeFileAtomic(join(staging, rel), bytes);
    files.push(rel);
  };
  let video: VideoEncoder | null = null;
  try {
    const v = result.variables;
    const N = v.frames.length;
    const S = o.config.size;
    const focal = v.focal[0];
    const pp: [number, number] = [v.pp[0], v.pp[1]];
    const camera = makeCamera(S, focal, pp);
    const flame = new Flame(o.model);
    const faces = o.model.faces;

    await put(OUTPUT_FILES.canonicalMesh, writePly({ positions: canonicalVertices(flame, v.shape), faces }));
    if (o.render) video = new VideoEncoder(join(staging, OUTPUT_FILES.video), 3 * S, S);

    const E = v.frames[0].expression.length;
    const gathered = {
      exp: new Float64Array(N * E),
      eyes: new Float64Array(N * 12),
      eyelids: new Float64Array(N * 2),
      jaw: new Float64Array(N * 6),
      neck: new Float64Array(N * 6),
      R: new Float64Array(N * 6),
      R_rotation_matrix: new Float64Array(N * 9),
      t: new Float64Array(N * 3),
      joint_transforms: new Float64Array(N * 80),
      head_w2c_opengl: new Float64Array(N * 16),
      head_w2c_opencv: new Float64Array(N * 16),
    };
    const headCameras: { frame: number; world_to_camera_opengl: number[]; world_to_camera_opencv: number[] }[] = [];
    for (let pos = 0; pos < N; pos++) {
      if (o.signal?.aborted) throw new DOMException('tracking was cancelled while writing outputs', 'AbortError');
      const fv = v.frames[pos];
      const index = result.frameIndices[pos];
      const posed = poseFrame(flame, v.shape, fv);
      const params = { ...flameParamsOf(v.shape, fv), focal_length: focal, principal_point: pp, image_size: [S, S] };
      await put(frameParamsPath(index), `${JSON.stringify(params)}\n`);
      await put(frameMeshPath(index), writePly({ positions: posed.vertices, faces }));
      gathered.exp.set(fv.expression, pos * E);
      gathered.eyes.set(fv.eyes, pos * 12);
      gathered.eyelids.set(fv.eyelids, pos * 2);
      gathered.jaw.set(fv.jaw, pos * 6);
      gathered.neck.set(fv.neck, pos * 6);
      gathered.R.set(fv.rotation, pos * 6);
      gathered.R_rotation_matrix.set(posed.R, pos * 9);
      gathered.t.set(fv.translation, pos * 3);
      gathered.joint_transforms.set(posed.jointTransforms, pos * 80);
      const head = headCentricCamera(posed.R, fv.translation, posed.jointTransforms.subarray(16, 32));
      gathered.head_w2c_opengl.set(head.opengl, pos * 16);
      gathered.head_w2c_opencv.set(head.opencv, pos * 16);
      headCameras.push({ frame: index, world_to_camera_opengl: [...head.opengl], world_to_camera_opencv: [...head.opencv] });
      if (video && o.render) {
        const frame = await o.frames.frame(pos);
        const world = toWorld(posed.vertices, posed.R, fv.translation);
        await video.write(overlayFrame(camera, frame.rgb, o.render(camera, world, posed.noNeck), posed.R));
      }
      o.onProgress?.(pos + 1, N);
    }
    if (video) {
      await video.close();
      files.push(OUTPUT_FILES.video);
      video = null;
    }

    const cam = sequenceCamera(S, focal, pp);
    await put(OUTPUT_FILES.cameras, `${JSON.stringify({ ...cam, head_centric: headCameras }, null, 1)}\n`);
    const K = cam.K_opencv;
    const npz = writeNpz([
      ['exp', f8([N, E], gathered.exp)],
      ['shape', f8([v.shape.length], v.shape)],
      ['eyes', f8([N, 12], gathered.eyes)],
      ['eyelids', f8([N, 2], gathered.eyelids)],
      ['jaw', f8([N, 6], gathered.jaw)],
      ['neck', f8([N, 6], gathered.neck)],
      ['R', f8([N, 6], gathered.R)],
      ['R_rotation_matrix', f8([N, 3, 3], gathered.R_rotation_matrix)],
      ['t', f8([N, 3], gathered.t)],
      ['fl', f8([1], [focal])],
      ['pp', f8([2], pp)],
      ['joint_transforms', f8([N, 5, 4, 4], gathered.joint_transforms)],
      ['img_size', ndarray('<i8', [2], [BigInt(S), BigInt(S)])],
      ['frame_id', ndarray('<i8', [N], result.frameIndices.map((i) => BigInt(i)))],
      ['K', f8([3, 3], K)],
      ['w2c_opengl', f8([4, 4], cam.world_to_camera_opengl)],
      ['w2c_opencv', f8([4, 4], cam.world_to_camera_opencv)],
      ['head_w2c_opengl', f8([N, 4, 4], gathered.head_w2c_opengl)],
      ['head_w2c_opencv', f8([N, 4, 4], gathered.head_w2c_opencv)],
    ]);
    await put(OUTPUT_FILES.npz, npz);
    const lines = result.telemetry.map((t) => JSON.stringify(t));
    if (result.stage2) lines.push(JSON.stringify({ stage2: result.stage2 }));
    await put(OUTPUT_FILES.telemetry, `${lines.join('\n')}\n`);

    const manifest: Manifest = {
      format: OUTPUT_FORMAT,
      vid: o.vid,
      name,
      source: o.source,
      mode: result.mode,
      frames: N,
      frame_indices: result.frameIndices,
      config: o.config,
      model: o.model.source,
      seconds: result.seconds,
      stage2: result.stage2,
      warnings: result.warnings,
      files: [...files, OUTPUT_FILES.manifest].sort(),
      video: !!o.render,
    };
    await writeFileAtomic(join(staging, OUTPUT_FILES.manifest), `${JSON.stringify(manifest, null, 1)}\n`);
    if (o.signal?.aborted) throw new DOMException('tracking was cancelled while writing outputs', 'AbortError');
    commit(staging, dir, tag);
    return { dir, manifest };
  } catch (e) {
    if (video) await video.abort().catch(() => undefined);
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

/** Moves the staging folder into place; a previous folder is set aside first and removed after. */
function commit(staging: string, dir: string, tag: string): void {
  let old: string | null = null;
  if (existsSync(dir)) {
    old = join(dirname(dir), `.${dir.split(/[\\/]/).pop()}.old-${tag}`);
    renameSync(dir, old);
  }
  try {
    renameSync(staging, dir);
  } catch (e) {
    if (old) renameSync(old, dir);
    throw e;
  }
  if (old) rmSync(old, { recursive: true, force: true });
}
