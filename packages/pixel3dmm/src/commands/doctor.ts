// `pixel3dmm doctor`: checks every configured path and model file (exists, right format, right signature)
// and, for each licensed file that is missing, says where it comes from. Exit code 1 when a configured
// file is broken; missing optional files are notes, not errors.
import { existsSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { findFlameFiles, loadFlameModel } from '@pixel3dmm/flame';
import { BlazeFaceDetector, FaceMeshLandmarker, FarlModel, MicaModel, PipnetModel, Pixel3dmmNetwork, SelfieSegmenter, defaultModelFiles, ffmpegPath } from '@pixel3dmm/preprocess';
import { CONFIG_ENV_FILE, SETTINGS, setting, settingSource, type SettingName } from '../config.js';

interface Check {
  name: SettingName;
  env: string;
  path: string | null;
  source: string;
  status: 'ok' | 'missing' | 'broken' | 'unset';
  detail: string;
}

async function checkOne(name: SettingName): Promise<Check> {
  const spec = SETTINGS[name];
  const configured = setting(name);
  const source = settingSource(name);
  const d = defaultModelFiles();
  const builtin: Partial<Record<SettingName, string>> = { blazefaceModel: d.blazeface, facemeshModel: d.facemesh, irisModel: d.iris, selfieModel: d.selfie };
  const path = configured ?? builtin[name] ?? null;
  const base = { name, env: spec.env, path, source: configured ? source : builtin[name] ? 'built-in' : 'unset' };
  if (!path) {
    if (name === 'ffmpeg') {
      const ff = ffmpegPath();
      const r = spawnSync(ff, ['-version'], { encoding: 'utf8' });
      return { ...base, path: ff, source: 'built-in', status: r.status === 0 ? 'ok' : 'broken', detail: r.status === 0 ? r.stdout.split('\n')[0] : `does not run: ${r.error?.message ?? r.stderr}` };
    }
    const origin = 'origin' in spec ? ` Get it from: ${spec.origin}.` : '';
    return { ...base, status: 'unset', detail: `${spec.what}.${origin}` };
  }
  if (!existsSync(path)) {
    if (name === 'preprocessed' || name === 'trackingOutput') return { ...base, status: 'ok', detail: 'does not exist yet; created on first use' };
    const origin = 'origin' in spec ? ` Get it from: ${spec.origin}.` : '';
    return { ...base, status: 'missing', detail: `not found.${origin}` };
  }
  try {
    switch (name) {
      case 'preprocessed':
      case 'trackingOutput':
      case 'assets':
        if (!statSync(path).isDirectory()) throw new Error('is not a folder');
        return { ...base, status: 'ok', detail: 'folder' };
      case 'flameModel': {
        const m = loadFlameModel(findFlameFiles(path));
        return { ...base, status: 'ok', detail: `FLAME: ${m.numVertices} vertices, ${m.numFaces} triangles` };
      }
      case 'uvModel':
      case 'normalsModel': {
        const net = await Pixel3dmmNetwork.load(path, name === 'uvModel' ? 'uv' : 'normals');
        const b = net.signature.fixedBatch;
        await net.release();
        return { ...base, status: 'ok', detail: `ONNX ${net.kind} network, batch ${b ?? 'dynamic'}` };
      }
      case 'micaModel': {
        const m = await MicaModel.load(path);
        await m.release();
        return { ...base, status: 'ok', detail: 'ONNX MICA [1,3,112,112] -> [1,300]' };
      }
      case 'pipnetModel': {
        const m = await PipnetModel.load(path);
        await m.release();
        return { ...base, status: 'ok', detail: 'ONNX PIPNet WFLW-98 (8x8 heads + meanface)' };
      }
      case 'farlModel': {
        const m = await FarlModel.load(path);
        await m.release();
        return { ...base, status: 'ok', detail: 'ONNX FaRL parsing [1,3,448,448] -> [1,19,448,448]' };
      }
      case 'blazefaceModel': {
        const det = await BlazeFaceDetector.load(path);
        await det.release();
        return { ...base, status: 'ok', detail: `BlazeFace ONNX ${det.size}x${det.size}` };
      }
      case 'facemeshModel':
      case 'irisModel': {
        const lm = await FaceMeshLandmarker.load(name === 'facemeshModel' ? path : setting('facemeshModel') ?? d.facemesh, name === 'irisModel' ? path : setting('irisModel') ?? d.iris);
        lm.dispose();
        return { ...base, status: 'ok', detail: 'TFJS graph model' };
      }
      case 'selfieModel': {
        const s = await SelfieSegmenter.load(path);
        s.dispose();
        return { ...base, status: 'ok', detail: 'TFJS Selfie segmentation' };
      }
      case 'ffmpeg': {
        const r = spawnSync(path, ['-version'], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`does not run: ${r.error?.message ?? r.stderr}`);
        return { ...base, status: 'ok', detail: r.stdout.split('\n')[0] };
      }
    }
  } catch (e) {
    return { ...base, status: 'broken', detail: (e as Error).message };
  }
  return { ...base, status: 'ok', detail: '' };
}

export async function doctorCommand(opts: { json?: boolean }): Promise<void> {
  const checks: Check[] = [];
  for (const name of Object.keys(SETTINGS) as SettingName[]) checks.push(await checkOne(name));
  if (opts.json) console.log(JSON.stringify({ envFile: CONFIG_ENV_FILE, envFileFound: existsSync(CONFIG_ENV_FILE), checks }, null, 2));
  else {
    console.log(`configuration: flags > PIXEL3DMM_* environment > ${CONFIG_ENV_FILE} (${existsSync(CONFIG_ENV_FILE) ? 'found' : 'not found'}) > defaults`);
    const mark = { ok: 'ok     ', missing: 'MISSING', broken: 'BROKEN ', unset: 'unset  ' };
    for (const c of checks) console.log(`${mark[c.status]} ${c.env.padEnd(28)} ${c.path ?? '-'}${c.path ? ` (${c.source})` : ''}\n        ${c.detail}`);
    if (!checks.find((c) => c.name === 'uvModel' && c.status === 'ok') || !checks.find((c) => c.name === 'normalsModel' && c.status === 'ok')) {
      console.log('note: without both Pixel3DMM networks, tracking runs in landmark-and-silhouette mode (UV and normal weights 0)');
    }
  }
  if (checks.some((c) => c.status === 'broken' || c.status === 'missing')) process.exitCode = 1;
}
