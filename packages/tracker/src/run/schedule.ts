// Which variables each phase optimises, at which learning rates (spec 7), and stage 2's learning-rate steps.
// The rates come from the configuration (configs/tracking.json); the structure is the original's.
import type { TrackerConfig } from '../config.js';
import type { FrameGroup } from '../types.js';

export type SharedGroupName = 'shape' | 'focal' | 'pp';

export interface FrameGroupRate {
  group: FrameGroup;
  lr: number;
}

export interface SharedGroupRate {
  group: SharedGroupName;
  lr: number;
}

export interface PhaseGroups {
  frame: FrameGroupRate[];
  shared: SharedGroupRate[];
}

/** Camera warm-up (7.0): t and R; on the first frame also focal and pp. Expression, jaw, neck, eyes held. */
export function cameraGroups(c: TrackerConfig, firstFrame: boolean): PhaseGroups {
  return {
    frame: [
      { group: 'translation', lr: c.lr_cam_t },
      { group: 'rotation', lr: c.lr_cam_R },
    ],
    shared: firstFrame
      ? [
          { group: 'focal', lr: c.lr_cam_f },
          { group: 'pp', lr: c.lr_cam_pp },
        ]
      : [],
  };
}

/** StepLR of the camera warm-up: int(0.75 steps), gamma 0.1 (at least 1, which torch needs). */
export function cameraStepSize(steps: number): number {
  return Math.max(1, Math.floor(0.75 * steps));
}

/**
 * The camera warm-up's loss for step k of `steps`: landmarks while k <= steps/2 (integer division), the L1
 * UV correspondence loss after.
 */
export function cameraPhase(k: number, steps: number): 'camera-landmarks' | 'camera-uv' {
  return k <= Math.floor(steps / 2) ? 'camera-landmarks' : 'camera-uv';
}

/**
 * Stage 1 (7.1), in the original's group order: exp, eyes, eyelids, t, R, [shape only for a single image],
 * jaw, [neck if include_neck]. With global_camera (the only mode supported) focal and pp are not in stage 1.
 */
export function stage1Groups(c: TrackerConfig, singleImage: boolean): PhaseGroups {
  const frame: FrameGroupRate[] = [
    { group: 'expression', lr: c.lr_exp },
    { group: 'eyes', lr: c.lr_eyes },
    { group: 'eyelids', lr: c.lr_eyelids },
    { group: 'translation', lr: c.lr_t },
    { group: 'rotation', lr: c.lr_R },
    { group: 'jaw', lr: c.lr_jaw },
  ];
  if (c.include_neck) frame.push({ group: 'neck', lr: c.lr_neck });
  return { frame, shared: singleImage ? [{ group: 'shape', lr: c.lr_id }] : [] };
}

/** Stage 2 (7.2): per-frame tables under SparseAdam, shape/focal/pp under Adam. */
export function stage2Groups(c: TrackerConfig): PhaseGroups {
  return {
    frame: stage1Groups(c, false).frame,
    shared: [
      { group: 'shape', lr: c.lr_id },
      { group: 'focal', lr: c.lr_f_global },
      { group: 'pp', lr: c.lr_pp_global },
    ],
  };
}

/** A learning-rate step of stage 2: at iteration `at`, each per-frame group's lr is divided by its divisor. */
export interface LearningRateStep {
  at: number;
  divisor: (group: FrameGroup) => number;
}

/** The groups the original meant to decay faster (its test `name in ['t','R','jaw']` never matched, spec 9.4). */
const FAST_DECAY: ReadonlySet<FrameGroup> = new Set<FrameGroup>(['translation', 'rotation', 'jaw']);

/**
 * Stage 2's learning-rate steps as the original INTENDED them (a deliberate fix of spec 9.4): at
 * floor(0.5 I) t, R and jaw are divided by 10 and the other per-frame groups by 2; at floor(0.75 I) by 5 and
 * 2; at floor(0.9 I) by 2 and 5. Totals: x0.01 for t, R, jaw and x0.05 for the others. The global Adam (shape,
 * focal, pp) is not decayed, as in the original. (The original also names its neck group 'jaw' in stage 2; the
 * intent is read as "neck decays like the other non-rigid groups".)
 */
export function stage2LearningRateSteps(iterations: number): LearningRateStep[] {
  const step = (fraction: number, fast: number, slow: number): LearningRateStep => ({
    at: Math.floor(iterations * fraction),
    divisor: (g) => (FAST_DECAY.has(g) ? fast : slow),
  });
  return [step(0.5, 10, 2), step(0.75, 5, 2), step(0.9, 2, 5)];
}
