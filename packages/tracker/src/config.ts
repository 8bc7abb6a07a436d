// Tracker configuration: the defaults live in configs/tracking.json (the one place they are written), and any
// key can be overridden as `key=value` on the command line, as the original does with OmegaConf. Values are
// parsed by the type of the default (number, boolean, string); an unknown key or a value of the wrong type is
// an error naming the key.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's configs/ folder (two levels above this package's src/ or dist/). */
export const CONFIG_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'configs');
export const DEFAULT_CONFIG_FILE = join(CONFIG_DIR, 'tracking.json');

export interface TrackerConfig {
  size: number;
  iters: number;
  global_iters: number;
  batch_size: number;
  early_stopping_delta: number;
  camera_steps: number;
  /** 'adam' (the original) or 'lm': Levenberg-Marquardt for the landmark half of the camera warm-up (run/camera-lm.ts). */
  camera_solver: string;
  extra_cam_steps: boolean;
  seed: number;

  lr_exp: number;
  lr_eyes: number;
  lr_eyelids: number;
  lr_t: number;
  lr_R: number;
  lr_jaw: number;
  lr_neck: number;
  lr_id: number;
  lr_cam_t: number;
  lr_cam_R: number;
  lr_cam_f: number;
  lr_cam_pp: number;
  lr_f_global: number;
  lr_pp_global: number;

  focal_init: number;

  uv_map_super: number;
  uv_l2: boolean;
  delta_uv: number;
  dist_uv: number;
  occ_filter: boolean;
  stricter_uv_mask: boolean;
  /** Decode the UV and normal PNGs at their bins' centres, (png + 0.5)/255, instead of png/255 (data/reader.ts; a deviation from the original, on by default). */
  png_bin_centres: boolean;
  /** Move the UV-correspondence targets by (-1/2, +1/2) px, from the raster's pixel centres into the point projection's convention (spec 5 and 9.6; a deviation from the original, on by default). */
  uv_target_half_pixel: boolean;

  normal_super: number;
  normal_l2: boolean;
  delta_n: number;
  eye_dilation: number;

  sil_super: number;

  no_lm: boolean;
  w_lmks: number;
  w_lmks_lid: number;
  w_lmks_iris: number;
  w_lmks_mouth: number;
  use_mouth_lmk: boolean;

  w_exp: number;
  w_jaw: number;
  w_neck: number;
  w_eyes_sym: number;
  w_eyes_reg: number;
  w_shape: number;
  w_shape_general: number;
  w_pp: number;
  w_mirror: number;

  smooth: boolean;
  reg_smooth_mult: number;
  w_smooth_exp: number;
  w_smooth_eyes: number;
  w_smooth_eyelids: number;
  w_smooth_jaw: number;
  w_smooth_neck: number;
  w_smooth_R: number;
  w_smooth_t: number;

  w_cam_lmk: number;
  w_cam_uv: number;

  include_neck: boolean;
  use_flame2023: boolean;
  ignore_mica: boolean;
  is_discontinuous: boolean;
  global_camera: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

let defaults: TrackerConfig | null = null;

/** The defaults of configs/tracking.json (a fresh copy each call). */
export function defaultTrackerConfig(): TrackerConfig {
  if (!defaults) defaults = readConfigFile(DEFAULT_CONFIG_FILE);
  return { ...defaults };
}

function readConfigFile(file: string): TrackerConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${file}: cannot read the tracker configuration (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`${file}: expected a JSON object`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) if (!k.startsWith('$')) out[k] = v;
  return out as unknown as TrackerConfig;
}

/**
 * Applies overrides to a configuration: `key=value` strings (command line) or an object (API). Values take the
 * type of the default: numbers must parse as finite numbers, booleans as true/false (also 1/0, yes/no).
 */
export function withOverrides(base: TrackerConfig, overrides: readonly string[] | Partial<Record<string, unknown>>, source = 'override'): TrackerConfig {
  const out: Record<string, unknown> = { ...base };
  const entries: [string, unknown][] = Array.isArray(overrides)
    ? overrides.map((s) => {
        const eq = s.indexOf('=');
        if (eq <= 0) throw new ConfigError(`${source} '${s}': expected key=value (for example iters=800)`);
        return [s.slice(0, eq).trim(), s.slice(eq + 1).trim()];
      })
    : Object.entries(overrides as Record<string, unknown>);
  for (const [key, raw] of entries) {
    if (!(key in out)) {
      const near = Object.keys(out).filter((k) => k.includes(key) || key.includes(k)).slice(0, 3);
      throw new ConfigError(`${source}: unknown configuration key '${key}'${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}`);
    }
    out[key] = coerce(key, out[key], raw, source);
  }
  return out as unknown as TrackerConfig;
}

function coerce(key: string, def: unknown, raw: unknown, source: string): unknown {
  if (typeof def === 'number') {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw !== '' ? Number(raw) : NaN;
    if (!Number.isFinite(n)) throw new ConfigError(`${source}: '${key}' must be a number, got '${String(raw)}'`);
    return n;
  }
  if (typeof def === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const s = String(raw).toLowerCase();
    if (['true', '1', 'yes'].includes(s)) return true;
    if (['false', '0', 'no'].includes(s)) return false;
    throw new ConfigError(`${source}: '${key}' must be true or false, got '${String(raw)}'`);
  }
  if (typeof raw !== 'string') throw new ConfigError(`${source}: '${key}' must be a string`);
  return raw;
}
