// The one place where `run` hands a preprocessed subject to the tracker. The tracker (@pixel3dmm/tracker,
// `pixel3dmm track`) is written on main at the same time; this build only looks for its entry point and
// says clearly when there is none. Wire it at merge by exporting `trackSubject` with this signature from
// @pixel3dmm/tracker (or by editing this file only).

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
  onProgress?: (done: number, total: number) => void;
}

export interface TrackResult {
  outputDir: string;
}

export type TrackSubject = (req: TrackRequest) => Promise<TrackResult>;

export const TRACKING_UNAVAILABLE = 'tracking not available in this build yet (the tracker package exports no trackSubject); preprocessing and inference outputs are complete';

/** The tracker's entry point, or why there is none (not exported yet, or the package failed to load). */
export async function findTracker(): Promise<{ track: TrackSubject } | { unavailable: string }> {
  try {
    const mod = (await import('@pixel3dmm/tracker')) as Record<string, unknown>;
    return typeof mod.trackSubject === 'function' ? { track: mod.trackSubject as TrackSubject } : { unavailable: TRACKING_UNAVAILABLE };
  } catch (e) {
    return { unavailable: `tracking unavailable: @pixel3dmm/tracker failed to load (${(e as Error).message})` };
  }
}
