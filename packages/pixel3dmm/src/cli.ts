// The `pixel3dmm` command line.
import { Command, InvalidArgumentError, Option } from 'commander';
import { benchFlameCommand } from './commands/bench-flame.js';
import { benchTrackCommand } from './commands/bench-track.js';
import { benchRasterCommand } from './commands/bench-raster.js';
import { demoCommand } from './commands/demo.js';
import { flameCommand } from './commands/flame.js';
import { infoCommand } from './commands/info.js';
import { MAX_RENDER_SIZE, renderCommand } from './commands/render.js';
import { CHANNELS } from './commands/render-channels.js';
import { synthModelCommand } from './commands/synth-model.js';
import { synthCommand } from './commands/synth.js';
import { trackCommand } from './commands/track.js';
import { VERSION } from './version.js';

export function parseInteger(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}]`);
    return n;
  };
}

// The preprocessing commands load onnxruntime, tfjs and sharp; import them only when one of them runs,
// so `info`, `flame` and friends start fast.
const lazy =
  <M,>(load: () => Promise<M>, pick: (m: M) => (...args: any[]) => Promise<void>) =>
  async (...args: any[]): Promise<void> =>
    pick(await load())(...args);
const benchPreprocessCommand = lazy(() => import('./commands/bench-preprocess.js'), (m) => m.benchPreprocessCommand);
const doctorCommand = lazy(() => import('./commands/doctor.js'), (m) => m.doctorCommand);
const inferCommand = lazy(() => import('./commands/infer.js'), (m) => m.inferCommand);
const preprocessCommand = lazy(() => import('./commands/preprocess.js'), (m) => m.preprocessCommand);
const runCommand = lazy(() => import('./commands/run.js'), (m) => m.runCommand);
const tinyNetworksCommand = lazy(() => import('./commands/tiny-networks.js'), (m) => m.tinyNetworksCommand);

export function buildProgram(): Command {
  const program = new Command('pixel3dmm')
    .description('Pixel3DMM face reconstruction and tracking in TypeScript')
    .version(VERSION)
    .showHelpAfterError();

  program.command('info').description('versions, CUDA support of the native addon, devices found').option('--json', 'print JSON').action(infoCommand);

  program
    .command('synth-model')
    .description('write the built-in synthetic head as FLAME-format files (model pickle plus companion files)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--seed <n>', 'generator seed', parseInteger('--seed', 0, 2 ** 31 - 1), 0)
    .option('--preview', 'also render preview PNGs of a few poses')
    .action(synthModelCommand);

  program
    .command('synth')
    .description('render a synthetic subject with known FLAME parameters into the preprocessed-data layout ' +
      '(crops, landmarks, segmentation, UV and normal maps as the networks write them) plus ground_truth.json')
    .requiredOption('--frames <n>', 'number of frames', parseInteger('--frames', 1, 99999))
    .requiredOption('--out <dir>', 'output folder (PREPROCESSED_DATA/VID); must be empty or new unless --force')
    .option('--model <path>', 'FLAME .pkl or a directory of FLAME files (default: PIXEL3DMM_FLAME_MODEL, else the built-in synthetic head)')
    .option('--seed <n>', 'seed of the identity, motion and noise', parseInteger('--seed', 0, 2 ** 32 - 1), 0)
    .option('--noise <level>', 'none (exact), realistic or heavy network/detector errors', 'none')
    .option('--force', 'replace a previous synthetic subject in --out')
    .action(synthCommand);

  program
    .command('flame')
    .description('evaluate a FLAME model for one parameter file and write the mesh')
    .option('--model <path>', 'FLAME .pkl or a directory of FLAME files (default: PIXEL3DMM_FLAME_MODEL, else the built-in synthetic head)')
    .requiredOption('--params <file>', 'parameter JSON ({"shape":[..],"expression":[..],"neck":[6],...})')
    .requiredOption('--out <file>', 'mesh.ply, mesh.obj or verts.npy')
    .option('--world', 'apply the global head pose (rotation, translation)')
    .action(flameCommand);

  program
    .command('render')
    .description('render a mesh (or a posed FLAME model) with the tracking camera: camera at (0,0,1) looking down -z, ' +
      'focal 2000/512 of the size, principal point at the centre, near 0.1, far 5; .png to look at, .npy for numbers')
    .option('--mesh <file>', 'world-space mesh, .obj or .ply')
    .option('--model <path>', 'without --mesh: FLAME .pkl or directory (default: PIXEL3DMM_FLAME_MODEL, else the built-in synthetic head)')
    .option('--params <file>', 'without --mesh: FLAME parameter JSON (default: the neutral head at the origin)')
    .requiredOption('--size <n>', 'image size S (S x S pixels)', parseInteger('--size', 1, MAX_RENDER_SIZE))
    .requiredOption('--out <file>', 'output .png or .npy (triangle-id: int32 [S,S] = triangle index + 1, 0 = background; ' +
      'others: float32 [S,S,C]); rows top-down as in an image')
    .addOption(new Option('--channel <name>', 'triangle-id, uv (the mesh\'s texture coordinates), normal (area-weighted vertex ' +
      'normals, PNG (n+1)/2), depth (camera-space, metres), mask (coverage, antialiased)').choices(CHANNELS).default('triangle-id'))
    .option('--no-antialias', 'mask: plain 0/1 coverage instead of the antialiased mask')
    .action(renderCommand);

  const bench = program.command('bench').description('benchmarks: kernels (flame, raster), tracker (track), preprocessing (preprocess)');
  bench
    .command('flame')
    .description('FLAME forward and forward+VJP timings (median) and effective memory bandwidth')
    .option('--device <device>', 'cpu or cuda', 'cpu')
    .option('--model <path>', 'FLAME model (default: the built-in synthetic head)')
    .option('--json', 'print JSON')
    .action(benchFlameCommand);
  bench
    .command('track')
    .description('tracker timings at 256x256: camera warm-up step, stage-1 iteration, stage-2 iteration at batch 16, and stage-1 ' +
      'frames per second with early stopping on a synthetic video')
    .option('--frames <n>', 'frames of the synthetic video (at least 16)', parseInteger('--frames', 16, 1000), 16)
    .option('--json', 'print JSON')
    .action(benchTrackCommand);
  bench
    .command('raster')
    .description('rasterizer chain timings (median): rasterize, interpolate 17 channels, texture, antialias, forward and backward')
    .option('--mesh <file>', 'mesh (.obj or .ply; default: the built-in synthetic head)')
    .option('--size <px>', 'image side: 256 or 512', parseInteger('--size', 16, 4096), 256)
    .option('--batch <n>', 'frames per call: 1 or 16', parseInteger('--batch', 1, 256), 1)
    .option('--device <device>', 'cpu or cuda', 'cpu')
    .option('--runs <n>', 'minimum timed runs per figure', parseInteger('--runs', 1, 100000), 30)
    .option('--min-ms <ms>', 'minimum milliseconds per figure', parseInteger('--min-ms', 0, 600000), 500)
    .option('--json', 'print JSON')
    .action(benchRasterCommand);

  bench
    .command('preprocess [input]')
    .description('ms per frame for detection, landmarks and segmentation (default input: ../shared/data/videos/ex1.mp4 or PIXEL3DMM_BENCH_VIDEO)')
    .option('--frames <n>', 'use the first n frames', parseInteger('--frames', 1, 1e7))
    .option('--json', 'print JSON')
    .action(benchPreprocessCommand);

  const dataFlag = ['--data <dir>', 'preprocessed data root (default: PIXEL3DMM_PREPROCESSED_DATA, else ./preprocessed)'] as const;
  const netFlags = (c: Command) =>
    c
      .option('--uv <file>', 'Pixel3DMM UV network, ONNX (default: PIXEL3DMM_UV_MODEL)')
      .option('--normals <file>', 'Pixel3DMM normal network, ONNX (default: PIXEL3DMM_NORMALS_MODEL)')
      .option('--batch <n>', 'images per network run (each with its mirror)', parseInteger('--batch', 1, 64), 1)
      .option('--preview', 'also write p3dmm_wGT/ side-by-side previews');
  const preFlags = (c: Command) =>
    c
      .option('--mica <file>', 'MICA identity network, ONNX (default: PIXEL3DMM_MICA_MODEL; unset = zero shape prior)')
      .option('--crop-mode <mode>', "'square' (default: stays square at the borders) or 'original' (the original's border arithmetic)")
      .option('--annotate', 'also write PIPnet_annotated_images/ (landmarks drawn on the crops)')
      .option('--max-frames <n>', 'only the first n frames', parseInteger('--max-frames', 1, 1e7));

  preFlags(
    program
      .command('preprocess <input>')
      .description('a photo, a folder of images or a video -> PREPROCESSED_DATA/NAME: crops, landmarks, segmentation (and MICA)')
      .option(...dataFlag),
  )
    .option('--force', 'redo a finished subject')
    .option('--json', 'print the summary as JSON')
    .action(preprocessCommand);

  netFlags(
    program
      .command('infer <name>')
      .description('the Pixel3DMM networks (ONNX) over PREPROCESSED_DATA/NAME/cropped -> p3dmm/uv_map, p3dmm/normals')
      .option(...dataFlag),
  )
    .option('--force', 'redo finished maps')
    .option('--json', 'print the summary as JSON')
    .action(inferCommand);

  netFlags(
    preFlags(
      program
        .command('run <inputs...>')
        .description('preprocess + infer + track many inputs (or folders of videos) in one process, every model loaded once')
        .option(...dataFlag),
    ),
  )
    .option('--tracking-output <dir>', 'tracking output root (default: PIXEL3DMM_TRACKING_OUTPUT, else ./tracking)')
    .option('--flame <path>', 'FLAME model (default: PIXEL3DMM_FLAME_MODEL, else the built-in synthetic head)')
    .option('--no-track', 'stop after preprocessing and inference')
    .option('--tracker <key=value...>', 'tracker configuration overrides (configs/tracking.json), e.g. --tracker global_iters=200 iters=100; put it after the inputs')
    .option('--force', 'redo finished stages')
    .option('--json', 'print per-input results as JSON')
    .action(runCommand);

  program.command('doctor').description('check every configured path and model file; say where missing licensed files come from').option('--json', 'print JSON').action(doctorCommand);

  program
    .command('tiny-networks')
    .description('write stand-in ONNX networks with the Pixel3DMM contract (meaningless output; for smoke tests of infer/run)')
    .requiredOption('--out <dir>', 'output folder')
    .action(tinyNetworksCommand);

  program
    .command('demo')
    .description('synthesise a short video of the built-in synthetic head, track it (reduced joint iterations) and report ' +
      'the posed-vertex error against the ground truth')
    .argument('[overrides...]', 'tracker configuration overrides, key=value (configs/tracking.json)')
    .option('--out <dir>', 'output directory', 'pixel3dmm-demo')
    .option('--frames <n>', 'frames to synthesise', parseInteger('--frames', 2, 1000), 8)
    .option('--noise <level>', 'none (exact network outputs), realistic or heavy', 'realistic')
    .option('--seed <n>', 'seed of the synthetic identity, motion and noise', parseInteger('--seed', 0, 2 ** 32 - 1), 0)
    .option('--json', 'print JSON')
    .action(demoCommand);

  program
    .command('track')
    .description('track a preprocessed subject (PREPROCESSED_DATA/VID) and write TRACKING_OUTPUT/{VID}_nV1.../: parameters, ' +
      'meshes, cameras, telemetry and result.mp4; one frame is a single-image fit')
    .argument('<input>', 'a preprocessed folder, or a NAME under PIXEL3DMM_PREPROCESSED_DATA')
    .argument('[overrides...]', 'tracker configuration overrides, key=value (configs/tracking.json), e.g. iters=800')
    .option('--out <dir>', 'TRACKING_OUTPUT (default: PIXEL3DMM_TRACKING_OUTPUT)')
    .option('--model <path>', 'FLAME .pkl or a directory of FLAME files (default: PIXEL3DMM_FLAME_MODEL, else the built-in synthetic head)')
    .option('--assets <dir>', "Pixel3DMM's tracking assets folder (needed with a real FLAME model)")
    .option('--force', 'track again even if the output folder holds a finished run')
    .option('--no-video', 'do not write result.mp4')
    .option('--json', 'print a JSON summary')
    .action(trackCommand);

  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
