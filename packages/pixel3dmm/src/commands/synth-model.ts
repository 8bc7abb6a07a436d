import { join } from 'node:path';
import { builtInFlameFiles, findFlameFiles, loadFlameModel, writeFlameFiles } from '@pixel3dmm/flame';
import { renderPosePreviews } from '../preview.js';

export async function synthModelCommand(opts: { out: string; seed: number; preview?: boolean }): Promise<void> {
  const raw = builtInFlameFiles(opts.seed);
  const written = writeFlameFiles(opts.out, raw);
  // Read back through the loader that licensed files go through: what we wrote must load.
  const model = loadFlameModel(findFlameFiles(written.model));
  console.log(`${opts.out}: synthetic head (seed ${opts.seed}) in FLAME format: ${model.numVertices} vertices, ` +
    `${model.numFaces} triangles, ${model.numShape} shape + ${model.numExpression} expression components`);
  for (const p of Object.values(written)) console.log(`  ${p}`);
  if (opts.preview) {
    const pngs = await renderPosePreviews(model, join(opts.out, 'preview'));
    for (const p of pngs) console.log(`  ${p}`);
  }
}
