// `infer`: the Pixel3DMM networks over a preprocessed subject's crops -> p3dmm/uv_map/*.png and
// p3dmm/normals/*.png (spec 1, 3.4), optionally the [input | prediction] previews of p3dmm_wGT/. Each file
// is written atomically; p3dmm/infer.json is written last and lets a rerun skip finished work.
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { PreprocessedLayout, writeFileAtomic, CROP_SIZE } from '@pixel3dmm/formats';
import sharp from 'sharp';
import { PreprocessError } from '../errors.js';
import { decodeImage, encodePng } from '../inputs/image-file.js';
import type { RgbImage } from '../image.js';
import type { NetworkKind } from './contract.js';
import { Pixel3dmmNetwork } from './network.js';
import { encodePrediction } from './tta.js';

export interface InferOptions {
  /** Images per session run (each runs with its mirror). */
  batch?: number;
  /** Also write p3dmm_wGT/{type}/*.jpg previews. */
  preview?: boolean;
  force?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface InferSummary {
  name: string;
  frames: number;
  networks: Partial<Record<NetworkKind, string>>;
  msPerFrame: number;
  skipped?: boolean;
}

/** Frames of a preprocessed subject: the contiguous cropped/00000.jpg, 00001.jpg, ... */
export function croppedFrameCount(layout: PreprocessedLayout): number {
  if (!existsSync(layout.dir('cropped'))) throw new PreprocessError(layout.root, 'no cropped/ folder: run `pixel3dmm preprocess` first');
  const names = new Set(readdirSync(layout.dir('cropped')));
  let n = 0;
  while (names.has(`${String(n).padStart(5, '0')}.jpg`) || names.has(`${String(n).padStart(5, '0')}.png`)) n++;
  if (n === 0) throw new PreprocessError(layout.dir('cropped'), 'no frames (expected 00000.jpg, 00001.jpg, ...)');
  return n;
}

function outputPath(layout: PreprocessedLayout, kind: NetworkKind, i: number): string {
  return kind === 'uv' ? layout.uvMap(i) : layout.normals(i);
}

export function finishedInfer(layout: PreprocessedLayout, kinds: NetworkKind[]): InferSummary | null {
  const f = layout.file('inferDone');
  if (!existsSync(f)) return null;
  try {
    const s = JSON.parse(readFileSync(f, 'utf8')) as InferSummary;
    for (const k of kinds) {
      if (!s.networks[k]) return null;
      for (let i = 0; i < s.frames; i++) if (!existsSync(outputPath(layout, k, i))) return null;
    }
    return s;
  } catch {
    return null;
  }
}

export async function infer(layout: PreprocessedLayout, nets: Pixel3dmmNetwork[], opts: InferOptions = {}): Promise<InferSummary> {
  const kinds = nets.map((n) => n.kind);
  if (new Set(kinds).size !== kinds.length) throw new PreprocessError(nets[0].file, `two networks of kind '${kinds[0]}'`);
  const n = croppedFrameCount(layout);
  if (!opts.force) {
    const done = finishedInfer(layout, kinds);
    // Skip only maps made by the same network files.
    if (done && done.frames === n && nets.every((net) => done.networks[net.kind] === net.file)) return { ...done, skipped: true };
  }
  for (const net of nets) {
    mkdirSync(layout.dir(net.kind === 'uv' ? 'uvMap' : 'normals'), { recursive: true });
    if (opts.preview) mkdirSync(`${layout.dir('networkPreview')}/${net.kind === 'uv' ? 'uv_map' : 'normals'}`, { recursive: true });
  }
  const t0 = performance.now();
  let done = 0;
  const per = Math.min(...nets.map((net) => net.imagesPerRun(opts.batch ?? 1)));
  for (let start = 0; start < n; start += per) {
    const idx = Array.from({ length: Math.min(per, n - start) }, (_, k) => start + k);
    const files = idx.map((i) => (existsSync(layout.cropped(i)) ? layout.cropped(i) : layout.cropped(i, 'png')));
    const images: RgbImage[] = await Promise.all(files.map((f) => decodeImage(f)));
    for (const net of nets) {
      const preds = await net.predict(images, files);
      await Promise.all(
        preds.map(async (p, k) => {
          const rgb = encodePrediction(net.kind, p, CROP_SIZE, CROP_SIZE);
          await writeFileAtomic(outputPath(layout, net.kind, idx[k]), await encodePng(rgb, CROP_SIZE, CROP_SIZE, 3));
          if (opts.preview) {
            const side = await sharp({ create: { width: 2 * CROP_SIZE, height: CROP_SIZE, channels: 3, background: 'black' } })
              .composite([
                { input: Buffer.from(images[k].data), raw: { width: CROP_SIZE, height: CROP_SIZE, channels: 3 }, left: 0, top: 0 },
                { input: Buffer.from(rgb), raw: { width: CROP_SIZE, height: CROP_SIZE, channels: 3 }, left: CROP_SIZE, top: 0 },
              ])
              .jpeg({ quality: 90 })
              .toBuffer();
            await writeFileAtomic(layout.networkPreview(net.kind === 'uv' ? 'uv_map' : 'normals', idx[k]), side);
          }
        }),
      );
    }
    done += idx.length;
    opts.onProgress?.(done, n);
  }
  for (const net of nets) {
    for (let i = 0; i < n; i++) if (!existsSync(outputPath(layout, net.kind, i))) throw new PreprocessError(outputPath(layout, net.kind, i), 'was not written');
  }
  const summary: InferSummary = {
    name: layout.name,
    frames: n,
    networks: Object.fromEntries(nets.map((net) => [net.kind, net.file])),
    msPerFrame: (performance.now() - t0) / n,
  };
  await writeFileAtomic(layout.file('inferDone'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}
