// `pixel3dmm track NAME|DIR [key=value ...]`: tracks a preprocessed subject (PREPROCESSED_DATA/VID) and writes
// TRACKING_OUTPUT/{VID}_nV1.../ (spec 8). DIR is a preprocessed folder; a NAME is looked up under
// PIXEL3DMM_PREPROCESSED_DATA. The output root is --out, else PIXEL3DMM_TRACKING_OUTPUT. One frame is a
// single-image fit; is_discontinuous=true tracks unrelated images of one person.
//
// Exit status: 0 done (or already done); 1 error (nothing written); 2 done, but the fit diverged somewhere and
// was rolled back (see the warnings and telemetry.jsonl); 130 cancelled with Ctrl-C (nothing written).
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { trackVideo, type ProgressEvent, type TrackingResult } from '@pixel3dmm/tracker';
import { flameModelSetting, loadConfigEnv } from '../config.js';

export interface TrackOptions {
  out?: string;
  model?: string;
  assets?: string;
  force?: boolean;
  video?: boolean;
  json?: boolean;
}

/** A one-line progress bar on stderr, redrawn at most 10 times a second; silent when stderr is not a TTY. */
export class ProgressBar {
  private last = 0;
  private shown = false;
  private readonly t0 = performance.now();

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  get enabled(): boolean {
    return !!this.stream.isTTY;
  }

  update(p: ProgressEvent): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.last < 100 && p.step !== p.total) return;
    this.last = now;
    const width = 24;
    const fraction = p.total > 0 ? p.step / p.total : 1;
    const filled = Math.round(width * fraction);
    const where = p.phase === 'stage2' ? `joint ${p.frames} frames` : `frame ${(p.position ?? 0) + 1}/${p.frames}`;
    const label = { camera: 'camera warm-up', stage1: 'stage 1', stage2: 'stage 2', outputs: 'writing' }[p.phase];
    const line = `${label.padEnd(14)} ${where.padEnd(18)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.step}/${p.total}  ${((now - this.t0) / 1000).toFixed(0)} s`;
    this.stream.write(`\r${line.slice(0, (this.stream.columns ?? 100) - 1)}\x1b[K`);
    this.shown = true;
  }

  /** Clears the bar (before printing other lines). */
  clear(): void {
    if (this.shown) this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}

/** A preprocessed folder: DIR as given, or NAME under PIXEL3DMM_PREPROCESSED_DATA. */
export function resolveInput(input: string): string {
  if (existsSync(input)) {
    if (!statSync(input).isDirectory()) throw new Error(`${input}: expected a preprocessed-data folder (PREPROCESSED_DATA/VID), got a file`);
    return resolve(input);
  }
  loadConfigEnv();
  const root = process.env.PIXEL3DMM_PREPROCESSED_DATA;
  if (!root || input.includes('/') || input.includes('\\')) {
    throw new Error(`${input}: no such folder${root ? '' : ' (a bare NAME is looked up under PIXEL3DMM_PREPROCESSED_DATA, which is not set)'}`);
  }
  const dir = join(root, input);
  if (!existsSync(dir)) throw new Error(`${input}: no such folder ${dir} (PIXEL3DMM_PREPROCESSED_DATA/${input})`);
  return resolve(dir);
}

export function outputRoot(flag: string | undefined): string {
  loadConfigEnv();
  const out = flag ?? process.env.PIXEL3DMM_TRACKING_OUTPUT;
  if (!out) throw new Error('no output folder: pass --out DIR or set PIXEL3DMM_TRACKING_OUTPUT');
  return resolve(out);
}

/** Runs a job with a progress bar, warnings on stderr and Ctrl-C cancelling it cleanly. */
export async function runWithProgress(start: (signal: AbortSignal) => ReturnType<typeof trackVideo>): Promise<TrackingResult> {
  const bar = new ProgressBar();
  const controller = new AbortController();
  const onSigint = () => controller.abort(new Error('interrupted (Ctrl-C)'));
  process.once('SIGINT', onSigint);
  try {
    const job = start(controller.signal);
    job.on('progress', (p: ProgressEvent) => bar.update(p));
    job.on('warning', (w: { message: string }) => {
      bar.clear();
      process.stderr.write(`warning: ${w.message}\n`);
    });
    return await job;
  } catch (e) {
    bar.clear();
    if ((e as Error).name === 'AbortError') {
      process.stderr.write('cancelled: nothing was written\n');
      process.exit(130);
    }
    throw e;
  } finally {
    bar.clear();
    process.off('SIGINT', onSigint);
  }
}

export function divergedFrames(r: TrackingResult): string[] {
  const out = r.frames.filter((f) => f.telemetry?.diverged || f.telemetry?.camera?.diverged).map((f) => `frame ${f.index}`);
  if (r.stage2?.diverged) out.push('stage 2');
  return out;
}

export function summarise(r: TrackingResult) {
  const iters = r.frames.map((f) => f.telemetry?.iterations ?? 0);
  return {
    name: r.name,
    mode: r.mode,
    frames: r.frames.length,
    outputDir: r.outputDir,
    reused: r.reused,
    seconds: r.seconds,
    stage1: {
      meanIterations: iters.reduce((a, b) => a + b, 0) / Math.max(1, iters.length),
      earlyStopped: r.frames.filter((f) => f.telemetry?.earlyStopped).length,
    },
    stage2: r.stage2 ? { iterations: r.stage2.iterations, plannedIterations: r.stage2.plannedIterations, batchSize: r.stage2.batchSize, seconds: r.stage2.seconds, total: r.stage2.total } : null,
    focal_length: r.frames[0]?.focal_length,
    principal_point: r.frames[0]?.principal_point,
    warnings: r.warnings,
    diverged: divergedFrames(r),
  };
}

export async function trackCommand(input: string, overrides: string[], opts: TrackOptions): Promise<void> {
  const dir = resolveInput(input);
  const outRoot = outputRoot(opts.out);
  const model = flameModelSetting(opts.model);
  const result = await runWithProgress((signal) =>
    trackVideo(dir, { config: overrides, outDir: outRoot, model, assets: opts.assets, force: !!opts.force, video: opts.video !== false, signal }),
  );
  const s = summarise(result);
  if (opts.json) console.log(JSON.stringify(s, null, 2));
  else if (result.reused) console.log(`${s.outputDir}: already tracked with this configuration (${s.frames} frames); use --force to track again`);
  else {
    console.log(`${s.name}: ${s.frames} frame(s) tracked (${s.mode}) in ${s.seconds.toFixed(1)} s -> ${s.outputDir}`);
    console.log(`stage 1: ${s.stage1.meanIterations.toFixed(1)} steps per frame on average, ${s.stage1.earlyStopped} frame(s) stopped early`);
    if (s.stage2) console.log(`stage 2: ${s.stage2.iterations}/${s.stage2.plannedIterations} iterations at batch ${s.stage2.batchSize} (${s.stage2.seconds.toFixed(1)} s)`);
    console.log(`camera: focal ${s.focal_length?.toFixed(4)} x size, principal point [${s.principal_point?.map((x) => x.toFixed(5)).join(', ')}]`);
  }
  if (s.diverged.length) {
    process.stderr.write(`the fit diverged in ${s.diverged.join(', ')} and was rolled back to its last finite state; see telemetry.jsonl\n`);
    process.exitCode = 2;
  }
}
