// `pixel3dmm run INPUT...`: preprocess, infer and track many inputs (or a folder of videos) in one
// process, loading every model once. A failing input is reported and the others still run; the exit code
// says whether all succeeded.
import { resolve } from 'node:path';
import { expandInputs } from '@pixel3dmm/preprocess';
import { setting } from '../config.js';
import { findTracker } from '../tracking-hook.js';
import { Progress } from '../progress.js';
import { dataRoot, loadNetworks, loadPreprocessModels, NO_NETWORKS_NOTE, reportError, runInfer, runPreprocess, type StageFlags } from './stages.js';

export interface RunFlags extends StageFlags {
  trackingOutput?: string;
  flame?: string;
  track?: boolean;
  /** Tracker configuration overrides, key=value. */
  tracker?: string[];
}

export async function runCommand(inputs: string[], flags: RunFlags): Promise<void> {
  let models;
  let nets;
  const results: { input: string; ok: boolean; name?: string; frames?: number; infer?: boolean; tracking: string; error?: string }[] = [];
  try {
    const all = expandInputs(inputs);
    models = await loadPreprocessModels(flags);
    nets = await loadNetworks(flags);
    if (nets.length === 0) process.stderr.write(`note: ${NO_NETWORKS_NOTE}\n`);
    const tracker = flags.track === false ? null : await findTracker();
    for (const input of all) {
      try {
        const pre = await runPreprocess(input, models, flags);
        const inf = nets.length ? await runInfer(resolve(dataRoot(flags), pre.name), nets, flags) : null;
        let tracking: string;
        if (flags.track === false) tracking = 'skipped (--no-track)';
        else if (!tracker || 'unavailable' in tracker) {
          tracking = tracker ? tracker.unavailable : 'skipped';
          process.stderr.write(`${pre.name}: ${tracking}\n`);
        } else {
          const bar = new Progress(`${pre.name}: tracking${nets.length ? '' : ' (landmark-and-silhouette mode)'}`, flags.quiet);
          const r = await tracker.track({
            preprocessedDir: resolve(dataRoot(flags), pre.name),
            outputRoot: resolve(setting('trackingOutput', flags.trackingOutput)!),
            flameModel: setting('flameModel', flags.flame),
            assets: setting('assets'),
            networks: nets.length > 0,
            config: flags.tracker,
            force: flags.force,
            onProgress: (d, t) => bar.update(d, t),
          });
          bar.done(`-> ${r.outputDir}`);
          tracking = r.outputDir;
        }
        results.push({ input, ok: true, name: pre.name, frames: pre.frames, infer: inf !== null, tracking });
      } catch (e) {
        const before = process.exitCode;
        reportError(e);
        process.exitCode = before === undefined || before === 0 ? 1 : before;
        results.push({ input, ok: false, tracking: 'not run', error: (e as Error).message });
      }
    }
    if (flags.json) console.log(JSON.stringify(results, null, 2));
    else {
      const ok = results.filter((r) => r.ok).length;
      process.stderr.write(`run: ${ok} of ${results.length} input${results.length === 1 ? '' : 's'} done${ok < results.length ? `; failed: ${results.filter((r) => !r.ok).map((r) => r.input).join(', ')}` : ''}\n`);
    }
    if (results.some((r) => !r.ok)) process.exitCode = 1;
  } catch (e) {
    reportError(e);
  } finally {
    await models?.release();
    for (const n of nets ?? []) await n.release();
  }
}
