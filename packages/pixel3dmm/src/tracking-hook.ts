// The one place where `run` hands a preprocessed subject to the tracker (@pixel3dmm/tracker's trackVideo, the
// same code path as `pixel3dmm track`). The tracker is imported lazily so that preprocessing-only commands do
// not load it.

export interface TrackRequest {
  /** PREPROCESSED_DATA/VID */
  preprocessedDir: string;
  /** TRACKING_OUTPUT root; the tracker names its folder (spec 1). */
  outputRoot: string;
  /** FLAME model path, or undefined for the built-in synthetic head. */
  flameModel?: string;
  assets?: string;
  /** False when no Pixel3DMM networks ran: landmark-and-silhouette mode (UV and normal weights 0). */
  networks: boolean;
  /** Tracker configuration overrides, key=value (configs/tracking.json). */
  config?: string[];
  /** Track again even when a finished run exists. */
  force?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface TrackResult {
  outputDir: string;
}

export type TrackSubject = (req: TrackRequest) => Promise<TrackResult>;

/** The tracker's entry point (trackVideo of @pixel3dmm/tracker), or why it is unavailable (the package failed to load). */
export async function findTracker(): Promise<{ track: TrackSubject } | { unavailable: string }> {
  let tracker: typeof import('@pixel3dmm/tracker');
  try {
    tracker = await import('@pixel3dmm/tracker');
  } catch (e) {
    return { unavailable: `tracking unavailable: @pixel3dmm/tracker failed to load (${(e as Error).message})` };
  }
  const track: TrackSubject = async (req) => {
    // Without networks the reader finds no p3dmm/ maps and the UV and normal terms are off; the weights are set to
    // zero as well so the output folder's name and the telemetry say so.
    const config = [...(req.networks ? [] : ['uv_map_super=0', 'normal_super=0']), ...(req.config ?? [])];
    const job = tracker.trackVideo(req.preprocessedDir, {
      outDir: req.outputRoot,
      model: req.flameModel,
      assets: req.assets,
      config,
      force: req.force,
    });
    // Progress in frames during the warm-up and stage 1 (one bar for the subject), in iterations in stage 2.
    job.on('progress', (p: { phase: string; step: number; total: number; position?: number; frames: number }) => {
      if (p.phase === 'stage2') req.onProgress?.(p.step, p.total);
      else if (p.phase === 'stage1' || p.phase === 'camera') req.onProgress?.(p.position ?? 0, p.frames);
    });
    const result = await job;
    if (!result.outputDir) throw new Error(`${req.preprocessedDir}: the tracker wrote no output folder`);
    return { outputDir: result.outputDir };
  };
  return { track };
}
