// Landmarks over a sequence, MediaPipe style: detect once, then let each frame's mesh give the next
// frame's ROI. The detector runs again only when the mesh's face score drops below `minFaceScore`, so a
// video costs one detector call plus one mesh+iris call per frame while the face stays in view.
import { PreprocessError } from '../errors.js';
import type { RgbImage } from '../image.js';
import type { BlazeFaceDetector, FaceDetection } from '../detect/blazeface.js';
import { roiFromDetection, roiFromMesh, type FaceMeshLandmarker, type MeshResult } from './facemesh.js';

export interface TrackedFace extends MeshResult {
  /** Whether this frame needed the detector (first frame, or the track was lost). */
  detected: boolean;
  detection?: FaceDetection;
}

export interface FaceTrackerOptions {
  minDetectionScore?: number;
  minFaceScore?: number;
  /** Follow the mesh from frame to frame (video); off = detect on every frame (unrelated photos). */
  track?: boolean;
}

export class FaceTracker {
  private prev: MeshResult | null = null;
  detectorCalls = 0;
  /** Milliseconds spent in the detector and in mesh+iris, for `bench preprocess`. */
  detectMs = 0;
  landmarkMs = 0;
  constructor(
    private readonly detector: BlazeFaceDetector,
    private readonly mesh: FaceMeshLandmarker,
    private readonly opts: FaceTrackerOptions = {},
  ) {}

  reset(): void {
    this.prev = null;
  }

  /**
   * Landmarks of the main face of `img`. Throws a PreprocessError naming `file` and `frame` when no face
   * is found.
   */
  async next(img: RgbImage, file: string, frame: number): Promise<TrackedFace> {
    const minFace = this.opts.minFaceScore ?? 0.5;
    if (this.prev && this.opts.track !== false) {
      const t = performance.now();
      const r = await this.mesh.run(img, roiFromMesh(this.prev.points));
      this.landmarkMs += performance.now() - t;
      if (r.faceScore >= minFace) {
        this.prev = r;
        return { ...r, detected: false };
      }
    }
    this.detectorCalls++;
    const t0 = performance.now();
    const dets = await this.detector.detect(img, this.opts.minDetectionScore ?? 0.5);
    const t1 = performance.now();
    this.detectMs += t1 - t0;
    if (dets.length === 0) {
      this.prev = null;
      throw new PreprocessError(file, this.opts.track !== false && frame > 0 ? 'the face was lost: no face found in this frame' : 'no face found', { frame });
    }
    // The main face: the largest box (the subject in front of the camera), ties broken by score.
    const det = dets.reduce((a, b) => (b.w * b.h > a.w * a.h * 1.1 || (b.w * b.h > a.w * a.h * 0.9 && b.score > a.score) ? b : a));
    let r = await this.mesh.run(img, roiFromDetection(det));
    // A second pass from the mesh's own ROI fixes the detector box's offset (MediaPipe does the same on
    // the next frame; for a still image we have no next frame).
    const r2 = await this.mesh.run(img, roiFromMesh(r.points));
    if (r2.faceScore >= r.faceScore * 0.9) r = r2;
    this.landmarkMs += performance.now() - t1;
    if (r.faceScore < minFace) {
      this.prev = null;
      throw new PreprocessError(file, `a face was detected (score ${det.score.toFixed(2)}) but the landmark model does not confirm it (face score ${r.faceScore.toFixed(2)} < ${minFace})`, { frame });
    }
    this.prev = r;
    return { ...r, detected: true, detection: det };
  }
}
