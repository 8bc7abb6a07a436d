// The tracking output folder's name (spec 1) and the files in it (spec 8, plus our additions).
//
// TRACKING_OUTPUT/{VID}_nV1[_noLM][_noPho][_noMICA][_uv{uv_map_super}][_n{normal_super}]
// The numbers are written as Python writes floats (2000.0, not 2000), so that the default is
// `VID_nV1_noPho_uv2000.0_n1000.0` exactly as the original's. _noPho is always there: this port has no
// photometric term (the original's default no_pho=True). `_nc{normal_super_can}` never appears (the
// canonical-normal term is not part of this port; its weight is 0 by default).
import { join } from 'node:path';
import { frameStem } from '@pixel3dmm/formats';
import type { TrackerConfig } from '../config.js';

/** A float as Python's repr writes it (2000.0, 0.5, 1e-05). */
export function pythonFloat(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return `${x}.0`;
  return String(x).replace(/e([+-])(\d)$/, 'e$10$2');
}

export function trackingFolderName(vid: string, c: TrackerConfig): string {
  if (!vid || /[\\/]/.test(vid)) throw new RangeError(`tracking: the video name must be a non-empty name without slashes, got '${vid}'`);
  let name = `${vid}_nV1`;
  if (c.no_lm) name += '_noLM';
  name += '_noPho';
  if (c.ignore_mica) name += '_noMICA';
  if (c.uv_map_super > 0) name += `_uv${pythonFloat(c.uv_map_super)}`;
  if (c.normal_super > 0) name += `_n${pythonFloat(c.normal_super)}`;
  return name;
}

/** Paths inside one tracking output folder. */
export const OUTPUT_FILES = {
  /** Written last: its presence marks a finished run (see writer.ts). */
  manifest: 'tracking.json',
  /** All frames gathered (spec 8's checkpoint fields, as arrays over frames). */
  npz: 'tracking.npz',
  cameras: 'cameras.json',
  telemetry: 'telemetry.jsonl',
  video: 'result.mp4',
  canonicalMesh: join('mesh', 'canonical.ply'),
} as const;

/** Per-frame parameters in the FLAME parameter schema (readable by `pixel3dmm flame --params`). */
export function frameParamsPath(index: number): string {
  return join('checkpoint', `${frameStem(index)}.json`);
}

/** The posed mesh in FLAME space (global R, t not applied). */
export function frameMeshPath(index: number): string {
  return join('mesh', `${frameStem(index)}.ply`);
}
